//! The one source of time for expiry logic (token `exp`/`nbf`, URL lifetimes), injectable so that
//! tests move time instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> SystemTime;
}

pub type SharedClock = Arc<dyn Clock>;

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// The wall clock shifted by an adjustable offset (tests).
#[derive(Debug, Default)]
pub struct OffsetClock {
    offset_secs: AtomicI64,
}

impl OffsetClock {
    /// Moves this clock `secs` seconds away from the wall clock (negative: into the past).
    pub fn set_offset_secs(&self, secs: i64) {
        self.offset_secs.store(secs, Ordering::SeqCst);
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> SystemTime {
        let offset = self.offset_secs.load(Ordering::SeqCst);
        let magnitude = Duration::from_secs(offset.unsigned_abs());
        let now = SystemTime::now();
        if offset >= 0 {
            now + magnitude
        } else {
            now - magnitude
        }
    }
}

/// Seconds since the Unix epoch (0 for times before it, which no clock here produces).
pub fn unix_secs(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_clock_moves_both_ways() {
        let clock = OffsetClock::default();
        let wall = unix_secs(SystemTime::now());
        clock.set_offset_secs(-3600);
        assert!((unix_secs(clock.now()) - (wall - 3600)).abs() <= 1);
        clock.set_offset_secs(60);
        assert!((unix_secs(clock.now()) - (wall + 60)).abs() <= 1);
    }
}
