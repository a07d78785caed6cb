//! `schedule`, `anti_theft` and `count_down` (kasa-protocol.md §8.6–8.8). All methods honour
//! the strip context (the first listed outlet); without a context they address the device
//! (on a strip, the strip as a whole). Rule fields accept booleans as well as 0/1.
//!
//! `schedule.get_realtime` and `anti_theft.get_next_action` are -2, as on real devices.
//! Rules fire on the simulated clock (`device/events.rs`). `schedule.get_next_action`
//! reports the unit's next pending action: the profile's recorded one until a client
//! changes a rule list of that unit, then the one computed from the rules (`{"type":-1}`
//! when none). `get_rules` reports today's effective minute in `smin`/`emin` of
//! sunrise/sunset rules (as the KP105 dump shows). A second count-down rule is -10
//! `table is full`, as is a rule beyond [`MAX_RULES`]; `delete_rule` without `id` is
//! -10002 (the simulator's text, typo kept); an unknown id is -14.

use serde_json::{json, Value};

use super::{ok, ok_with, CallError, CallResult, Params};
use crate::kasa::device::{
    rules::{normalize, Rule, RuleKind},
    Ctx, DayStats, DeviceState,
};

/// Most rules one schedule or away list holds (our choice: the firmware's table size is
/// unverified; this also bounds memory).
pub(crate) const MAX_RULES: usize = 32;

const COMMON: &[&str] = &["get_rules", "add_rule", "edit_rule", "delete_rule", "delete_all_rules"];
const SCHEDULE_ONLY: &[&str] =
    &["set_overall_enable", "get_next_action", "get_daystat", "get_monthstat", "erase_runtime_stat"];

fn known(kind: RuleKind, method: &str) -> bool {
    COMMON.contains(&method)
        || match kind {
            RuleKind::Schedule => SCHEDULE_ONLY.contains(&method),
            RuleKind::AntiTheft => method == "set_overall_enable",
            RuleKind::CountDown => false,
        }
}

pub(super) fn call(dev: &mut DeviceState, kind: RuleKind, method: &str, p: &Params, ctx: &Ctx) -> CallResult {
    if !known(kind, method) {
        return Err(CallError::NoSuchMethod);
    }
    let targets = dev.targets(ctx)?;
    let target = dev.unit_of(&targets);
    let read_unit = target.unwrap_or(0);
    let sim = dev.clock.sim();
    match method {
        "get_rules" => {
            let mut out = dev.units.get(read_unit).map(|u| u.book(kind).render(sim)).unwrap_or_default();
            if kind == RuleKind::Schedule {
                sun_minutes(dev, &mut out);
            }
            Ok(out)
        }
        "add_rule" => {
            let body = normalize(kind, p.map()?.ok_or(CallError::InvalidArgument)?, true)
                .ok_or(CallError::InvalidArgument)?;
            let id = dev.rng.hex32();
            let Some(unit) = target.and_then(|u| dev.units.get_mut(u)) else {
                return ok_with(json!({"id": id}));
            };
            let book = unit.book_mut(kind);
            if (kind == RuleKind::CountDown && !book.rules.is_empty()) || book.rules.len() >= MAX_RULES {
                return Err(CallError::Code(-10, "table is full"));
            }
            book.rules.push(Rule { id: id.clone(), body, armed_at: sim });
            dev.touch_rules(unit_index(target));
            ok_with(json!({ "id": id }))
        }
        "edit_rule" => {
            let id = p.str("id")?;
            let body = normalize(kind, p.map()?.ok_or(CallError::InvalidArgument)?, false)
                .ok_or(CallError::InvalidArgument)?;
            let Some(unit) = target.and_then(|u| dev.units.get_mut(u)) else { return ok() };
            let rule = unit.book_mut(kind).find_mut(id).ok_or(CallError::EntryNotExist)?;
            rule.body.extend(body);
            rule.armed_at = sim;
            dev.touch_rules(unit_index(target));
            ok()
        }
        "delete_rule" => {
            let id = p.opt_str("id")?.ok_or(CallError::Code(-10002, "Missing neccesary argument"))?;
            let Some(unit) = target.and_then(|u| dev.units.get_mut(u)) else { return ok() };
            let book = unit.book_mut(kind);
            let before = book.rules.len();
            book.rules.retain(|r| r.id != id);
            if book.rules.len() == before {
                return Err(CallError::EntryNotExist);
            }
            dev.touch_rules(unit_index(target));
            ok()
        }
        "delete_all_rules" => {
            if let Some(unit) = target.and_then(|u| dev.units.get_mut(u)) {
                unit.book_mut(kind).rules.clear();
                dev.touch_rules(unit_index(target));
            }
            ok()
        }
        "set_overall_enable" => {
            // Clients send {"enable":1}; the softScheck list shows a bare number.
            let enable = match p.raw() {
                Value::Number(_) | Value::Bool(_) => {
                    crate::kasa::device::rules::flag(p.raw()).ok_or(CallError::InvalidArgument)? == 1
                }
                _ => p.flag("enable")?,
            };
            if let Some(unit) = target.and_then(|u| dev.units.get_mut(u)) {
                unit.book_mut(kind).enable = i64::from(enable);
                dev.touch_rules(unit_index(target));
            }
            ok()
        }
        "get_next_action" => {
            let mut next = match dev.units.get(read_unit).map(|u| &u.next_action) {
                Some(Value::Object(m)) => m.clone(),
                _ => serde_json::Map::new(),
            };
            if let Some(t) = next.remove("schd_sec") {
                next.insert("schd_time".into(), t);
            }
            next.entry("type").or_insert(json!(-1));
            Ok(next)
        }
        "get_daystat" => {
            let year = p.i64_in("year", 0..=9999)?;
            let month = p.i64_in("month", 1..=12)?;
            let list: Vec<Value> = runtime(dev, read_unit)
                .map(|r| r.days_of(year, month))
                .unwrap_or_default()
                .into_iter()
                .map(|(day, secs)| json!({"year": year, "month": month, "day": day, "time": minutes(secs)}))
                .collect();
            ok_with(json!({ "day_list": list }))
        }
        "get_monthstat" => {
            let year = p.i64_in("year", 0..=9999)?;
            let list: Vec<Value> = runtime(dev, read_unit)
                .map(|r| r.months_of(year))
                .unwrap_or_default()
                .into_iter()
                .map(|(month, secs)| json!({"year": year, "month": month, "time": minutes(secs)}))
                .collect();
            ok_with(json!({ "month_list": list }))
        }
        "erase_runtime_stat" => {
            if let Some(unit) = target.and_then(|u| dev.units.get_mut(u)) {
                unit.runtime.clear();
            }
            ok()
        }
        _ => Err(CallError::NoSuchMethod),
    }
}

fn unit_index(target: Option<usize>) -> usize {
    target.unwrap_or(0)
}

/// Fills `smin`/`emin` of sunrise/sunset rules with today's effective minute.
fn sun_minutes(dev: &DeviceState, out: &mut serde_json::Map<String, Value>) {
    let Some(Value::Array(list)) = out.get_mut("rule_list") else { return };
    for rule in list.iter_mut().filter_map(Value::as_object_mut) {
        for (opt, min, off) in [("stime_opt", "smin", "soffset"), ("etime_opt", "emin", "eoffset")] {
            let o = rule.get(opt).and_then(Value::as_i64).unwrap_or(-1);
            let offset = rule.get(off).and_then(Value::as_i64).unwrap_or(0);
            if let Some(m) = dev.sun_minute_today(o, offset) {
                rule.insert(min.into(), json!(m));
            }
        }
    }
}

fn runtime(dev: &DeviceState, unit: usize) -> Option<&DayStats> {
    dev.units.get(unit).map(|u| &u.runtime)
}

fn minutes(secs: f64) -> i64 {
    (secs / 60.0).floor() as i64
}
