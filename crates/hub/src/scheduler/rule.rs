//! The rule model (the JSON the API stores and the dashboard edits) and its validation.

use std::collections::BTreeSet;

use jiff::{civil::Weekday, tz::TimeZone};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{hub::SwitchAction, model::DeviceId};

/// Longest rule id, in characters.
pub const MAX_ID_CHARS: usize = 64;
/// Longest rule name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Largest sunrise/sunset offset, in minutes either way.
pub const MAX_OFFSET_MIN: i32 = 720;
/// Highest outlet index accepted.
pub const MAX_OUTLET: u64 = 63;

/// A local schedule rule. See the [module docs](super) for the JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Stable id (`A-Z a-z 0-9 . _ -`, at most 64 characters); the store key.
    pub id: String,
    /// Display name (may be empty).
    #[serde(default)]
    pub name: String,
    /// Disabled rules are kept but never run.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The device to switch.
    pub device: DeviceId,
    /// The strip outlet (0-based), or `null` for the whole device.
    #[serde(default)]
    pub outlet: Option<usize>,
    /// What to do.
    pub action: SwitchAction,
    /// When.
    pub when: When,
    /// Weekdays a sunrise/sunset rule runs on (absent: every day). Cron rules use their own
    /// day-of-week field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<Vec<Day>>,
    /// IANA zone the rule's times are in (absent: `[location] timezone`, else the host's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Written by the scheduler (when the rule last ran); clients may omit it or send back
    /// what they read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<RuleState>,
}

fn yes() -> bool {
    true
}

/// When a rule runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum When {
    /// A 5-field cron expression (`minute hour day-of-month month day-of-week`) in the rule's
    /// zone, e.g. `30 7 * * 1-5`.
    Cron(String),
    /// Sunrise plus an offset.
    Sunrise(SunOffset),
    /// Sunset plus an offset.
    Sunset(SunOffset),
}

/// Minutes after (positive) or before (negative) the sun event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SunOffset {
    /// −720 to 720.
    #[serde(default)]
    pub offset_min: i32,
}

/// A weekday, written `mon` … `sun`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    /// Monday.
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday.
    Fri,
    /// Saturday.
    Sat,
    /// Sunday.
    Sun,
}

impl Day {
    const ALL: [(Day, &'static str, &'static str); 7] = [
        (Day::Mon, "mon", "monday"),
        (Day::Tue, "tue", "tuesday"),
        (Day::Wed, "wed", "wednesday"),
        (Day::Thu, "thu", "thursday"),
        (Day::Fri, "fri", "friday"),
        (Day::Sat, "sat", "saturday"),
        (Day::Sun, "sun", "sunday"),
    ];

    /// Parses `mon`/`monday` (any case).
    pub fn parse(s: &str) -> Option<Day> {
        let l = s.trim().to_ascii_lowercase();
        Self::ALL.iter().find(|(_, short, long)| l == *short || l == *long).map(|(d, _, _)| *d)
    }

    /// The jiff weekday.
    pub fn weekday(self) -> Weekday {
        match self {
            Day::Mon => Weekday::Monday,
            Day::Tue => Weekday::Tuesday,
            Day::Wed => Weekday::Wednesday,
            Day::Thu => Weekday::Thursday,
            Day::Fri => Weekday::Friday,
            Day::Sat => Weekday::Saturday,
            Day::Sun => Weekday::Sunday,
        }
    }
}

/// What the scheduler remembers about a rule (persisted in the rule's JSON so it survives a
/// restart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RuleState {
    /// Every run due at or before this instant (Unix ms) has been handled: run, or skipped by
    /// the missed-run policy. Runs due later than this and before start-up are "missed".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checked_ms: Option<i64>,
    /// When the latest executed run was due (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run_ms: Option<i64>,
    /// What happened to the run due at `checked_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_outcome: Option<Outcome>,
}

/// What happened to a due run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Being executed (the hub stopped before it finished if this is still here).
    Running,
    /// The device switched.
    Ran,
    /// The device did not answer or refused (an `error` event says why).
    Failed,
    /// Missed while the hub was down, longer ago than the grace period: skipped.
    Missed,
}

impl Rule {
    /// The rule as JSON (the stable shape the API stores).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The rule without its [`state`](Self::state): what the user defined.
    pub fn definition(&self) -> Rule {
        Rule { state: None, ..self.clone() }
    }

    /// The rule's zone: its own `timezone`, else `default`.
    pub fn time_zone(&self, default: &TimeZone) -> Result<TimeZone, String> {
        match &self.timezone {
            Some(name) => TimeZone::get(name).map_err(|e| format!("timezone \"{name}\": {e}")),
            None => Ok(default.clone()),
        }
    }
}

const FIELDS: &[&str] =
    &["id", "name", "enabled", "device", "outlet", "action", "when", "days", "timezone", "state"];

/// Checks a rule as a client sent it and returns it typed. Messages name the field and
/// what is accepted, e.g. `when.cron: "61 * * * *": the minute field "61" is out of range
/// (0-59)`.
///
/// The device is not looked up (the API may check that it exists); `id` is required (the
/// API assigns one before validating if the client sent none).
pub fn validate_rule(v: &Value) -> Result<Rule, String> {
    let Value::Object(m) = v else {
        return Err(format!("a rule must be a JSON object, not {}", kind(v)));
    };
    if let Some(k) = m.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(format!("unknown field \"{k}\" (known: {})", FIELDS.join(", ")));
    }
    let id = required_str(m, "id")?;
    if id.is_empty() || id.chars().count() > MAX_ID_CHARS {
        return Err(format!("id must be 1 to {MAX_ID_CHARS} characters"));
    }
    if let Some(c) = id.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
        return Err(format!("id \"{id}\" contains {c:?}; use letters, digits, '.', '_' and '-'"));
    }
    let name = match m.get("name") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) if s.chars().count() <= MAX_NAME_CHARS => s.clone(),
        Some(Value::String(_)) => return Err(format!("name is longer than {MAX_NAME_CHARS} characters")),
        Some(other) => return Err(format!("name must be a string, not {}", kind(other))),
    };
    let enabled = match m.get("enabled") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(format!("enabled must be true or false, not {}", kind(other))),
    };
    let device = required_str(m, "device")?;
    if device.trim().is_empty() {
        return Err("device must be a device id such as \"kasa-8006…\" or \"hf-ACCF23…\"".into());
    }
    let outlet = match m.get("outlet") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => match n.as_u64() {
            Some(i) if i <= MAX_OUTLET => Some(i as usize),
            _ => return Err(format!("outlet must be null or an outlet index 0-{MAX_OUTLET}, not {n}")),
        },
        Some(other) => return Err(format!("outlet must be null or an outlet index, not {}", kind(other))),
    };
    let action = match m.get("action") {
        Some(Value::String(s)) => match s.as_str() {
            "on" => SwitchAction::On,
            "off" => SwitchAction::Off,
            "toggle" => SwitchAction::Toggle,
            other => return Err(format!("action must be \"on\", \"off\" or \"toggle\", not \"{other}\"")),
        },
        None => return Err("action is missing (\"on\", \"off\" or \"toggle\")".into()),
        Some(other) => {
            return Err(format!("action must be \"on\", \"off\" or \"toggle\", not {}", kind(other)))
        }
    };
    let when = parse_when(m.get("when"))?;
    let days = match m.get("days") {
        None | Some(Value::Null) => None,
        Some(v) => {
            if matches!(when, When::Cron(_)) {
                return Err(
                    "days applies to sunrise/sunset rules; a cron rule uses its day-of-week field".into()
                );
            }
            Some(parse_days(v)?)
        }
    };
    let timezone = match m.get("timezone") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            TimeZone::get(s).map_err(|_| {
                format!(
                    "timezone \"{s}\" is not a known IANA zone (e.g. \"Europe/Berlin\", \"America/Chicago\")"
                )
            })?;
            Some(s.clone())
        }
        Some(other) => return Err(format!("timezone must be an IANA zone name, not {}", kind(other))),
    };
    let state = match m.get("state") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            serde_json::from_value::<RuleState>(v.clone())
                .map_err(|e| format!("state (written by the scheduler) is malformed: {e}"))?,
        ),
    };
    Ok(Rule {
        id: id.to_string(),
        name,
        enabled,
        device: DeviceId(device.to_string()),
        outlet,
        action,
        when,
        days,
        timezone,
        state,
    })
}

/// [`validate_rule`] for a rule stored under `id` (the API's `PUT /schedules/{id}`, or a new
/// id it generated for `POST`): the body may omit `id`; if it has one it must be `id`. Store
/// [`Rule::to_json`] of the result.
pub fn validate_rule_for(id: &str, v: &Value) -> Result<Rule, String> {
    let mut v = v.clone();
    if let Value::Object(m) = &mut v {
        match m.get("id") {
            None | Some(Value::Null) => {
                m.insert("id".into(), Value::String(id.to_string()));
            }
            Some(Value::String(s)) if s == id => {}
            Some(other) => {
                return Err(format!("id {other} in the rule does not match the schedule's id \"{id}\""))
            }
        }
    }
    validate_rule(&v)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn required_str<'a>(m: &'a Map<String, Value>, key: &str) -> Result<&'a str, String> {
    match m.get(key) {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Err(format!("{key} is missing")),
        Some(other) => Err(format!("{key} must be a string, not {}", kind(other))),
    }
}

const WHEN_SHAPES: &str = concat!(
    "{\"cron\": \"30 7 * * 1-5\"}, {\"sunrise\": {\"offset_min\": -15}} ",
    "or {\"sunset\": {\"offset_min\": 10}}"
);

fn parse_when(v: Option<&Value>) -> Result<When, String> {
    let m = match v {
        Some(Value::Object(m)) => m,
        None | Some(Value::Null) => return Err(format!("when is missing: use {WHEN_SHAPES}")),
        Some(other) => return Err(format!("when must be an object ({WHEN_SHAPES}), not {}", kind(other))),
    };
    let mut it = m.iter();
    let (Some((key, inner)), None) = (it.next(), it.next()) else {
        return Err(format!("when must have exactly one of cron, sunrise, sunset: use {WHEN_SHAPES}"));
    };
    match key.as_str() {
        "cron" => match inner {
            Value::String(expr) => {
                super::next::parse_cron(expr).map_err(|e| format!("when.cron: {e}"))?;
                Ok(When::Cron(expr.trim().to_string()))
            }
            other => Err(format!("when.cron must be a string such as \"30 7 * * 1-5\", not {}", kind(other))),
        },
        "sunrise" | "sunset" => {
            let offset_min = match inner {
                Value::Null => 0,
                Value::Object(o) => {
                    if let Some(k) = o.keys().find(|k| k.as_str() != "offset_min") {
                        return Err(format!("when.{key}: unknown field \"{k}\" (only offset_min)"));
                    }
                    match o.get("offset_min") {
                        None | Some(Value::Null) => 0,
                        Some(Value::Number(n)) => match n.as_i64() {
                            Some(i)
                                if (-i64::from(MAX_OFFSET_MIN)..=i64::from(MAX_OFFSET_MIN)).contains(&i) =>
                            {
                                i as i32
                            }
                            _ => {
                                return Err(format!(
                                    "when.{key}.offset_min must be whole minutes from -{MAX_OFFSET_MIN} to \
                                     {MAX_OFFSET_MIN}, not {n}"
                                ))
                            }
                        },
                        Some(other) => {
                            return Err(format!(
                                "when.{key}.offset_min must be a number of minutes, not {}",
                                kind(other)
                            ))
                        }
                    }
                }
                other => {
                    return Err(format!(
                        "when.{key} must be an object such as {{\"offset_min\": -15}}, not {}",
                        kind(other)
                    ))
                }
            };
            let off = SunOffset { offset_min };
            Ok(if key == "sunrise" { When::Sunrise(off) } else { When::Sunset(off) })
        }
        other => Err(format!("when: unknown kind \"{other}\": use {WHEN_SHAPES}")),
    }
}

fn parse_days(v: &Value) -> Result<Vec<Day>, String> {
    let Value::Array(items) = v else {
        return Err(format!("days must be a list of weekdays such as [\"mon\", \"fri\"], not {}", kind(v)));
    };
    if items.is_empty() {
        return Err("days is empty: leave it out to run every day, or disable the rule".into());
    }
    let mut set = BTreeSet::new();
    for item in items {
        let day = item.as_str().and_then(Day::parse).ok_or_else(|| {
            format!("days: {item} is not a weekday (use mon, tue, wed, thu, fri, sat, sun)")
        })?;
        set.insert(day);
    }
    Ok(set.into_iter().collect())
}
