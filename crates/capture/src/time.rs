//! Capture timestamps: seconds and nanoseconds since the Unix epoch, printed as UTC
//! ISO-8601 with microseconds (`2024-05-01T12:00:00.123456Z`).

use std::fmt;

use serde::{Serialize, Serializer};

/// A point in time as recorded by the capture (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    secs: i64,
    nanos: u32,
}

impl Timestamp {
    /// The Unix epoch; used for packets a capture stores without a time (pcapng simple
    /// packet blocks).
    pub const EPOCH: Timestamp = Timestamp { secs: 0, nanos: 0 };

    /// A timestamp from seconds and nanoseconds since the epoch; nanoseconds ≥ 10⁹ carry
    /// into the seconds, and the result saturates instead of overflowing.
    pub fn new(secs: i64, nanos: u64) -> Self {
        let carry = i64::try_from(nanos / 1_000_000_000).unwrap_or(i64::MAX);
        Timestamp { secs: secs.saturating_add(carry), nanos: (nanos % 1_000_000_000) as u32 }
    }

    /// A timestamp from nanoseconds since the epoch, saturating at the `i64` seconds range.
    pub fn from_nanos(nanos: i128) -> Self {
        let secs = nanos.div_euclid(1_000_000_000);
        let frac = nanos.rem_euclid(1_000_000_000) as u32;
        match i64::try_from(secs) {
            Ok(secs) => Timestamp { secs, nanos: frac },
            Err(_) if secs < 0 => Timestamp { secs: i64::MIN, nanos: 0 },
            Err(_) => Timestamp { secs: i64::MAX, nanos: 999_999_999 },
        }
    }

    /// Whole seconds since the epoch.
    pub fn secs(&self) -> i64 {
        self.secs
    }

    /// Nanoseconds within the second (0..10⁹).
    pub fn subsec_nanos(&self) -> u32 {
        self.nanos
    }

    /// Nanoseconds since the epoch.
    pub fn as_nanos(&self) -> i128 {
        i128::from(self.secs) * 1_000_000_000 + i128::from(self.nanos)
    }

    /// Seconds from `earlier` to `self` (negative if `earlier` is later).
    pub fn seconds_since(&self, earlier: Timestamp) -> f64 {
        (self.as_nanos() - earlier.as_nanos()) as f64 / 1e9
    }
}

impl fmt::Display for Timestamp {
    /// UTC ISO-8601 with microseconds; times outside the years −9999…9999 print as
    /// `@<secs>.<µs>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let micros = self.nanos / 1000;
        match jiff::Timestamp::from_second(self.secs) {
            Ok(ts) => {
                let civil = ts.to_zoned(jiff::tz::TimeZone::UTC).datetime();
                write!(
                    f,
                    "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{micros:06}Z",
                    civil.year(),
                    civil.month(),
                    civil.day(),
                    civil.hour(),
                    civil.minute(),
                    civil.second()
                )
            }
            Err(_) => write!(f, "@{}.{micros:06}", self.secs),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_with_microseconds() {
        assert_eq!(Timestamp::EPOCH.to_string(), "1970-01-01T00:00:00.000000Z");
        assert_eq!(Timestamp::new(1_714_564_800, 123_456_789).to_string(), "2024-05-01T12:00:00.123456Z");
        assert_eq!(Timestamp::new(951_782_400, 0).to_string(), "2000-02-29T00:00:00.000000Z");
        assert_eq!(Timestamp::new(4_294_967_295, 999_999).to_string(), "2106-02-07T06:28:15.000999Z");
        assert_eq!(Timestamp::new(-1, 500_000_000).to_string(), "1969-12-31T23:59:59.500000Z");
        assert!(Timestamp::new(i64::MAX, u64::MAX).to_string().starts_with('@'));
        assert_eq!(Timestamp::new(0, 2_500_000_000), Timestamp::new(2, 500_000_000));
    }

    #[test]
    fn nanos_round_trip_and_saturate() {
        let t = Timestamp::new(1_714_564_800, 42);
        assert_eq!(Timestamp::from_nanos(t.as_nanos()), t);
        assert_eq!(Timestamp::from_nanos(-1).to_string(), "1969-12-31T23:59:59.999999Z");
        assert_eq!(Timestamp::from_nanos(i128::MAX).secs(), i64::MAX);
        assert_eq!(Timestamp::from_nanos(i128::MIN).secs(), i64::MIN);
        assert!((Timestamp::new(1, 500_000_000).seconds_since(Timestamp::new(1, 0)) - 0.5).abs() < 1e-9);
    }
}
