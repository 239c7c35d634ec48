//! The controls' state in this process: right for one replica and for tests. The decisions are
//! those of `admit.lua`, step for step.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, RwLock};

use super::{
    Check, LimitState, QuotaAnswer, QuotaCall, QuotaOp, SubjectState, Target, TargetKey, Verdict,
};
use crate::controls::gcra::Step;

/// Sweep expired rate-limit entries once the map holds this many.
const SWEEP_AT: usize = 100_000;

#[derive(Default)]
pub struct Memory {
    /// Rate-limit key → TAT (µs).
    limits: Mutex<Swept<u64>>,
    revocations: RwLock<Revocations>,
    /// Subject → session → lease end (µs).
    leases: Mutex<Swept<HashMap<String, u64>>>,
    quotas: Mutex<Quotas>,
    /// Subject → object key → when it was signed (s): uploads of unknown size not yet counted.
    pending: Mutex<HashMap<String, HashMap<String, i64>>>,
}

/// Upload quotas: usage by subject and window, reservations by upload; each with its end (µs).
#[derive(Default)]
struct Quotas {
    usage: Swept<(u64, u64)>,
    reservations: Swept<(Reservation, u64)>,
}

#[derive(Clone)]
enum Reservation {
    Held { usage: String, bytes: u64 },
    Settled,
}

/// A map swept of expired entries once it reaches `sweep_at`, which then doubles past what is
/// left: a map full of live entries is not swept on every request.
struct Swept<V> {
    map: HashMap<String, V>,
    sweep_at: usize,
}

impl<V> Default for Swept<V> {
    fn default() -> Self {
        Self {
            map: HashMap::new(),
            sweep_at: SWEEP_AT,
        }
    }
}

impl<V> Swept<V> {
    fn sweep(&mut self, live: impl FnMut(&V) -> bool) {
        let mut live = live;
        if self.map.len() >= self.sweep_at {
            self.map.retain(|_, v| live(v));
            self.sweep_at = SWEEP_AT.max(self.map.len().saturating_mul(2));
        }
    }
}

#[derive(Default)]
struct Revocations {
    subjects: HashMap<String, i64>,
    /// jti → until (s).
    tokens: HashMap<String, i64>,
    videos: HashMap<String, ()>,
}

/// Drops one entry once its end (the tuple's last field) has passed.
trait RemoveExpired {
    fn retain_expired(&mut self, key: &str, now: u64);
}

impl<V> RemoveExpired for HashMap<String, (V, u64)> {
    fn retain_expired(&mut self, key: &str, now: u64) {
        if self.get(key).is_some_and(|(_, until)| *until <= now) {
            self.remove(key);
        }
    }
}

/// A poisoned lock only means another request panicked while holding it; the maps stay
/// consistent (every update is one insert or remove), so keep using them.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Memory {
    pub fn check(&self, check: &Check<'_>) -> Verdict {
        let now = check.now_us;
        let mut states = Vec::with_capacity(check.limits.len());
        if !check.limits.is_empty() {
            let mut limits = lock(&self.limits);
            let mut next = Vec::with_capacity(check.limits.len());
            for (which, (key, gcra)) in check.limits.iter().enumerate() {
                let tat = limits
                    .map
                    .get(key.as_str())
                    .copied()
                    .filter(|&tat| tat > now);
                match gcra.step(tat, now) {
                    Step::Allow {
                        tat,
                        remaining,
                        reset_us,
                    } => {
                        next.push(tat);
                        states.push(LimitState {
                            remaining,
                            reset_us,
                        });
                    }
                    Step::Refuse { retry_us, reset_us } => {
                        return Verdict::RateLimited {
                            which,
                            retry_us,
                            reset_us,
                        };
                    }
                }
            }
            limits.sweep(|tat| *tat > now);
            for ((key, _), tat) in check.limits.iter().zip(next) {
                limits.map.insert(key.clone(), tat);
            }
        }

        if let Some(revocation) = &check.revocation {
            let revoked = self
                .revocations
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(&not_before) = revoked.subjects.get(revocation.subject)
                && revocation.issued_at.is_none_or(|iat| iat <= not_before)
            {
                return Verdict::SubjectRevoked;
            }
            let now_secs = i64::try_from(now / 1_000_000).unwrap_or(i64::MAX);
            if let Some(jti) = revocation.token_id
                && revoked
                    .tokens
                    .get(jti)
                    .is_some_and(|&until| until > now_secs)
            {
                return Verdict::TokenRevoked;
            }
            if let Some(video) = revocation.video
                && revoked.videos.contains_key(video)
            {
                return Verdict::VideoTakenDown;
            }
        }

        if let Some(lease) = &check.lease
            && lease.max > 0
        {
            let mut leases = lock(&self.leases);
            leases.sweep(|held| held.values().any(|until| *until > now));
            let held = leases.map.entry(lease.subject.to_owned()).or_default();
            held.retain(|_, until| *until > now);
            let full = held.len() >= lease.max as usize;
            match held.get_mut(lease.session) {
                Some(until) => *until = (*until).max(lease.until_us),
                None if full => {
                    let oldest = held.values().min().copied().unwrap_or(now);
                    return Verdict::TooManyStreams {
                        retry_us: oldest - now,
                    };
                }
                None => {
                    held.insert(lease.session.to_owned(), lease.until_us);
                }
            }
        }
        Verdict::Admitted(states)
    }

    pub fn revoke(&self, target: &Target, now_secs: i64) {
        let mut revoked = self
            .revocations
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match target {
            Target::Subject {
                subject,
                not_before,
            } => {
                revoked.subjects.insert(subject.clone(), *not_before);
            }
            Target::Token { token_id, until } => {
                revoked.tokens.retain(|_, until| *until > now_secs);
                revoked.tokens.insert(token_id.clone(), *until);
            }
            Target::Video { video } => {
                revoked.videos.insert(video.clone(), ());
            }
        }
    }

    pub fn unrevoke(&self, key: &TargetKey) -> bool {
        let mut revoked = self
            .revocations
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match key {
            TargetKey::Subject(s) => revoked.subjects.remove(s).is_some(),
            TargetKey::Token(j) => revoked.tokens.remove(j).is_some(),
            TargetKey::Video(v) => revoked.videos.remove(v).is_some(),
        }
    }

    pub fn is_revoked(&self, key: &TargetKey, now_secs: i64) -> bool {
        let revoked = self
            .revocations
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match key {
            TargetKey::Subject(s) => revoked.subjects.contains_key(s),
            TargetKey::Token(j) => revoked.tokens.get(j).is_some_and(|&u| u > now_secs),
            TargetKey::Video(v) => revoked.videos.contains_key(v),
        }
    }

    pub fn subject(&self, subject: &str, now_us: u64) -> SubjectState {
        let not_before = self
            .revocations
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .subjects
            .get(subject)
            .copied();
        let mut leases: Vec<(String, u64)> = lock(&self.leases)
            .map
            .get(subject)
            .map(|held| {
                held.iter()
                    .filter(|(_, until)| **until > now_us)
                    .map(|(s, u)| (s.clone(), *u))
                    .collect()
            })
            .unwrap_or_default();
        leases.sort();
        SubjectState { not_before, leases }
    }

    pub fn limit_tat(&self, key: &str) -> Option<u64> {
        lock(&self.limits).map.get(key).copied()
    }

    /// `quota.lua`, step for step.
    pub fn quota(&self, call: &QuotaCall<'_>) -> QuotaAnswer {
        let now = call.now_us;
        let mut quotas = lock(&self.quotas);
        // Expired entries read as absent; they are swept once the maps grow.
        quotas.usage.sweep(|(_, until)| *until > now);
        quotas.reservations.sweep(|(_, until)| *until > now);
        let Quotas {
            usage,
            reservations,
        } = &mut *quotas;
        let (usage, reservations) = (&mut usage.map, &mut reservations.map);
        usage.retain_expired(call.usage, now);
        reservations.retain_expired(call.reservation, now);
        let used = usage.get(call.usage).map_or(0, |(used, _)| *used);
        let answer = |done, used| QuotaAnswer { done, used };
        if call.op == QuotaOp::Used {
            return answer(true, used);
        }
        let reservation = reservations.get(call.reservation).map(|(r, _)| r.clone());
        let adjust = |usage: &mut HashMap<String, (u64, u64)>, key: &str, add: u64, sub: u64| {
            if let Some((used, _)) = usage.get_mut(key) {
                *used = (*used + add).saturating_sub(sub);
            }
        };
        let used_now = |usage: &HashMap<String, (u64, u64)>| {
            usage.get(call.usage).map_or(0, |(used, _)| *used)
        };
        match (call.op, reservation) {
            (QuotaOp::Reserve, Some(_)) => answer(true, used),
            (QuotaOp::Reserve, None) => {
                if used + call.bytes > call.quota {
                    return answer(false, used);
                }
                let entry = usage
                    .entry(call.usage.to_owned())
                    .or_insert((0, call.usage_until_us));
                *entry = (entry.0 + call.bytes, call.usage_until_us);
                reservations.insert(
                    call.reservation.to_owned(),
                    (
                        Reservation::Held {
                            usage: call.usage.to_owned(),
                            bytes: call.bytes,
                        },
                        call.reservation_until_us,
                    ),
                );
                answer(true, used + call.bytes)
            }
            (QuotaOp::Release, Some(Reservation::Held { usage: key, bytes })) => {
                adjust(usage, &key, 0, bytes);
                reservations.remove(call.reservation);
                answer(true, used_now(usage))
            }
            (QuotaOp::Release, _) => answer(true, used),
            (_, Some(Reservation::Settled)) => answer(true, used),
            (_, Some(Reservation::Held { usage: key, bytes })) => {
                adjust(usage, &key, call.bytes, bytes);
                reservations.insert(
                    call.reservation.to_owned(),
                    (Reservation::Settled, call.reservation_until_us),
                );
                answer(true, used_now(usage))
            }
            (QuotaOp::Add, None) => {
                let entry = usage
                    .entry(call.usage.to_owned())
                    .or_insert((0, call.usage_until_us));
                *entry = (entry.0 + call.bytes, call.usage_until_us);
                reservations.insert(
                    call.reservation.to_owned(),
                    (Reservation::Settled, call.reservation_until_us),
                );
                answer(true, used_now(usage))
            }
            (_, None) => {
                reservations.insert(
                    call.reservation.to_owned(),
                    (Reservation::Settled, call.reservation_until_us),
                );
                answer(true, used_now(usage))
            }
        }
    }

    pub fn pending_add(&self, subject: &str, key: &str, now_secs: i64, max: u32) -> bool {
        let mut pending = lock(&self.pending);
        let held = pending.entry(subject.to_owned()).or_default();
        if !held.contains_key(key) && held.len() >= max as usize {
            return false;
        }
        held.insert(key.to_owned(), now_secs);
        true
    }

    pub fn pending(&self, subject: &str) -> Vec<(String, i64)> {
        let mut list: Vec<(String, i64)> = lock(&self.pending)
            .get(subject)
            .map(|held| held.iter().map(|(k, t)| (k.clone(), *t)).collect())
            .unwrap_or_default();
        list.sort();
        list
    }

    pub fn pending_remove(&self, subject: &str, key: &str) {
        let mut pending = lock(&self.pending);
        if let Some(held) = pending.get_mut(subject) {
            held.remove(key);
            if held.is_empty() {
                pending.remove(subject);
            }
        }
    }

    pub fn end_lease(&self, subject: &str, session: &str) -> bool {
        lock(&self.leases)
            .map
            .get_mut(subject)
            .is_some_and(|held| held.remove(session).is_some())
    }
}
