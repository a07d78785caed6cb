//! The device's pending action (`next_action`).

use serde::Serialize;
use serde_json::{json, Value};

use super::{hhmm, Action};

/// The device's pending action (sysinfo `next_action`, or `schedule.get_next_action`).
///
/// `type` is undocumented: 1 is what the emulator and our reading use for a schedule rule,
/// 2 comes with a running count-down in a real dump (KP105); other values are shown as
/// numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextAction {
    /// The firmware's `type`.
    pub kind: i64,
    /// The rule id, if given.
    pub id: Option<String>,
    /// Seconds after local midnight (`schd_sec`, or `schd_time` in `get_next_action`).
    pub at_sec: Option<u32>,
    /// What happens.
    pub action: Option<Action>,
}

impl NextAction {
    /// Reads a `next_action` object; `None` for `{"type":-1}` (nothing pending) or
    /// anything that is not such an object.
    pub fn from_value(v: &Value) -> Option<NextAction> {
        let m = v.as_object()?;
        let kind = m.get("type").and_then(Value::as_i64)?;
        if kind < 0 {
            return None;
        }
        let at_sec = m
            .get("schd_sec")
            .or_else(|| m.get("schd_time"))
            .and_then(Value::as_i64)
            .and_then(|s| u32::try_from(s).ok());
        Some(NextAction {
            kind,
            id: m.get("id").and_then(Value::as_str).map(str::to_string),
            at_sec,
            action: m.get("action").and_then(Value::as_i64).map(Action::from_code),
        })
    }

    /// What produced it: `schedule`, `countdown`, or `rule type N`.
    pub fn source(&self) -> String {
        match self.kind {
            1 => "schedule".into(),
            2 => "countdown".into(),
            k => format!("rule type {k}"),
        }
    }

    /// The local time it happens, `HH:MM`.
    pub fn time(&self) -> Option<String> {
        self.at_sec.map(|s| hhmm(u16::try_from(s / 60 % 1440).unwrap_or(0)))
    }

    /// One line for people: `on at 07:30 (schedule)`.
    pub fn describe(&self) -> String {
        let what = self.action.map_or_else(|| "action".to_string(), |a| a.to_string());
        match self.time() {
            Some(t) => format!("{what} at {t} ({})", self.source()),
            None => format!("{what} ({})", self.source()),
        }
    }
}

impl Serialize for NextAction {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        json!({
            "type": self.kind,
            "source": self.source(),
            "id": self.id,
            "schd_sec": self.at_sec,
            "time": self.time(),
            "action": self.action,
        })
        .serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_action() {
        assert_eq!(NextAction::from_value(&json!({"type": -1})), None);
        let n =
            NextAction::from_value(&json!({"type": 1, "id": "AB", "schd_sec": 27000, "action": 1})).unwrap();
        assert_eq!(n.describe(), "on at 07:30 (schedule)");
        let v = serde_json::to_value(&n).unwrap();
        assert_eq!(v["time"], "07:30");
        assert_eq!(v["action"], "on");
        assert_eq!(v["type"], 1);
        let n = NextAction::from_value(&json!({"type": 2, "schd_time": 68927, "action": 0})).unwrap();
        assert_eq!(n.describe(), "off at 19:08 (countdown)");
    }
}
