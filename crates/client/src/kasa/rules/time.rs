//! Times of day, sunrise/sunset offsets and actions, with their grammar.

use std::{fmt, str::FromStr};

use serde::Serialize;

use super::{RuleError, MAX_OFFSET_MIN};

/// When a rule acts: a clock time, or sunrise/sunset shifted by an offset in minutes.
///
/// Firmware fields (`s`/`e` prefix for start/end): `*time_opt` 0 with `*min` = minutes after
/// local midnight; `*time_opt` 1 (sunrise) or 2 (sunset) with `*offset` = minutes
/// (negative = before). Parses and prints `07:30`, `sunrise`, `sunset-15m`, `sunrise+1h30m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSpec {
    /// Minutes after local midnight, 0–1439.
    At(u16),
    /// Sunrise plus an offset in minutes.
    Sunrise(i16),
    /// Sunset plus an offset in minutes.
    Sunset(i16),
}

impl TimeSpec {
    /// The firmware's `(time_opt, min, offset)`. Sun times send `min` 0: the device computes
    /// them from its location (as tplink-smarthome-api does).
    pub fn to_firmware(&self) -> (i64, i64, i64) {
        match *self {
            TimeSpec::At(m) => (0, i64::from(m), 0),
            TimeSpec::Sunrise(o) => (1, 0, i64::from(o)),
            TimeSpec::Sunset(o) => (2, 0, i64::from(o)),
        }
    }

    /// From the firmware's `(time_opt, min, offset)`; `None` for `time_opt` −1 (no time).
    pub fn from_firmware(
        opt: i64,
        min: i64,
        offset: i64,
    ) -> std::result::Result<Option<TimeSpec>, RuleError> {
        let off = || {
            i16::try_from(offset)
                .map_err(|_| RuleError::Malformed { field: "offset", detail: format!("{offset} minutes") })
        };
        Ok(Some(match opt {
            -1 => return Ok(None),
            0 => TimeSpec::At(u16::try_from(min.clamp(0, 1439)).unwrap_or(0)),
            1 => TimeSpec::Sunrise(off()?),
            2 => TimeSpec::Sunset(off()?),
            other => {
                return Err(RuleError::Malformed {
                    field: "time_opt",
                    detail: format!("unknown value {other}"),
                })
            }
        }))
    }

    /// The sun offset (0 for clock times).
    pub fn offset(&self) -> i16 {
        match *self {
            TimeSpec::At(_) => 0,
            TimeSpec::Sunrise(o) | TimeSpec::Sunset(o) => o,
        }
    }

    /// The same sun event with another offset (clock times are unchanged).
    pub fn with_offset(self, offset: i16) -> TimeSpec {
        match self {
            TimeSpec::At(m) => TimeSpec::At(m),
            TimeSpec::Sunrise(_) => TimeSpec::Sunrise(offset),
            TimeSpec::Sunset(_) => TimeSpec::Sunset(offset),
        }
    }

    /// Checks the offset limit.
    pub fn check(&self) -> std::result::Result<(), RuleError> {
        if self.offset().unsigned_abs() > MAX_OFFSET_MIN.unsigned_abs() {
            return Err(RuleError::OffsetTooLarge(i64::from(self.offset())));
        }
        Ok(())
    }
}

impl FromStr for TimeSpec {
    type Err = RuleError;

    fn from_str(s: &str) -> std::result::Result<TimeSpec, RuleError> {
        let t = s.trim().to_ascii_lowercase();
        for (word, make) in
            [("sunrise", TimeSpec::Sunrise as fn(i16) -> TimeSpec), ("sunset", TimeSpec::Sunset)]
        {
            if let Some(rest) = t.strip_prefix(word) {
                let offset = if rest.is_empty() { 0 } else { parse_offset(rest)? };
                return Ok(make(offset));
            }
        }
        parse_time_of_day(&t).map(TimeSpec::At)
    }
}

impl fmt::Display for TimeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TimeSpec::At(m) => f.write_str(&hhmm(m)),
            TimeSpec::Sunrise(o) => write!(f, "sunrise{}", offset_text(o)),
            TimeSpec::Sunset(o) => write!(f, "sunset{}", offset_text(o)),
        }
    }
}

/// A span between two times for people: `18:00-23:30`, or `sunset-30m to 01:00` when a sun
/// time would make the dash ambiguous.
pub fn span_text(from: TimeSpec, to: TimeSpec) -> String {
    match (from, to) {
        (TimeSpec::At(_), TimeSpec::At(_)) => format!("{from}-{to}"),
        _ => format!("{from} to {to}"),
    }
}

/// Minutes after midnight as `HH:MM`.
pub fn hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60 % 24, minutes % 60)
}

/// An offset as `+1h30m`, `-15m`, or nothing for 0.
pub fn offset_text(minutes: i16) -> String {
    if minutes == 0 {
        return String::new();
    }
    let sign = if minutes < 0 { '-' } else { '+' };
    let m = minutes.unsigned_abs();
    match (m / 60, m % 60) {
        (0, r) => format!("{sign}{r}m"),
        (h, 0) => format!("{sign}{h}h"),
        (h, r) => format!("{sign}{h}h{r}m"),
    }
}

/// Parses `HH:MM` (or `H:MM`) into minutes after midnight.
pub fn parse_time_of_day(s: &str) -> std::result::Result<u16, RuleError> {
    let bad = || RuleError::BadTime(s.trim().to_string());
    let (h, m) = s.trim().split_once(':').ok_or_else(bad)?;
    let digits = |p: &str, max_len: usize| {
        (!p.is_empty() && p.len() <= max_len && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<u16>().ok())
            .flatten()
    };
    let h = digits(h, 2).filter(|h| *h < 24).ok_or_else(bad)?;
    let m = digits(m, 2).filter(|v| *v < 60 && m.len() == 2).ok_or_else(bad)?;
    Ok(h * 60 + m)
}

/// Parses a signed offset: `-15m`, `+1h`, `-1h30m`, `90m`, `0`. Beyond ±[`MAX_OFFSET_MIN`]
/// is [`RuleError::OffsetTooLarge`].
pub fn parse_offset(s: &str) -> std::result::Result<i16, RuleError> {
    let t = s.trim().to_ascii_lowercase();
    let bad = || RuleError::BadOffset(s.trim().to_string());
    if t == "0" {
        return Ok(0);
    }
    let (neg, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(&t)),
    };
    let (mut total, mut num, mut any) = (0i64, String::new(), false);
    for c in body.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let unit = match c {
            'm' => 1,
            'h' => 60,
            _ => return Err(bad()),
        };
        if num.is_empty() || num.len() > 6 {
            return Err(bad());
        }
        total += num.parse::<i64>().map_err(|_| bad())? * unit;
        num.clear();
        any = true;
    }
    if !num.is_empty() || !any {
        return Err(bad());
    }
    let total = if neg { -total } else { total };
    if total.abs() > i64::from(MAX_OFFSET_MIN) {
        return Err(RuleError::OffsetTooLarge(total));
    }
    i16::try_from(total).map_err(|_| RuleError::OffsetTooLarge(total))
}

/// What a rule does to the relay (`sact`/`eact`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// 0: switch off.
    Off,
    /// 1: switch on.
    On,
    /// Any other code as the device reported it (−1 none, 3 dimmer level, …).
    Other(i64),
}

impl Action {
    /// The firmware code.
    pub fn code(&self) -> i64 {
        match *self {
            Action::Off => 0,
            Action::On => 1,
            Action::Other(c) => c,
        }
    }

    /// From a firmware code.
    pub fn from_code(code: i64) -> Action {
        match code {
            0 => Action::Off,
            1 => Action::On,
            c => Action::Other(c),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Action::Off => f.write_str("off"),
            Action::On => f.write_str("on"),
            Action::Other(-1) => f.write_str("none"),
            Action::Other(3) => f.write_str("dim"),
            Action::Other(c) => write!(f, "action {c}"),
        }
    }
}

impl Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_offsets() {
        assert_eq!(parse_time_of_day("07:30"), Ok(450));
        assert_eq!(parse_time_of_day("7:05"), Ok(425));
        assert_eq!(parse_time_of_day("23:59"), Ok(1439));
        assert_eq!(parse_time_of_day("00:00"), Ok(0));
        for bad in ["24:00", "7:60", "7", "07:5", "7h30", "", "-1:00", "07:300", "a:b"] {
            assert!(parse_time_of_day(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_offset("-15m"), Ok(-15));
        assert_eq!(parse_offset("+1h"), Ok(60));
        assert_eq!(parse_offset("1h30m"), Ok(90));
        assert_eq!(parse_offset("-12h"), Ok(-720));
        assert_eq!(parse_offset("0"), Ok(0));
        assert_eq!(parse_offset("12h1m"), Err(RuleError::OffsetTooLarge(721)));
        for bad in ["15", "m", "-", "1x", "", "--5m", "1.5h"] {
            assert!(matches!(parse_offset(bad), Err(RuleError::BadOffset(_))), "{bad}");
        }
    }

    #[test]
    fn time_specs() {
        assert_eq!("07:30".parse::<TimeSpec>(), Ok(TimeSpec::At(450)));
        assert_eq!("sunset-15m".parse::<TimeSpec>(), Ok(TimeSpec::Sunset(-15)));
        assert_eq!("Sunrise".parse::<TimeSpec>(), Ok(TimeSpec::Sunrise(0)));
        assert_eq!("sunrise+1h30m".parse::<TimeSpec>(), Ok(TimeSpec::Sunrise(90)));
        assert!("sunset15".parse::<TimeSpec>().is_err());
        for t in [TimeSpec::At(450), TimeSpec::Sunset(-15), TimeSpec::Sunrise(0), TimeSpec::Sunrise(90)] {
            assert_eq!(t.to_string().parse::<TimeSpec>(), Ok(t));
        }
        assert_eq!(TimeSpec::Sunset(-15).to_firmware(), (2, 0, -15));
        assert_eq!(TimeSpec::from_firmware(1, 504, 0), Ok(Some(TimeSpec::Sunrise(0))));
        assert_eq!(TimeSpec::from_firmware(-1, 0, 0), Ok(None));
        assert!(TimeSpec::from_firmware(7, 0, 0).is_err());
        assert!(TimeSpec::Sunset(721).check().is_err());
    }
}
