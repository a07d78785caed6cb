//! Days of the week and one-shot dates, with their grammar.

use std::{fmt, str::FromStr};

use serde_json::{json, Value};

use super::{fields::flag, RuleError};

/// Day names, Sunday first (the order of the firmware's `wday`).
pub const DAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const FULL_DAY_NAMES: [&str; 7] =
    ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

/// Days of the week a rule runs on, Sunday first (index 0 = Sunday, as the firmware's
/// `wday`).
///
/// Parses `mon-fri`, `weekdays`, `weekends`, `daily`, `mon,wed,fri`, ranges that wrap
/// (`fri-mon`) and full names (`monday`); prints the shortest of those forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Days(pub [bool; 7]);

impl Days {
    /// Every day.
    pub const DAILY: Days = Days([true; 7]);
    /// Monday to Friday.
    pub const WEEKDAYS: Days = Days([false, true, true, true, true, true, false]);
    /// Saturday and Sunday.
    pub const WEEKENDS: Days = Days([true, false, false, false, false, false, true]);

    /// Only the given day (0 = Sunday).
    pub fn only(weekday: usize) -> Days {
        let mut d = [false; 7];
        if let Some(x) = d.get_mut(weekday) {
            *x = true;
        }
        Days(d)
    }

    /// Whether no day is set.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|d| !d)
    }

    /// The names of the set days, Monday first (`["mon","tue"]`).
    pub fn names(&self) -> Vec<&'static str> {
        monday_first().filter(|i| self.0[*i]).map(|i| DAY_NAMES[i]).collect()
    }

    /// The firmware's `wday` array of 0/1.
    pub fn to_wday(&self) -> Value {
        Value::Array(self.0.iter().map(|d| json!(u8::from(*d))).collect())
    }

    /// Reads a `wday` array (0/1 or booleans); missing means no day.
    pub fn from_wday(v: Option<&Value>) -> std::result::Result<Days, RuleError> {
        let Some(v) = v.filter(|v| !v.is_null()) else { return Ok(Days::default()) };
        let bad = || RuleError::Malformed { field: "wday", detail: format!("expected 7 flags, got {v}") };
        let list = v.as_array().filter(|l| l.len() == 7).ok_or_else(bad)?;
        let mut d = [false; 7];
        for (slot, x) in d.iter_mut().zip(list) {
            *slot = flag(x).ok_or_else(bad)?;
        }
        Ok(Days(d))
    }
}

/// Day indices in Monday-first order.
fn monday_first() -> impl Iterator<Item = usize> {
    (1..7).chain(std::iter::once(0))
}

fn day_index(word: &str) -> Option<usize> {
    let w = word.trim().to_ascii_lowercase();
    if w.len() < 2 {
        return None;
    }
    if let Some(i) = DAY_NAMES.iter().position(|d| *d == w) {
        return Some(i);
    }
    let matches: Vec<usize> = (0..7).filter(|i| FULL_DAY_NAMES[*i].starts_with(&w)).collect();
    match matches.as_slice() {
        [i] => Some(*i),
        _ => None,
    }
}

impl FromStr for Days {
    type Err = RuleError;

    fn from_str(s: &str) -> std::result::Result<Days, RuleError> {
        let mut d = [false; 7];
        if s.trim().is_empty() {
            return Err(RuleError::BadDay(s.to_string()));
        }
        for part in s.split(',') {
            let p = part.trim().to_ascii_lowercase();
            let set: Days = match p.as_str() {
                "daily" | "everyday" | "every-day" | "all" => Days::DAILY,
                "weekdays" | "weekday" | "workdays" => Days::WEEKDAYS,
                "weekends" | "weekend" => Days::WEEKENDS,
                _ => match p.split_once('-') {
                    Some((a, b)) => {
                        let a = day_index(a).ok_or_else(|| RuleError::BadDay(a.trim().to_string()))?;
                        let b = day_index(b).ok_or_else(|| RuleError::BadDay(b.trim().to_string()))?;
                        let mut r = [false; 7];
                        let mut i = a;
                        loop {
                            r[i] = true;
                            if i == b {
                                break;
                            }
                            i = (i + 1) % 7;
                        }
                        Days(r)
                    }
                    None => {
                        Days::only(day_index(&p).ok_or_else(|| RuleError::BadDay(part.trim().to_string()))?)
                    }
                },
            };
            for (x, y) in d.iter_mut().zip(set.0) {
                *x |= y;
            }
        }
        Ok(Days(d))
    }
}

impl fmt::Display for Days {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Days::DAILY {
            return f.write_str("daily");
        }
        if self.is_empty() {
            return f.write_str("never");
        }
        let order: Vec<usize> = monday_first().collect();
        let mut parts = Vec::new();
        let mut k = 0;
        while k < order.len() {
            if !self.0[order[k]] {
                k += 1;
                continue;
            }
            let mut end = k;
            while end + 1 < order.len() && self.0[order[end + 1]] {
                end += 1;
            }
            if end - k >= 2 {
                parts.push(format!("{}-{}", DAY_NAMES[order[k]], DAY_NAMES[order[end]]));
            } else {
                parts.extend((k..=end).map(|j| DAY_NAMES[order[j]].to_string()));
            }
            k = end + 1;
        }
        f.write_str(&parts.join(","))
    }
}

/// A calendar date of a one-shot rule (the firmware's `year`/`month`/`day`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleDate {
    /// Year, 2000–2099.
    pub year: i16,
    /// Month, 1–12.
    pub month: i8,
    /// Day of the month, 1–31.
    pub day: i8,
}

impl RuleDate {
    /// A date, if it exists and lies in 2000–2099.
    pub fn new(year: i16, month: i8, day: i8) -> Option<RuleDate> {
        jiff::civil::Date::new(year, month, day).ok().filter(|_| (2000..=2099).contains(&year))?;
        Some(RuleDate { year, month, day })
    }

    /// The weekday, 0 = Sunday.
    pub fn weekday(&self) -> usize {
        jiff::civil::Date::new(self.year, self.month, self.day)
            .map(|d| usize::try_from(d.weekday().to_sunday_zero_offset()).unwrap_or(0))
            .unwrap_or(0)
    }
}

impl FromStr for RuleDate {
    type Err = RuleError;

    fn from_str(s: &str) -> std::result::Result<RuleDate, RuleError> {
        let bad = || RuleError::BadDate(s.to_string());
        let mut it = s.trim().splitn(3, '-');
        let mut num = |len: usize| -> std::result::Result<i16, RuleError> {
            let p = it.next().ok_or_else(bad)?;
            if p.len() != len || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            p.parse().map_err(|_| bad())
        };
        let (y, m, d) = (num(4)?, num(2)?, num(2)?);
        let m = i8::try_from(m).map_err(|_| bad())?;
        let d = i8::try_from(d).map_err(|_| bad())?;
        RuleDate::new(y, m, d).ok_or_else(bad)
    }
}

impl fmt::Display for RuleDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// When a rule runs, for people: `mon-fri`, `daily`, `once on 2030-01-05`, `once (sat)`.
pub fn when_text(days: Days, repeat: bool, date: Option<RuleDate>) -> String {
    match (date, repeat) {
        (Some(d), _) => format!("once on {d}"),
        (None, true) => days.to_string(),
        (None, false) if days.is_empty() => "once".to_string(),
        (None, false) => format!("once ({days})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_grammar() {
        let p = |s: &str| s.parse::<Days>();
        assert_eq!(p("mon-fri"), Ok(Days::WEEKDAYS));
        assert_eq!(p("weekdays"), Ok(Days::WEEKDAYS));
        assert_eq!(p("Weekends"), Ok(Days::WEEKENDS));
        assert_eq!(p("daily"), Ok(Days::DAILY));
        assert_eq!(p("mon,wed,fri"), Ok(Days([false, true, false, true, false, true, false])));
        assert_eq!(p("fri-mon"), Ok(Days([true, true, false, false, false, true, true])));
        assert_eq!(p("monday, Tuesday"), Ok(Days([false, true, true, false, false, false, false])));
        assert_eq!(p("sun"), Ok(Days::only(0)));
        assert_eq!(p("thurs"), Ok(Days::only(4)));
        assert_eq!(p("mo-fr"), Ok(Days::WEEKDAYS));
        assert_eq!(p("mon,funday"), Err(RuleError::BadDay("funday".into())));
        assert_eq!(p("t"), Err(RuleError::BadDay("t".into())));
        assert_eq!(p("tu-"), Err(RuleError::BadDay("".into())));
        assert!(p("").is_err());
        assert!(p("s").is_err(), "ambiguous: sat or sun");
    }

    #[test]
    fn days_print_round_trips() {
        for (d, text) in [
            (Days::DAILY, "daily"),
            (Days::WEEKDAYS, "mon-fri"),
            (Days::WEEKENDS, "sat,sun"),
            (Days([false, true, false, true, false, true, false]), "mon,wed,fri"),
            (Days([true, true, true, false, false, false, true]), "mon,tue,sat,sun"),
            (Days([true, false, false, false, true, true, true]), "thu-sun"),
            (Days::default(), "never"),
        ] {
            assert_eq!(d.to_string(), text);
            if text != "never" {
                assert_eq!(text.parse::<Days>(), Ok(d));
            }
        }
        assert_eq!(Days::WEEKDAYS.names(), ["mon", "tue", "wed", "thu", "fri"]);
        assert_eq!(Days::WEEKDAYS.to_wday(), json!([0, 1, 1, 1, 1, 1, 0]));
    }

    #[test]
    fn wday_reading_accepts_booleans() {
        let d = Days::from_wday(Some(&json!([false, true, 1, 0, 0, 0, true]))).unwrap();
        assert_eq!(d, Days([false, true, true, false, false, false, true]));
        assert_eq!(Days::from_wday(None), Ok(Days::default()));
        assert!(Days::from_wday(Some(&json!([1, 1]))).is_err());
        assert!(Days::from_wday(Some(&json!("mon"))).is_err());
    }
}
