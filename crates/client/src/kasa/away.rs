//! Typed away-mode rules (`anti_theft` module, kasa-protocol.md §8.8): while away mode is on,
//! the plug switches on and off at random moments within a window, on days of the week or
//! once on a date, so the home looks lived in.
//!
//! `frequency` is how often it switches in the window. Its exact firmware meaning is
//! unverified: tplink-smarthome-api sends 5 by default, the emulator cuts the window into
//! that many on/off periods. We accept 1 to [`MAX_FREQUENCY`]; 0 means the device default.
//! The softScheck capture's `duration` and `lastfor` are not sent (tplink-smarthome-api does
//! not send them either); when a device has them they are kept on edit.

use serde_json::{json, Map, Value};

use super::rules::{
    check_name, put_days, span_text, when_text, Days, DeviceRule, Fields, RuleDate, RuleError, TimeSpec,
};

/// Highest `frequency` accepted (our limit).
pub const MAX_FREQUENCY: u16 = 10;
/// The `frequency` tplink-smarthome-api sends by default.
pub const DEFAULT_FREQUENCY: u16 = 5;

const KNOWN: &[&str] = &[
    "id",
    "name",
    "enable",
    "wday",
    "repeat",
    "stime_opt",
    "smin",
    "soffset",
    "etime_opt",
    "emin",
    "eoffset",
    "frequency",
    "year",
    "month",
    "day",
];

/// One away-mode rule: random switching between `from` and `to` (overnight if `to` is not
/// after `from`).
#[derive(Debug, Clone, PartialEq)]
pub struct AwayRule {
    /// Device-assigned id; empty for a rule not yet added.
    pub id: String,
    /// Name.
    pub name: String,
    /// The rule's own switch.
    pub enable: bool,
    /// Days the window opens on (repeating rules).
    pub days: Days,
    /// Repeats weekly (`repeat` 1) or runs once (`repeat` 0).
    pub repeat: bool,
    /// The date of a one-shot rule.
    pub date: Option<RuleDate>,
    /// The window opens (`stime_opt`/`smin`/`soffset`).
    pub from: TimeSpec,
    /// The window closes (`etime_opt`/`emin`/`eoffset`).
    pub to: TimeSpec,
    /// How often it switches within the window (0 = the device default).
    pub frequency: u16,
    /// Fields this type does not model, as the device sent them.
    pub extra: Map<String, Value>,
}

impl AwayRule {
    /// An enabled, unnamed rule for the window `from`–`to`, daily, default frequency.
    pub fn new(from: TimeSpec, to: TimeSpec) -> AwayRule {
        AwayRule {
            id: String::new(),
            name: String::new(),
            enable: true,
            days: Days::DAILY,
            repeat: true,
            date: None,
            from,
            to,
            frequency: DEFAULT_FREQUENCY,
            extra: Map::new(),
        }
    }

    /// When it runs, for people: `mon-fri`, `daily`, `once on 2030-01-05`.
    pub fn when(&self) -> String {
        when_text(self.days, self.repeat, self.date)
    }

    /// The window, for people: `18:00-23:30`.
    pub fn window(&self) -> String {
        span_text(self.from, self.to)
    }
}

impl DeviceRule for AwayRule {
    const MODULE: &'static str = "anti_theft";
    const WHAT: &'static str = "away rule";

    fn from_firmware(obj: &Map<String, Value>) -> Result<AwayRule, RuleError> {
        let f = Fields(obj);
        let repeat = f.flag("repeat", true)?;
        let time = |opt: &'static str, min: &'static str, off: &'static str| -> Result<TimeSpec, RuleError> {
            let m = f.int(min, 0)?;
            Ok(TimeSpec::from_firmware(f.int(opt, 0)?, m, f.int(off, 0)?)?
                .unwrap_or(TimeSpec::At(u16::try_from(m.clamp(0, 1439)).unwrap_or(0))))
        };
        Ok(AwayRule {
            id: f.string("id")?,
            name: f.string("name")?,
            enable: f.flag("enable", true)?,
            days: Days::from_wday(obj.get("wday"))?,
            repeat,
            date: f.date(repeat)?,
            from: time("stime_opt", "smin", "soffset")?,
            to: time("etime_opt", "emin", "eoffset")?,
            frequency: u16::try_from(f.int("frequency", i64::from(DEFAULT_FREQUENCY))?.clamp(0, 255))
                .unwrap_or(0),
            extra: f.extra(KNOWN),
        })
    }

    fn to_firmware(&self) -> Map<String, Value> {
        let mut out = self.extra.clone();
        out.insert("name".into(), json!(self.name));
        out.insert("enable".into(), json!(u8::from(self.enable)));
        put_days(&mut out, self.days, self.repeat, self.date);
        for (time, (opt, min, off)) in
            [(self.from, ("stime_opt", "smin", "soffset")), (self.to, ("etime_opt", "emin", "eoffset"))]
        {
            let (o, m, x) = time.to_firmware();
            out.insert(opt.into(), json!(o));
            out.insert(min.into(), json!(m));
            if o != 0 || out.contains_key(off) {
                out.insert(off.into(), json!(x));
            }
        }
        out.insert("frequency".into(), json!(self.frequency));
        out
    }

    fn id(&self) -> &str {
        &self.id
    }

    fn check(&self) -> Result<(), RuleError> {
        check_name(&self.name)?;
        self.from.check()?;
        self.to.check()?;
        if self.from == self.to {
            return Err(RuleError::EmptyWindow(self.window()));
        }
        if self.frequency > MAX_FREQUENCY {
            return Err(RuleError::BadFrequency(i64::from(self.frequency)));
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

    #[test]
    fn firmware_round_trip() {
        let mut r = AwayRule::new(TimeSpec::At(18 * 60), TimeSpec::At(23 * 60 + 30));
        r.days = Days::WEEKENDS;
        r.frequency = 3;
        let fw = r.to_firmware();
        assert_eq!(
            Value::Object(fw.clone()),
            json!({"name": "", "enable": 1, "wday": [1,0,0,0,0,0,1], "repeat": 1, "year": 0, "month": 0, "day": 0,
                   "stime_opt": 0, "smin": 1080, "etime_opt": 0, "emin": 1410, "frequency": 3})
        );
        let mut with_id = fw;
        with_id.insert("id".into(), json!("AB"));
        with_id.insert("lastfor".into(), json!(1));
        let back = AwayRule::from_firmware(&with_id).unwrap();
        assert_eq!(back.window(), "18:00-23:30");
        assert_eq!(back.days, Days::WEEKENDS);
        assert_eq!(back.extra.get("lastfor"), Some(&json!(1)));
    }

    #[test]
    fn reads_the_softscheck_capture() {
        let v = json!({"stime_opt":0,"wday":[0,0,0,1,0,1,0],"smin":987,"enable":1,"frequency":5,"repeat":1,
            "etime_opt":0,"duration":2,"name":"test","lastfor":1,"month":0,"year":0,"longitude":0,"day":0,
            "latitude":0,"force":0,"emin":1047,"id":"X"});
        let r = AwayRule::from_firmware(v.as_object().unwrap()).unwrap();
        assert_eq!(r.window(), "16:27-17:27");
        assert_eq!(r.days.to_string(), "wed,fri");
        assert_eq!(r.frequency, 5);
    }

    #[test]
    fn checks() {
        let r = AwayRule::new(TimeSpec::At(60), TimeSpec::At(60));
        assert!(matches!(r.check(), Err(RuleError::EmptyWindow(_))));
        let mut r = AwayRule::new(TimeSpec::At(22 * 60), TimeSpec::At(60));
        assert!(r.check().is_ok(), "overnight windows are fine");
        r.frequency = 11;
        assert_eq!(r.check(), Err(RuleError::BadFrequency(11)));
    }
}
