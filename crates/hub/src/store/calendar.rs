//! Local days and months (the hub's time zone, DST handled by jiff).

use jiff::{tz::TimeZone, Timestamp, Zoned};

use super::error::{Error, Result};

/// Day and month boundaries in one time zone.
#[derive(Debug, Clone)]
pub(crate) struct Calendar {
    tz: TimeZone,
}

/// A half-open span of time `[start_ms, end_ms)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    /// First millisecond.
    pub start_ms: i64,
    /// First millisecond after.
    pub end_ms: i64,
}

impl Span {
    /// Whether `t_ms` is inside.
    pub(crate) fn contains(&self, t_ms: i64) -> bool {
        self.start_ms <= t_ms && t_ms < self.end_ms
    }
}

impl Calendar {
    /// A calendar in `tz`.
    pub(crate) fn new(tz: TimeZone) -> Self {
        Self { tz }
    }

    fn zoned(&self, t_ms: i64) -> Result<Zoned> {
        Ok(Timestamp::from_millisecond(t_ms).map_err(|_| Error::Time(t_ms))?.to_zoned(self.tz.clone()))
    }

    /// The local day containing `t_ms` (23 or 25 hours long on DST days).
    pub(crate) fn day(&self, t_ms: i64) -> Result<Span> {
        let z = self.zoned(t_ms)?;
        let start = z.start_of_day().map_err(|_| Error::Time(t_ms))?;
        let end = z.tomorrow().and_then(|d| d.start_of_day()).map_err(|_| Error::Time(t_ms))?;
        Ok(Span { start_ms: start.timestamp().as_millisecond(), end_ms: end.timestamp().as_millisecond() })
    }

    /// The local month containing `t_ms`.
    pub(crate) fn month(&self, t_ms: i64) -> Result<Span> {
        let z = self.zoned(t_ms)?;
        let start = z.first_of_month().and_then(|d| d.start_of_day()).map_err(|_| Error::Time(t_ms))?;
        let end = z
            .last_of_month()
            .and_then(|d| d.tomorrow())
            .and_then(|d| d.start_of_day())
            .map_err(|_| Error::Time(t_ms))?;
        Ok(Span { start_ms: start.timestamp().as_millisecond(), end_ms: end.timestamp().as_millisecond() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(s: &str) -> i64 {
        s.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn days_follow_dst_and_months_their_length() {
        let cal = Calendar::new(TimeZone::get("Europe/Berlin").unwrap());
        // 2026-03-29: clocks go forward, the day has 23 hours.
        let d = cal.day(ms("2026-03-29T12:00:00Z")).unwrap();
        assert_eq!(d.start_ms, ms("2026-03-28T23:00:00Z"));
        assert_eq!(d.end_ms - d.start_ms, 23 * 3_600_000);
        let m = cal.month(ms("2026-02-10T00:00:00Z")).unwrap();
        assert_eq!(m.start_ms, ms("2026-01-31T23:00:00Z"));
        assert_eq!(m.end_ms, ms("2026-02-28T23:00:00Z"));
        assert!(m.contains(m.start_ms) && !m.contains(m.end_ms));
    }

    #[test]
    fn out_of_range_is_an_error() {
        let cal = Calendar::new(TimeZone::UTC);
        assert!(cal.day(i64::MAX).is_err());
    }
}
