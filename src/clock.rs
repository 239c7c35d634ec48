//! The one source of time for expiry logic (token `exp`/`nbf`, URL lifetimes), injectable so that
//! tests move time instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use time::OffsetDateTime;

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

/// `secs` seconds from the epoch (before it when negative), if `SystemTime` can hold it: the
/// inverse of [`unix_secs`].
pub fn from_unix_secs(secs: i64) -> Option<SystemTime> {
    let far = Duration::from_secs(secs.unsigned_abs());
    if secs >= 0 {
        SystemTime::UNIX_EPOCH.checked_add(far)
    } else {
        SystemTime::UNIX_EPOCH.checked_sub(far)
    }
}

/// `at` in UTC to the whole second (rounded down), if time can hold it (years -9999 to 9999).
fn utc(at: SystemTime) -> Option<OffsetDateTime> {
    let secs = match at.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).ok()?,
        Err(before) => {
            let before = before.duration();
            let whole = i64::try_from(before.as_secs()).ok()?;
            if before.subsec_nanos() == 0 {
                -whole
            } else {
                -whole - 1
            }
        }
    };
    OffsetDateTime::from_unix_timestamp(secs).ok()
}

/// `YYYY-MM-DDTHH:MM:SS` of `at` in UTC, written digit by digit: time's formatter is generic,
/// and this runs for every URL handed out and every JSON log line. `None` outside the years 0 to
/// 9999.
pub fn civil_seconds(at: SystemTime) -> Option<[u8; 19]> {
    let t = utc(at)?;
    let (year, month, day) = t.to_calendar_date();
    let year = u16::try_from(year).ok().filter(|&year| year <= 9999)?;
    let mut text = *b"0000-00-00T00:00:00";
    let mut put = |at: usize, value: u16, width: usize| {
        let mut value = value;
        for i in (at..at + width).rev() {
            // A digit: always below 10.
            text[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    let (hour, minute, second) = t.to_hms();
    put(0, year, 4);
    put(5, u16::from(u8::from(month)), 2);
    put(8, u16::from(day), 2);
    put(11, u16::from(hour), 2);
    put(14, u16::from(minute), 2);
    put(17, u16::from(second), 2);
    Some(text)
}

/// RFC 3339, UTC, whole seconds: `2026-12-01T04:05:06Z`; `None` outside the years 0 to 9999,
/// which RFC 3339 cannot write.
pub fn rfc3339(at: SystemTime) -> Option<String> {
    let text = civil_seconds(at)?;
    let mut rfc3339 = String::with_capacity(20);
    // Digits, dashes, colons and a `T`: ASCII, always UTF-8.
    rfc3339.push_str(std::str::from_utf8(&text).ok()?);
    rfc3339.push('Z');
    Some(rfc3339)
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use proptest::prelude::*;

    use super::*;
    use time::format_description::well_known::Rfc3339;

    proptest! {
        /// The digits written by hand are time's RFC 3339 over all the years time handles
        /// (-9999 to 9999, of which RFC 3339 writes 0 to 9999), before and after the epoch, with
        /// any fraction of a second dropped; and never a panic, however far from the epoch.
        #[test]
        fn rfc3339_is_times(
            secs in -377_705_116_800_i64..253_402_300_800,
            nanos in 0u32..1_000_000_000,
        ) {
            let at = if secs >= 0 {
                UNIX_EPOCH + Duration::new(secs.unsigned_abs(), nanos)
            } else {
                UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs()) + Duration::from_nanos(u64::from(nanos))
            };
            let by_time = OffsetDateTime::from(at)
                .replace_nanosecond(0)
                .ok()
                .and_then(|t| t.format(&Rfc3339).ok());
            prop_assert_eq!(rfc3339(at), by_time);
        }

        #[test]
        fn rfc3339_never_panics(secs in any::<i64>()) {
            if let Some(at) = from_unix_secs(secs) {
                let _ = rfc3339(at);
                if secs >= 0 {
                    prop_assert_eq!(unix_secs(at), secs);
                }
            }
        }
    }

    #[test]
    fn rfc3339_examples() {
        let rfc3339 = |at| rfc3339(at).unwrap_or_else(|| "none".to_owned());
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH - Duration::from_millis(500)),
            "1969-12-31T23:59:59Z"
        );
        // Before the year 0 and past 9999: none, not a panic.
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(253_402_300_800)),
            "none"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH - Duration::from_secs(62_167_219_201)),
            "none"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH - Duration::from_secs(62_167_219_200)),
            "0000-01-01T00:00:00Z"
        );
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_millis(1_796_094_306_999)),
            "2026-12-01T03:05:06Z"
        );
    }

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
