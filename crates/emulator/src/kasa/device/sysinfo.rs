//! Rendering `system.get_sysinfo`: the profile template with the live state laid over it.

use serde_json::{json, Map, Value};

use super::{rules::RuleBook, DeviceState};

/// The live values laid over the template, in the order they are applied. A key already in
/// the template keeps its place; a new key goes at the end (JSON map insertion order).
type Overrides = Vec<(&'static str, Value)>;

/// More overrides than [`DeviceState::sysinfo_overrides`] ever makes (it makes at most 17).
const MAX_OVERRIDES: usize = 24;

impl DeviceState {
    /// The `get_sysinfo` result (with `err_code`) at the current simulated time.
    pub(crate) fn render_sysinfo(&self) -> Map<String, Value> {
        let mut s = self.profile.sysinfo().clone();
        for (k, v) in self.sysinfo_overrides() {
            s.insert(k.into(), v);
        }
        s
    }

    /// The `get_sysinfo` result as JSON bytes appended to `out`: byte for byte what
    /// serializing [`DeviceState::render_sysinfo`] gives, without cloning the template (the
    /// hot path of every poll and discovery; see the emulator benchmark in `bench/`).
    pub(crate) fn write_sysinfo(&self, out: &mut Vec<u8>) {
        let overrides = self.sysinfo_overrides();
        // The last override of a key wins; `placed[i]` once override i's key was written.
        let latest = |key: &str| overrides.iter().rposition(|(k, _)| *k == key);
        let mut placed = [false; MAX_OVERRIDES];
        out.push(b'{');
        let mut first = true;
        for (k, v) in self.profile.sysinfo() {
            let value = match latest(k) {
                Some(i) => {
                    if let Some(p) = placed.get_mut(i) {
                        *p = true;
                    }
                    overrides.get(i).map_or(v, |(_, v)| v)
                }
                None => v,
            };
            write_entry(out, &mut first, k, value);
        }
        // Keys the template lacks, in the order of their first override, with their last value.
        for (i, (k, _)) in overrides.iter().enumerate() {
            let Some(last) = latest(k) else { continue };
            let done = placed.get(last).copied().unwrap_or(false);
            let earlier = overrides.get(..i).is_some_and(|e| e.iter().any(|(e, _)| e == k));
            if done || earlier {
                continue;
            }
            if let Some((_, v)) = overrides.get(last) {
                write_entry(out, &mut first, k, v);
            }
        }
        out.push(b'}');
    }

    /// What `get_sysinfo` changes in the template: identity, settings and live state.
    fn sysinfo_overrides(&self) -> Overrides {
        let template = self.profile.sysinfo();
        let has = |k: &str| template.contains_key(k);
        let sim = self.clock.sim();
        let mut s: Overrides = Vec::with_capacity(16);
        s.push(("alias", json!(self.alias)));
        s.push(("mac", json!(self.mac)));
        s.push(("deviceId", json!(self.device_id)));
        s.push(("hwId", json!(self.hw_id)));
        s.push(("oemId", json!(self.oem_id)));
        s.push(("led_off", json!(self.led_off)));
        if has("icon_hash") {
            s.push(("icon_hash", json!(self.icon_hash)));
        }
        if let Some((lat, lon)) = self.location {
            // Location in the template's scheme: float `latitude`/`longitude` (6 decimals)
            // and/or integer `latitude_i`/`longitude_i` (degrees × 10 000).
            let float = has("latitude") || has("longitude");
            let int = has("latitude_i") || has("longitude_i") || !float;
            if float {
                s.push(("latitude", json!((lat * 1e6).round() / 1e6)));
                s.push(("longitude", json!((lon * 1e6).round() / 1e6)));
            }
            if int {
                s.push(("latitude_i", json!((lat * 1e4).round() as i64)));
                s.push(("longitude_i", json!((lon * 1e4).round() as i64)));
            }
        }
        if let Some(d) = &self.dimmer {
            s.push(("brightness", json!(d.brightness)));
        }
        if has("active_mode") {
            if let Some(mode) = self.active_mode() {
                s.push(("active_mode", json!(mode)));
            }
        }
        if self.strip {
            let children = self.render_children(sim);
            s.push(("child_num", json!(children.len())));
            s.push(("children", Value::Array(children)));
        } else if let Some(o) = self.outlets.first() {
            s.push(("relay_state", json!(i64::from(o.on))));
            s.push(("on_time", json!(o.on_time(sim))));
            if has("next_action") {
                if let Some(u) = self.units.first() {
                    s.push(("next_action", u.next_action.clone()));
                }
            }
        }
        s.push(("err_code", json!(0)));
        s
    }

    /// Strip outlets in sysinfo form: the template's child entries with live values.
    fn render_children(&self, sim: f64) -> Vec<Value> {
        let template: &[Value] =
            self.profile.sysinfo().get("children").and_then(Value::as_array).map_or(&[], Vec::as_slice);
        self.outlets
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
            .collect()
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

/// Appends `"key":value` (with a comma unless `first`) in serde_json's compact form.
fn write_entry(out: &mut Vec<u8>, first: &mut bool, key: &str, value: &Value) {
    if !std::mem::take(first) {
        out.push(b',');
    }
    // Writing into a Vec cannot fail, and every Value serializes.
    let _ = serde_json::to_writer(&mut *out, key);
    out.push(b':');
    let _ = serde_json::to_writer(&mut *out, value);
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::kasa::{builtin, builtin_names};

    /// The byte renderer and the map renderer agree for every built-in model, in every
    /// state that changes what is rendered.
    #[test]
    fn bytes_equal_the_serialized_map() {
        let t0 = Instant::now();
        for name in builtin_names() {
            let mut d = builtin(name).unwrap().instantiate(3, 9);
            let check = |d: &super::DeviceState, what: &str| {
                let mut bytes = Vec::new();
                d.write_sysinfo(&mut bytes);
                let map = serde_json::to_vec(&d.render_sysinfo()).unwrap();
                assert_eq!(
                    String::from_utf8(bytes).unwrap(),
                    String::from_utf8(map).unwrap(),
                    "{name}: {what}"
                );
            };
            check(&d, "fresh");
            d.handle(br#"{"system":{"set_relay_state":{"state":1}}}"#, t0 + Duration::from_secs(5));
            d.handle(br#"{"system":{"set_dev_location":{"latitude":52.5,"longitude":13.4}}}"#, t0);
            d.handle(br#"{"system":{"set_dev_alias":{"alias":"Kitchen \"quoted\" \u00e9"}}}"#, t0);
            d.handle(br#"{"count_down":{"add_rule":{"enable":1,"delay":600,"act":0,"name":"x"}}}"#, t0);
            d.handle(br#"{"smartlife.iot.dimmer":{"set_brightness":{"brightness":40}}}"#, t0);
            check(&d, "after changes");
        }
    }

    /// The get_sysinfo fast path answers exactly what the general dispatcher answers.
    #[test]
    fn fast_path_equals_the_general_path() {
        let t = Instant::now();
        for name in builtin_names() {
            let mut a = builtin(name).unwrap().instantiate(1, 2);
            let mut b = builtin(name).unwrap().instantiate(1, 2);
            let req = br#"{"system":{"get_sysinfo":{}}}"#;
            let fast = a.handle(req, t).unwrap();
            let general = serde_json::to_vec(&b.handle_value(req, t).unwrap()).unwrap();
            assert_eq!(String::from_utf8(fast).unwrap(), String::from_utf8(general).unwrap(), "{name}");
        }
    }
}
