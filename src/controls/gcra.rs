//! The generic cell rate algorithm (GCRA), as `governor` computes it: one stored instant per key,
//! the theoretical arrival time (TAT) of the next request.
//!
//! The memory backend calls [`Gcra::step`]; the Redis backend runs the same arithmetic in its
//! Lua script (`redis/admit.lua`), so that one replica and many agree. A unit test holds
//! [`Gcra::step`] to `governor`'s own limiter, and the API tests hold both backends to the same
//! answers. tollgate does not use `governor`'s limiter itself: it keeps its state where no other
//! process and no admin view could read it.

use super::settings::Rate;

/// A limit in microseconds: one request every `t`, `tau` more at once (`t × (burst − 1)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gcra {
    pub t: u64,
    pub tau: u64,
    /// What the `RateLimit-Policy` header advertises.
    pub quota: u32,
    pub window_secs: u64,
}

/// One request measured against a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Let through: store `tat`; `remaining` more fit at once; full again in `reset_us`.
    Allow {
        tat: u64,
        remaining: u32,
        reset_us: u64,
    },
    /// Refused: the next one fits in `retry_us`.
    Refuse { retry_us: u64, reset_us: u64 },
}

impl Gcra {
    /// `None` when the rate is off.
    pub fn from_rate(rate: &Rate) -> Option<Self> {
        if rate.is_off() {
            return None;
        }
        let period_us = rate.period_secs.saturating_mul(1_000_000);
        let t = (period_us / u64::from(rate.requests)).max(1);
        Some(Self {
            t,
            tau: t.saturating_mul(u64::from(rate.burst.max(1) - 1)),
            quota: rate.burst.max(1),
            window_secs: (t.saturating_mul(u64::from(rate.burst.max(1)))).div_ceil(1_000_000),
        })
    }

    /// The request at `now` against the stored TAT (`None`: never seen, or expired).
    pub fn step(&self, tat: Option<u64>, now: u64) -> Step {
        let tat = tat.unwrap_or(now);
        let earliest = tat.saturating_sub(self.tau);
        if now < earliest {
            return Step::Refuse {
                retry_us: earliest - now,
                reset_us: tat - now,
            };
        }
        let next = tat.max(now) + self.t;
        Step::Allow {
            tat: next,
            remaining: self.remaining(next, now),
            reset_us: next - now,
        }
    }

    /// How many more fit at `now` with `tat` stored, without taking one (the admin view).
    pub fn remaining(&self, tat: u64, now: u64) -> u32 {
        let room = (now + self.tau + self.t).saturating_sub(tat.max(now));
        u32::try_from(room.min(self.tau + self.t) / self.t).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;
    use std::time::Duration;

    use governor::clock::FakeRelativeClock;
    use governor::{Quota, RateLimiter};
    use proptest::prelude::*;

    use super::*;

    fn gcra(requests: u32, period_secs: u64, burst: u32) -> Gcra {
        Gcra::from_rate(&Rate {
            requests,
            period_secs,
            burst,
        })
        .unwrap()
    }

    #[test]
    fn a_burst_fits_then_one_request_per_interval() {
        let limit = gcra(10, 1, 3); // one per 100 ms, 3 at once
        let mut tat = None;
        for expected in [2, 1, 0] {
            match limit.step(tat, 0) {
                Step::Allow {
                    tat: t, remaining, ..
                } => {
                    assert_eq!(remaining, expected);
                    tat = Some(t);
                }
                refused => panic!("{refused:?}"),
            }
        }
        assert_eq!(
            limit.step(tat, 0),
            Step::Refuse {
                retry_us: 100_000,
                reset_us: 300_000
            }
        );
        assert!(matches!(limit.step(tat, 100_000), Step::Allow { .. }));
    }

    #[test]
    fn an_off_rate_has_no_limit() {
        assert_eq!(
            Gcra::from_rate(&Rate {
                requests: 0,
                period_secs: 60,
                burst: 1
            }),
            None
        );
    }

    proptest! {
        /// The same requests at the same instants, against governor's limiter: the same answers.
        #[test]
        fn agrees_with_governor(
            requests in 1u32..50,
            period_secs in 1u64..5,
            burst in 1u32..20,
            gaps in proptest::collection::vec(0u64..300_000, 1..200),
        ) {
            let ours = gcra(requests, period_secs, burst);
            let quota = Quota::with_period(Duration::from_micros(ours.t))
                .unwrap()
                .allow_burst(NonZeroU32::new(burst).unwrap());
            let clock = FakeRelativeClock::default();
            let theirs = RateLimiter::direct_with_clock(quota, clock.clone());
            let (mut tat, mut now) = (None, 0u64);
            for gap in gaps {
                now += gap;
                clock.advance(Duration::from_micros(gap));
                let step = ours.step(tat, now);
                let allowed = matches!(step, Step::Allow { .. });
                prop_assert_eq!(allowed, theirs.check().is_ok(), "at {} µs", now);
                if let Step::Allow { tat: next, .. } = step {
                    tat = Some(next);
                }
            }
        }
    }
}
