//! Rule lists of the `schedule`, `anti_theft` and `count_down` modules (kasa-protocol.md
//! §8.6–8.8): storage, validation and rendering. Rules fire on the simulated clock (see
//! `events.rs`).
//!
//! Validation (our choices where the firmware's limits are unverified): integer fields must
//! be integers, flags 0/1 or booleans, `wday` seven flags; `stime_opt`/`etime_opt` −1…2,
//! `sact`/`eact` −1…3, `smin`/`emin` −1…1439, `soffset`/`eoffset` within ±1440 minutes,
//! `day` 0…31, `month` 0…12, `year` 0…9999, `frequency` 0…255, `delay` ≥ 0, names up to
//! [`MAX_NAME_BYTES`] bytes. Anything else is -3 `invalid argument`.

use serde_json::{json, Map, Value};

/// Which module a rule list belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RuleKind {
    /// `schedule`.
    Schedule,
    /// `anti_theft` (away mode).
    AntiTheft,
    /// `count_down` (timer; at most one rule).
    CountDown,
}

/// Rule fields that must be integers when present.
const INT_FIELDS: &[&str] = &[
    "sact",
    "eact",
    "stime_opt",
    "etime_opt",
    "smin",
    "emin",
    "soffset",
    "eoffset",
    "day",
    "month",
    "year",
    "force",
    "frequency",
    "duration",
    "lastfor",
    "delay",
    "act",
    "s_light",
];
/// Rule fields that are 0/1 flags (booleans accepted, as tplink-smarthome-api sends them).
const FLAG_FIELDS: &[&str] = &["enable", "repeat"];
/// Rule fields that must be numbers when present.
const NUMBER_FIELDS: &[&str] = &["latitude", "longitude"];

/// Longest rule name accepted, in bytes (the same cap as aliases; the firmware's own limit
/// is unverified).
pub(crate) const MAX_NAME_BYTES: usize = 128;

/// Allowed ranges of integer rule fields.
const RANGES: &[(&str, i64, i64)] = &[
    ("stime_opt", -1, 2),
    ("etime_opt", -1, 2),
    ("sact", -1, 3),
    ("eact", -1, 3),
    ("smin", -1, 1439),
    ("emin", -1, 1439),
    ("soffset", -1440, 1440),
    ("eoffset", -1440, 1440),
    ("day", 0, 31),
    ("month", 0, 12),
    ("year", 0, 9999),
    ("frequency", 0, 255),
    ("delay", 0, i64::MAX),
];

/// One stored rule.
#[derive(Debug, Clone)]
pub(crate) struct Rule {
    pub(crate) id: String,
    pub(crate) body: Map<String, Value>,
    /// Simulated second the count-down was (re)armed.
    pub(crate) armed_at: f64,
}

impl Rule {
    pub(crate) fn enabled(&self) -> bool {
        self.body.get("enable").and_then(Value::as_i64) == Some(1)
    }

    /// An integer field.
    pub(crate) fn int(&self, key: &str) -> Option<i64> {
        self.body.get(key).and_then(Value::as_i64)
    }

    /// `wday`, Sunday first (all false if missing).
    pub(crate) fn wday(&self) -> [bool; 7] {
        let mut days = [false; 7];
        if let Some(list) = self.body.get("wday").and_then(Value::as_array) {
            for (d, v) in days.iter_mut().zip(list) {
                *d = v.as_i64() == Some(1);
            }
        }
        days
    }

    /// `repeat` (true if missing).
    pub(crate) fn repeat(&self) -> bool {
        self.int("repeat") != Some(0)
    }

    /// The date of a one-shot rule (`repeat` 0 with a valid `year`/`month`/`day`).
    pub(crate) fn one_shot_date(&self) -> Option<jiff::civil::Date> {
        if self.repeat() {
            return None;
        }
        let y = i16::try_from(self.int("year")?).ok().filter(|y| *y > 0)?;
        let m = i8::try_from(self.int("month")?).ok()?;
        let d = i8::try_from(self.int("day")?).ok()?;
        jiff::civil::Date::new(y, m, d).ok()
    }

    /// Count-down: the seconds configured.
    pub(crate) fn delay(&self) -> f64 {
        self.body.get("delay").and_then(Value::as_i64).unwrap_or(0).max(0) as f64
    }

    /// Count-down: the simulated second it fires, if armed.
    pub(crate) fn fires_at(&self) -> Option<f64> {
        self.enabled().then(|| self.armed_at + self.delay())
    }

    /// Count-down: the relay state it sets.
    pub(crate) fn action_on(&self) -> bool {
        self.body.get("act").and_then(Value::as_i64) == Some(1)
    }
}

/// A module's rule list.
#[derive(Debug, Clone)]
pub(crate) struct RuleBook {
    pub(crate) kind: RuleKind,
    pub(crate) enable: i64,
    pub(crate) version: i64,
    pub(crate) rules: Vec<Rule>,
}

impl RuleBook {
    pub(crate) fn new(kind: RuleKind) -> Self {
        let enable = i64::from(kind != RuleKind::AntiTheft);
        Self { kind, enable, version: 2, rules: Vec::new() }
    }

    /// Seeds a schedule from a dump's `get_rules` reply.
    pub(crate) fn seed(&mut self, reply: &Map<String, Value>) {
        if let Some(e) = reply.get("enable").and_then(Value::as_i64) {
            self.enable = e;
        }
        if let Some(v) = reply.get("version").and_then(Value::as_i64) {
            self.version = v;
        }
        for r in reply.get("rule_list").and_then(Value::as_array).into_iter().flatten() {
            let Some(obj) = r.as_object() else { continue };
            let Some(id) = obj.get("id").and_then(Value::as_str) else { continue };
            let mut body = obj.clone();
            body.remove("id");
            self.rules.push(Rule { id: id.to_string(), body, armed_at: 0.0 });
        }
    }

    /// The `get_rules` result.
    pub(crate) fn render(&self, sim: f64) -> Map<String, Value> {
        let list: Vec<Value> = self
            .rules
            .iter()
            .map(|r| {
                let mut o = r.body.clone();
                o.insert("id".into(), json!(r.id));
                if self.kind == RuleKind::CountDown {
                    let remain = match r.fires_at() {
                        Some(at) => (at - sim).max(0.0).ceil(),
                        None => 0.0,
                    };
                    o.insert("remain".into(), json!(remain as i64));
                }
                Value::Object(o)
            })
            .collect();
        let mut out = Map::new();
        out.insert("rule_list".into(), Value::Array(list));
        if self.kind != RuleKind::CountDown {
            out.insert("enable".into(), json!(self.enable));
            out.insert("version".into(), json!(self.version));
        }
        out
    }

    pub(crate) fn find_mut(&mut self, id: &str) -> Option<&mut Rule> {
        self.rules.iter_mut().find(|r| r.id == id)
    }
}

/// Validates rule fields and converts booleans to 0/1. With `complete`, fills the fields
/// clients require in listings (`name`, `enable`, `wday`, `repeat`; count-down `delay` and
/// `act` are mandatory). Returns `None` for invalid arguments.
pub(crate) fn normalize(
    kind: RuleKind,
    params: &Map<String, Value>,
    complete: bool,
) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    for (k, v) in params {
        if k == "id" {
            continue;
        }
        let value = if INT_FIELDS.contains(&k.as_str()) {
            let n = v.as_i64()?;
            if let Some((_, lo, hi)) = RANGES.iter().find(|(f, _, _)| f == k) {
                if n < *lo || n > *hi {
                    return None;
                }
            }
            json!(n)
        } else if FLAG_FIELDS.contains(&k.as_str()) {
            json!(flag(v)?)
        } else if NUMBER_FIELDS.contains(&k.as_str()) {
            json!(v.as_f64()?)
        } else if k == "name" {
            let name = v.as_str()?;
            if name.len() > MAX_NAME_BYTES {
                return None;
            }
            json!(name)
        } else if k == "wday" {
            let days = v.as_array()?;
            if days.len() != 7 {
                return None;
            }
            Value::Array(days.iter().map(|d| flag(d).map(|f| json!(f))).collect::<Option<_>>()?)
        } else {
            v.clone()
        };
        out.insert(k.clone(), value);
    }
    if complete {
        if kind == RuleKind::CountDown {
            out.get("delay").and_then(Value::as_i64)?;
            let act = out.get("act").and_then(Value::as_i64)?;
            if !(0..=1).contains(&act) {
                return None;
            }
        } else {
            out.entry("wday").or_insert_with(|| json!([0, 0, 0, 0, 0, 0, 0]));
            out.entry("repeat").or_insert(json!(1));
        }
        out.entry("name").or_insert(json!(""));
        out.entry("enable").or_insert(json!(1));
    }
    Some(out)
}

/// 0/1 or a boolean.
pub(crate) fn flag(v: &Value) -> Option<i64> {
    match v {
        Value::Bool(b) => Some(i64::from(*b)),
        Value::Number(n) => n.as_i64().filter(|x| *x == 0 || *x == 1),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn normalizes_booleans_and_rejects_bad_types() {
        let r = normalize(
            RuleKind::Schedule,
            &obj(json!({"wday":[false,true,1,0,0,0,true],"repeat":true,"smin":10,"name":"n","id":"x"})),
            true,
        )
        .unwrap();
        assert_eq!(r["wday"], json!([0, 1, 1, 0, 0, 0, 1]));
        assert_eq!(r["repeat"], 1);
        assert_eq!(r["enable"], 1);
        assert!(!r.contains_key("id"));
        assert!(normalize(RuleKind::Schedule, &obj(json!({"smin":"10"})), true).is_none());
        assert!(normalize(RuleKind::Schedule, &obj(json!({"wday":[1,1]})), true).is_none());
        assert!(normalize(RuleKind::Schedule, &obj(json!({"enable":2})), true).is_none());
        assert!(normalize(RuleKind::CountDown, &obj(json!({"delay":10})), true).is_none());
        assert!(normalize(RuleKind::CountDown, &obj(json!({"delay":10,"act":1})), true).is_some());
        assert!(normalize(RuleKind::CountDown, &obj(json!({"delay":-1,"act":1})), true).is_none());
    }

    #[test]
    fn ranges_and_name_length() {
        for bad in [
            json!({"smin": 1440}),
            json!({"stime_opt": 3}),
            json!({"sact": -2}),
            json!({"soffset": 1441}),
            json!({"month": 13}),
            json!({"frequency": 256}),
            json!({"name": "x".repeat(MAX_NAME_BYTES + 1)}),
        ] {
            assert!(normalize(RuleKind::Schedule, &obj(bad.clone()), true).is_none(), "{bad}");
        }
        let ok = normalize(
            RuleKind::Schedule,
            &obj(json!({"smin": 0, "emin": -1, "soffset": -30, "etime_opt": -1, "eact": -1, "sact": 3})),
            true,
        );
        assert!(ok.is_some());
    }

    #[test]
    fn accessors() {
        let body = normalize(
            RuleKind::Schedule,
            &obj(json!({"wday":[1,0,0,0,0,0,1],"repeat":0,"year":2030,"month":2,"day":28,"smin":5})),
            true,
        )
        .unwrap();
        let r = Rule { id: "A".into(), body, armed_at: 0.0 };
        assert_eq!(r.wday(), [true, false, false, false, false, false, true]);
        assert!(!r.repeat());
        assert_eq!(r.int("smin"), Some(5));
        assert_eq!(r.one_shot_date(), Some(jiff::civil::date(2030, 2, 28)));
        let mut r2 = r.clone();
        r2.body.insert("day".into(), json!(30));
        assert_eq!(r2.one_shot_date(), None, "30 February is no date");
    }

    #[test]
    fn countdown_remain() {
        let mut b = RuleBook::new(RuleKind::CountDown);
        let body = normalize(RuleKind::CountDown, &obj(json!({"delay":60,"act":1})), true).unwrap();
        b.rules.push(Rule { id: "A".into(), body, armed_at: 10.0 });
        let out = b.render(40.0);
        assert_eq!(out["rule_list"][0]["remain"], 30);
        assert!(!out.contains_key("enable"));
        assert_eq!(b.rules[0].fires_at(), Some(70.0));
    }
}
