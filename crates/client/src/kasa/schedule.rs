//! Typed schedule rules (`schedule` module, kasa-protocol.md §8.6): switch on or off at a
//! clock time or at sunrise/sunset with an offset, on days of the week or once on a date,
//! optionally with a second (end) action.

use serde_json::{json, Map, Value};

use super::rules::{
    check_name, put_days, when_text, Action, Days, DeviceRule, Fields, RuleDate, RuleError, TimeSpec,
};

/// Firmware fields this type models; any other field is kept in `extra`.
const KNOWN: &[&str] = &[
    "id",
    "name",
    "enable",
    "wday",
    "repeat",
    "stime_opt",
    "smin",
    "soffset",
    "sact",
    "etime_opt",
    "emin",
    "eoffset",
    "eact",
    "year",
    "month",
    "day",
];

/// The optional second action of a rule (`etime_opt`, `emin`, `eoffset`, `eact`), e.g.
/// "on at sunset, off at 23:00". It happens the next day if it is not after the start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleEnd {
    /// When.
    pub time: TimeSpec,
    /// What.
    pub action: Action,
}

/// One schedule rule.
///
/// Firmware form (`add_rule`): `name`, `enable`, `wday` (Sunday first), `repeat`,
/// `stime_opt`/`smin`/`soffset`/`sact`, `etime_opt`/`emin`/`eact` (−1/0/−1 without an end),
/// `year`/`month`/`day` (0 for repeating rules).
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleRule {
    /// Device-assigned id (32 hex digits); empty for a rule not yet added.
    pub id: String,
    /// Name (the Kasa app shows it).
    pub name: String,
    /// The rule's own switch.
    pub enable: bool,
    /// Days it runs on (repeating rules).
    pub days: Days,
    /// Repeats weekly (`repeat` 1) or runs once (`repeat` 0).
    pub repeat: bool,
    /// The date of a one-shot rule.
    pub date: Option<RuleDate>,
    /// When it acts.
    pub start: TimeSpec,
    /// What it does then.
    pub action: Action,
    /// An optional second action.
    pub end: Option<RuleEnd>,
    /// Fields this type does not model, as the device sent them (written back on edit).
    pub extra: Map<String, Value>,
}

impl ScheduleRule {
    /// An enabled, unnamed rule that runs daily.
    pub fn new(start: TimeSpec, action: Action) -> ScheduleRule {
        ScheduleRule {
            id: String::new(),
            name: String::new(),
            enable: true,
            days: Days::DAILY,
            repeat: true,
            date: None,
            start,
            action,
            end: None,
            extra: Map::new(),
        }
    }

    /// Runs weekly on `days`.
    pub fn on_days(mut self, days: Days) -> ScheduleRule {
        self.days = days;
        self.repeat = true;
        self.date = None;
        self
    }

    /// Runs once, on `date`.
    pub fn once_on(mut self, date: RuleDate) -> ScheduleRule {
        self.days = Days::only(date.weekday());
        self.repeat = false;
        self.date = Some(date);
        self
    }

    /// When it runs, for people: `mon-fri`, `daily`, `once on 2030-01-05`.
    pub fn when(&self) -> String {
        when_text(self.days, self.repeat, self.date)
    }

    /// What it does, for people: `on at 07:30`, `off at sunset-15m, on at 23:00`.
    pub fn what(&self) -> String {
        let mut s = format!("{} at {}", self.action, self.start);
        if let Some(e) = &self.end {
            s.push_str(&format!(", {} at {}", e.action, e.time));
        }
        s
    }
}

impl DeviceRule for ScheduleRule {
    const MODULE: &'static str = "schedule";
    const WHAT: &'static str = "schedule rule";

    fn from_firmware(obj: &Map<String, Value>) -> Result<ScheduleRule, RuleError> {
        let f = Fields(obj);
        let repeat = f.flag("repeat", true)?;
        let smin = f.int("smin", 0)?;
        let start = TimeSpec::from_firmware(f.int("stime_opt", 0)?, smin, f.int("soffset", 0)?)?
            .unwrap_or(TimeSpec::At(u16::try_from(smin.clamp(0, 1439)).unwrap_or(0)));
        let (eopt, eact) = (f.int("etime_opt", -1)?, f.int("eact", -1)?);
        let end = if eact == -1 {
            None
        } else {
            TimeSpec::from_firmware(eopt, f.int("emin", 0)?, f.int("eoffset", 0)?)?
                .map(|time| RuleEnd { time, action: Action::from_code(eact) })
        };
        Ok(ScheduleRule {
            id: f.string("id")?,
            name: f.string("name")?,
            enable: f.flag("enable", true)?,
            days: Days::from_wday(obj.get("wday"))?,
            repeat,
            date: f.date(repeat)?,
            start,
            action: Action::from_code(f.int("sact", -1)?),
            end,
            extra: f.extra(KNOWN),
        })
    }

    fn to_firmware(&self) -> Map<String, Value> {
        let mut out = self.extra.clone();
        out.insert("name".into(), json!(self.name));
        out.insert("enable".into(), json!(u8::from(self.enable)));
        put_days(&mut out, self.days, self.repeat, self.date);
        let (opt, min, offset) = self.start.to_firmware();
        out.insert("stime_opt".into(), json!(opt));
        out.insert("smin".into(), json!(min));
        out.insert("soffset".into(), json!(offset));
        out.insert("sact".into(), json!(self.action.code()));
        match &self.end {
            Some(e) => {
                let (opt, min, offset) = e.time.to_firmware();
                out.insert("etime_opt".into(), json!(opt));
                out.insert("emin".into(), json!(min));
                out.insert("eoffset".into(), json!(offset));
                out.insert("eact".into(), json!(e.action.code()));
            }
            None => {
                out.insert("etime_opt".into(), json!(-1));
                out.insert("emin".into(), json!(0));
                out.insert("eact".into(), json!(-1));
            }
        }
        out
    }

    fn id(&self) -> &str {
        &self.id
    }

    fn check(&self) -> Result<(), RuleError> {
        check_name(&self.name)?;
        self.start.check()?;
        if let Some(e) = &self.end {
            e.time.check()?;
        }
        if self.repeat && self.date.is_none() && self.days.is_empty() {
            return Err(RuleError::NoDays);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn weekday_rule_to_firmware() {
        let r = ScheduleRule::new(TimeSpec::At(450), Action::On).on_days(Days::WEEKDAYS);
        let fw = Value::Object(r.to_firmware());
        assert_eq!(
            fw,
            json!({"name": "", "enable": 1, "wday": [0,1,1,1,1,1,0], "repeat": 1, "year": 0, "month": 0,
                   "day": 0, "stime_opt": 0, "smin": 450, "soffset": 0, "sact": 1, "etime_opt": -1,
                   "emin": 0, "eact": -1})
        );
    }

    #[test]
    fn one_shot_sunset_rule_to_firmware() {
        let date = RuleDate { year: 2030, month: 1, day: 5 };
        let mut r = ScheduleRule::new(TimeSpec::Sunset(-15), Action::Off).once_on(date);
        r.name = "dusk".into();
        let fw = r.to_firmware();
        assert_eq!(fw["wday"], json!([0, 0, 0, 0, 0, 0, 1]));
        assert_eq!(
            (fw["repeat"].clone(), fw["year"].clone(), fw["month"].clone(), fw["day"].clone()),
            (json!(0), json!(2030), json!(1), json!(5))
        );
        assert_eq!(
            (fw["stime_opt"].clone(), fw["soffset"].clone(), fw["sact"].clone()),
            (json!(2), json!(-15), json!(0))
        );
        assert_eq!(r.when(), "once on 2030-01-05");
        assert_eq!(r.what(), "off at sunset-15m");
    }

    #[test]
    fn reads_the_kp105_dump_and_booleans() {
        let r = ScheduleRule::from_firmware(&obj(
            json!({"eact": -1, "enable": 1, "id": "8AA75A50A8440B17941D192BD9E01FFA",
            "name": "name", "repeat": 1, "sact": 1, "smin": 1027, "soffset": 0, "stime_opt": 2,
            "wday": [1, 1, 1, 1, 1, 1, 1]}),
        ))
        .unwrap();
        assert_eq!(r.start, TimeSpec::Sunset(0));
        assert_eq!(r.days, Days::DAILY);
        assert_eq!(r.action, Action::On);
        assert!(r.end.is_none() && r.repeat && r.enable);
        let r = ScheduleRule::from_firmware(&obj(
            json!({"id": "X", "wday": [false, true, false, false, false, false, false],
            "repeat": false, "enable": true, "stime_opt": 0, "smin": 1014, "sact": 1, "etime_opt": 0,
            "emin": 1320, "eact": 0, "year": 2030, "month": 1, "day": 7, "force": 0, "s_light": {"x": 1}}),
        ))
        .unwrap();
        assert_eq!(r.date, Some(RuleDate { year: 2030, month: 1, day: 7 }));
        assert_eq!(r.end, Some(RuleEnd { time: TimeSpec::At(1320), action: Action::Off }));
        assert_eq!(r.what(), "on at 16:54, off at 22:00");
        assert_eq!(r.extra.get("s_light"), Some(&json!({"x": 1})), "unknown fields are kept");
        let fw = r.to_firmware();
        assert_eq!(fw["force"], 0);
        assert_eq!(fw["emin"], 1320);
        assert!(ScheduleRule::from_firmware(&obj(json!({"id": "X", "wday": "mon"}))).is_err());
        assert!(ScheduleRule::from_firmware(&obj(json!({"id": "X", "stime_opt": 9}))).is_err());
    }

    #[test]
    fn checks() {
        let mut r = ScheduleRule::new(TimeSpec::At(1), Action::On);
        assert!(r.check().is_ok());
        r.name = "x".repeat(33);
        assert_eq!(r.check(), Err(RuleError::NameTooLong(33)));
        r.name.clear();
        r.days = Days::default();
        assert_eq!(r.check(), Err(RuleError::NoDays));
        let r = ScheduleRule::new(TimeSpec::Sunrise(-800), Action::On);
        assert_eq!(r.check(), Err(RuleError::OffsetTooLarge(-800)));
    }
}
