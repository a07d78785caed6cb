//! Rendering `system.get_sysinfo`: the profile template with the live state laid over it.

use serde_json::{json, Map, Value};

use super::{rules::RuleBook, DeviceState};

impl DeviceState {
    /// The `get_sysinfo` result (with `err_code`) at the current simulated time.
    pub(crate) fn render_sysinfo(&self) -> Map<String, Value> {
        let sim = self.clock.sim();
        let mut s = self.profile.sysinfo().clone();
        s.insert("alias".into(), json!(self.alias));
        s.insert("mac".into(), json!(self.mac));
        s.insert("deviceId".into(), json!(self.device_id));
        s.insert("hwId".into(), json!(self.hw_id));
        s.insert("oemId".into(), json!(self.oem_id));
        s.insert("led_off".into(), json!(self.led_off));
        if s.contains_key("icon_hash") {
            s.insert("icon_hash".into(), json!(self.icon_hash));
        }
        if let Some((lat, lon)) = self.location {
            self.render_location(&mut s, lat, lon);
        }
        if let Some(d) = &self.dimmer {
            s.insert("brightness".into(), json!(d.brightness));
        }
        if s.contains_key("active_mode") {
            if let Some(mode) = self.active_mode() {
                s.insert("active_mode".into(), json!(mode));
            }
        }
        if self.strip {
            let template: &[Value] = s.get("children").and_then(Value::as_array).map_or(&[], Vec::as_slice);
            let children: Vec<Value> = self
                .outlets
                .iter()
                .enumerate()
                .map(|(i, o)| {
                    let mut c = template.get(i).and_then(Value::as_object).cloned().unwrap_or_default();
                    c.insert("id".into(), json!(o.id));
                    c.insert("state".into(), json!(i64::from(o.on)));
                    c.insert("alias".into(), json!(o.alias));
                    c.insert("on_time".into(), json!(o.on_time(sim)));
                    if let Some(u) = self.units.get(i + 1) {
                        c.insert("next_action".into(), u.next_action.clone());
                    }
                    Value::Object(c)
                })
                .collect();
            s.insert("child_num".into(), json!(children.len()));
            s.insert("children".into(), Value::Array(children));
        } else if let Some(o) = self.outlets.first() {
            s.insert("relay_state".into(), json!(i64::from(o.on)));
            s.insert("on_time".into(), json!(o.on_time(sim)));
            if s.contains_key("next_action") {
                if let Some(u) = self.units.first() {
                    s.insert("next_action".into(), u.next_action.clone());
                }
            }
        }
        s.insert("err_code".into(), json!(0));
        s
    }

    /// Location in the template's scheme: float `latitude`/`longitude` (6 decimals) and/or
    /// integer `latitude_i`/`longitude_i` (degrees × 10 000).
    fn render_location(&self, s: &mut Map<String, Value>, lat: f64, lon: f64) {
        let float = s.contains_key("latitude") || s.contains_key("longitude");
        let int = s.contains_key("latitude_i") || s.contains_key("longitude_i") || !float;
        if float {
            s.insert("latitude".into(), json!((lat * 1e6).round() / 1e6));
            s.insert("longitude".into(), json!((lon * 1e6).round() / 1e6));
        }
        if int {
            s.insert("latitude_i".into(), json!((lat * 1e4).round() as i64));
            s.insert("longitude_i".into(), json!((lon * 1e4).round() as i64));
        }
    }

    /// `active_mode` once clients touched rules: `count_down` while a timer runs, then
    /// `anti_theft` while away mode is on (overall and at least one rule enabled; the value
    /// is inferred, kasa-protocol.md §11), `schedule` with enabled schedule rules, else
    /// `none`. Before that, the template's value (or `count_down` if a timer runs).
    fn active_mode(&self) -> Option<&'static str> {
        let unit = self.units.first()?;
        if unit.count_down.rules.iter().any(|r| r.enabled()) {
            return Some("count_down");
        }
        if !self.rules_touched {
            return None;
        }
        let on = |b: &RuleBook| b.enable == 1 && b.rules.iter().any(|r| r.enabled());
        if on(&unit.anti_theft) {
            Some("anti_theft")
        } else if on(&unit.schedule) {
            Some("schedule")
        } else {
            Some("none")
        }
    }
}
