//! Rules the device runs on its own clock: schedules (`schedule`, kasa-protocol.md §8.6) and
//! away mode (`anti_theft`, §8.8).
//!
//! - The building blocks shared by both: [`Days`] (Sunday first, as `wday` is),
//!   [`TimeSpec`] (a clock time or sunrise/sunset with an offset), [`Action`], [`RuleDate`]
//!   (one-shot rules), with the human grammar that writes them (`mon-fri`, `07:30`, `-15m`,
//!   `sunset-30m`, `2030-01-05`) and [`RuleError`] for everything that does not parse or
//!   validate.
//! - [`Rules`]: list, add, edit, delete, clear, and switch a whole list on or off, on the
//!   device or on one strip outlet. It comes from
//!   [`KasaDevice::schedule`](super::KasaDevice::schedule) or
//!   [`KasaDevice::away`](super::KasaDevice::away); the rule types are
//!   [`ScheduleRule`](super::schedule::ScheduleRule) and [`AwayRule`](super::away::AwayRule).
//! - [`NextAction`]: the device's pending action (`next_action` in sysinfo).
//!
//! Reading is lenient the way firmware and other clients are varied: flags may be 0/1 or
//! booleans, missing fields take their defaults, and fields this crate does not model are
//! kept and written back on edit.
//!
//! Limits we chose where the firmware's are unverified: names up to [`MAX_NAME_BYTES`]
//! bytes, sun offsets within ±[`MAX_OFFSET_MIN`] minutes, one-shot dates from 2000 to 2099.

mod client;
mod days;
mod fields;
mod next;
mod time;

pub use client::Rules;
pub use days::{when_text, Days, RuleDate, DAY_NAMES};
pub(crate) use fields::{put_days, Fields};
pub use next::NextAction;
pub use time::{hhmm, offset_text, parse_offset, parse_time_of_day, span_text, Action, TimeSpec};

use serde_json::{Map, Value};

/// Longest rule name accepted, in UTF-8 bytes (our limit; the Kasa app's names are short).
pub const MAX_NAME_BYTES: usize = 32;
/// Largest sunrise/sunset offset accepted, in minutes (12 hours either way).
pub const MAX_OFFSET_MIN: i16 = 720;

/// A rule that does not parse or validate. The messages are complete sentences for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RuleError {
    /// Not a time of day.
    #[error("`{0}` is not a time of day; use HH:MM from 00:00 to 23:59 (e.g. 07:30)")]
    BadTime(String),
    /// Not a sunrise/sunset offset.
    #[error("`{0}` is not an offset; use minutes or hours with a sign, e.g. -15m, +1h, -1h30m")]
    BadOffset(String),
    /// An offset beyond the limit.
    #[error(
        "an offset of {0} minutes is too large; sunrise/sunset offsets are limited to ±12h (720 minutes)"
    )]
    OffsetTooLarge(i64),
    /// A word that names no day.
    #[error(
        "unknown day `{0}`; use mon, tue, wed, thu, fri, sat, sun, ranges like mon-fri, lists like mon,wed,fri, or weekdays, weekends, daily"
    )]
    BadDay(String),
    /// A repeating rule with no day.
    #[error("a repeating rule needs at least one day")]
    NoDays,
    /// Not a date.
    #[error("`{0}` is not a date; use YYYY-MM-DD between 2000-01-01 and 2099-12-31")]
    BadDate(String),
    /// A one-shot date before the device's today.
    #[error("{date} is in the past (it is {today} on the device)")]
    DateInPast {
        /// The rule's date.
        date: RuleDate,
        /// The device's date.
        today: RuleDate,
    },
    /// A one-shot time today that has already passed.
    #[error("{time} on {date} has already passed (it is {now} on the device)")]
    TimeInPast {
        /// The rule's date.
        date: RuleDate,
        /// The rule's time.
        time: String,
        /// The device's time.
        now: String,
    },
    /// A name over [`MAX_NAME_BYTES`].
    #[error("the name is {0} bytes long; rule names are limited to {MAX_NAME_BYTES} bytes")]
    NameTooLong(usize),
    /// An away window that starts when it ends.
    #[error("the away window is empty: it starts when it ends ({0})")]
    EmptyWindow(String),
    /// An away frequency out of range.
    #[error("frequency {0} is out of range; use 1 to {max}", max = super::away::MAX_FREQUENCY)]
    BadFrequency(i64),
    /// No rule has this id.
    #[error("no {what} with id `{id}`")]
    NoSuchRule {
        /// `schedule rule` or `away rule`.
        what: &'static str,
        /// The id as given.
        id: String,
    },
    /// An id prefix that matches several rules.
    #[error("`{id}` matches {count} {what}s; give more of the id")]
    AmbiguousId {
        /// `schedule rule` or `away rule`.
        what: &'static str,
        /// The prefix as given.
        id: String,
        /// How many rules it matches.
        count: usize,
    },
    /// A rule from the device with a field of the wrong type or value.
    #[error("malformed rule from the device: field `{field}`: {detail}")]
    Malformed {
        /// The field.
        field: &'static str,
        /// What is wrong.
        detail: String,
    },
}

/// The device's local date and time (from `time.get_time`), to validate one-shot rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalNow {
    /// Today on the device.
    pub date: RuleDate,
    /// Minutes after local midnight.
    pub minute: u16,
}

/// Checks a one-shot date (and, for a clock time, the time on that date) against the
/// device's `now`.
pub fn check_not_past(
    date: RuleDate,
    at: Option<u16>,
    now: Option<&LocalNow>,
) -> std::result::Result<(), RuleError> {
    let Some(now) = now else { return Ok(()) };
    if date < now.date {
        return Err(RuleError::DateInPast { date, today: now.date });
    }
    if let Some(m) = at.filter(|m| date == now.date && *m <= now.minute) {
        return Err(RuleError::TimeInPast { date, time: hhmm(m), now: hhmm(now.minute) });
    }
    Ok(())
}

/// Checks a rule name's length.
pub fn check_name(name: &str) -> std::result::Result<(), RuleError> {
    if name.len() > MAX_NAME_BYTES {
        return Err(RuleError::NameTooLong(name.len()));
    }
    Ok(())
}

/// A rule type kept in one of the device's rule modules.
pub trait DeviceRule: Sized + Clone {
    /// The module: `schedule` or `anti_theft`.
    const MODULE: &'static str;
    /// What people call one rule: `schedule rule`, `away rule`.
    const WHAT: &'static str;

    /// Reads a rule object from `get_rules`.
    fn from_firmware(obj: &Map<String, Value>) -> std::result::Result<Self, RuleError>;

    /// The `add_rule` parameters (without `id`).
    fn to_firmware(&self) -> Map<String, Value>;

    /// The rule id (empty for a rule not yet on the device).
    fn id(&self) -> &str;

    /// Structural checks (name, offsets, days, window); no clock needed.
    fn check(&self) -> std::result::Result<(), RuleError>;
}

/// A module's rules and its overall switch (`get_rules`).
#[derive(Debug, Clone, PartialEq)]
pub struct RuleList<R> {
    /// The module's overall `enable` (schedules on by default; away mode off).
    pub enabled: bool,
    /// The rules, in the device's order.
    pub rules: Vec<R>,
}

impl<R: DeviceRule> RuleList<R> {
    /// Finds a rule by full id or unique prefix (case-insensitive).
    pub fn find(&self, id: &str) -> std::result::Result<&R, RuleError> {
        let want = id.trim().to_ascii_uppercase();
        if let Some(r) = self.rules.iter().find(|r| r.id().eq_ignore_ascii_case(&want)) {
            return Ok(r);
        }
        let hits: Vec<&R> = self
            .rules
            .iter()
            .filter(|r| !want.is_empty() && r.id().to_ascii_uppercase().starts_with(&want))
            .collect();
        match hits.as_slice() {
            [one] => Ok(one),
            [] => Err(RuleError::NoSuchRule { what: R::WHAT, id: id.to_string() }),
            many => Err(RuleError::AmbiguousId { what: R::WHAT, id: id.to_string(), count: many.len() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!("2030-01-05".parse::<RuleDate>(), Ok(RuleDate { year: 2030, month: 1, day: 5 }));
        for bad in ["2030-02-30", "2030-1-5", "1999-12-31", "2100-01-01", "tomorrow", "2030-01-05x"] {
            assert!(bad.parse::<RuleDate>().is_err(), "{bad}");
        }
        let d = RuleDate { year: 2030, month: 1, day: 5 };
        assert_eq!(d.weekday(), 6, "a Saturday");
        assert_eq!(d.to_string(), "2030-01-05");
        let now = LocalNow { date: d, minute: 600 };
        assert!(check_not_past(d, Some(601), Some(&now)).is_ok());
        assert!(matches!(check_not_past(d, Some(600), Some(&now)), Err(RuleError::TimeInPast { .. })));
        assert!(check_not_past(d, None, Some(&now)).is_ok());
        let before = RuleDate { year: 2030, month: 1, day: 4 };
        assert!(matches!(check_not_past(before, None, Some(&now)), Err(RuleError::DateInPast { .. })));
        assert!(check_not_past(before, None, None).is_ok());
    }
}
