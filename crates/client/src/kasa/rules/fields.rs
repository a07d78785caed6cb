//! Reading and writing the firmware's rule fields.

use serde_json::{json, Map, Value};

use super::{Days, RuleDate, RuleError};

/// A 0/1 (any non-zero number counts as 1) or boolean flag.
pub(crate) fn flag(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|x| x != 0),
        _ => None,
    }
}

/// Reading helpers for rule objects.
pub(crate) struct Fields<'a>(pub(crate) &'a Map<String, Value>);

impl Fields<'_> {
    /// An integer field, `default` when missing or null.
    pub(crate) fn int(&self, key: &'static str, default: i64) -> std::result::Result<i64, RuleError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => v
                .as_i64()
                .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 1e15).map(|f| f as i64))
                .ok_or_else(|| RuleError::Malformed { field: key, detail: format!("not an integer: {v}") }),
        }
    }

    /// A flag field, `default` when missing or null.
    pub(crate) fn flag(&self, key: &'static str, default: bool) -> std::result::Result<bool, RuleError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(v) => {
                flag(v).ok_or_else(|| RuleError::Malformed { field: key, detail: format!("not a flag: {v}") })
            }
        }
    }

    /// A string field, empty when missing.
    pub(crate) fn string(&self, key: &'static str) -> std::result::Result<String, RuleError> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v) => Err(RuleError::Malformed { field: key, detail: format!("not a string: {v}") }),
        }
    }

    /// The one-shot date of a rule that does not repeat, if it has a valid one.
    pub(crate) fn date(&self, repeat: bool) -> std::result::Result<Option<RuleDate>, RuleError> {
        if repeat {
            return Ok(None);
        }
        let (y, m, d) = (self.int("year", 0)?, self.int("month", 0)?, self.int("day", 0)?);
        Ok(i16::try_from(y)
            .ok()
            .zip(i8::try_from(m).ok())
            .zip(i8::try_from(d).ok())
            .and_then(|((y, m), d)| RuleDate::new(y, m, d)))
    }

    /// The fields not in `known`, kept to be written back on edit.
    pub(crate) fn extra(&self, known: &[&str]) -> Map<String, Value> {
        self.0
            .iter()
            .filter(|(k, _)| !known.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// Writes the `wday`/`repeat`/date fields: a one-shot rule with a date has only its date's
/// weekday in `wday` (as tplink-smarthome-api sends it); otherwise the date fields are 0.
pub(crate) fn put_days(out: &mut Map<String, Value>, days: Days, repeat: bool, date: Option<RuleDate>) {
    let (wday, repeat, y, m, d) = match date {
        Some(d) => (Days::only(d.weekday()), false, i64::from(d.year), i64::from(d.month), i64::from(d.day)),
        None => (days, repeat, 0, 0, 0),
    };
    out.insert("wday".into(), wday.to_wday());
    out.insert("repeat".into(), json!(u8::from(repeat)));
    out.insert("year".into(), json!(y));
    out.insert("month".into(), json!(m));
    out.insert("day".into(), json!(d));
}
