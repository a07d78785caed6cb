//! Loading a real-device dump (python-kasa fixture format) into a profile.
//!
//! The format is the reply to one big request: `module → method → reply`. Rules:
//! - `system.get_sysinfo` becomes the template (its `err_code` dropped);
//! - a module whose value is `{"err_code":-1,…}` (or, from older tooling, whose methods answer
//!   -1) is "not supported";
//! - `emeter.get_realtime` becomes the initial reading; the unit scheme is detected from its
//!   keys;
//! - every other successful (or failed) method reply is kept as a static reply;
//! - `discovery_result` (UDP 20002, KLAP firmware) is kept aside.

use plugctl_proto::kasa::{EmeterReading, EmeterScheme};
use serde_json::{Map, Value};

use super::{default_loads, region_voltage, Profile, ProfileData, ProfileError};

pub(super) fn parse(text: &str, origin: &str, name: String) -> Result<Profile, ProfileError> {
    let value: Value = serde_json::from_str(text)
        .map_err(|source| ProfileError::Json { origin: origin.to_string(), source })?;
    let Value::Object(top) = value else {
        return Err(ProfileError::NotObject { origin: origin.to_string() });
    };
    let sysinfo = top
        .get("system")
        .and_then(|s| s.get("get_sysinfo"))
        .and_then(Value::as_object)
        .filter(|s| !s.contains_key("err_code") || s.get("err_code").and_then(Value::as_i64) == Some(0))
        .ok_or_else(|| ProfileError::NoSysinfo { origin: origin.to_string() })?;
    let mut sysinfo = sysinfo.clone();
    sysinfo.remove("err_code");
    check_fields(&sysinfo, origin)?;

    let mut static_replies = Map::new();
    let mut unsupported = Vec::new();
    let mut discovery_result = None;
    let mut reading = None;
    let mut reading_scheme = None;
    for (module, body) in &top {
        if module == "discovery_result" {
            discovery_result = Some(body.clone());
            continue;
        }
        let Some(methods) = body.as_object() else { continue };
        if is_not_supported(methods) || methods.values().any(|r| r.as_object().is_some_and(is_not_supported))
        {
            unsupported.push(module.clone());
            continue;
        }
        for (method, reply) in methods {
            let Some(reply) = reply.as_object() else { continue };
            if module == "system" && method == "get_sysinfo" {
                continue;
            }
            if module == "emeter" && method == "get_realtime" {
                if let Ok(r) = EmeterReading::from_map(reply) {
                    reading = Some(r);
                    reading_scheme = Some(EmeterReading::scheme_of(reply));
                }
                continue;
            }
            let entry = static_replies.entry(module.clone()).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = entry {
                m.insert(method.clone(), Value::Object(reply.clone()));
            }
        }
    }

    let str_field = |k: &str| sysinfo.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let model = str_field("model");
    let has_ene = str_field("feature").split(':').any(|f| f == "ENE");
    let emeter = if has_ene && !unsupported.iter().any(|m| m == "emeter") {
        Some(reading_scheme.unwrap_or_else(|| EmeterScheme::for_hw_ver(&str_field("hw_ver"))))
    } else {
        None
    };
    let outlets = sysinfo.get("children").and_then(Value::as_array).map_or(0, Vec::len);
    let mut loads_w = default_loads(outlets);
    let mut nominal_voltage_v = region_voltage(&model);
    if let Some(r) = reading.filter(|_| emeter.is_some()) {
        if r.power_w.is_finite() && r.power_w > 0.0 {
            if let Some(first) = loads_w.first_mut() {
                *first = r.power_w.min(4000.0);
            }
        }
        if r.voltage_v.is_finite() && r.voltage_v > 50.0 && r.voltage_v < 500.0 {
            nominal_voltage_v = r.voltage_v;
        }
    }
    let name = if name.is_empty() { model } else { name };
    Ok(Profile::from_data(ProfileData {
        name,
        sysinfo,
        emeter,
        initial_reading: reading.filter(|_| emeter.is_some()),
        loads_w,
        nominal_voltage_v,
        static_replies,
        unsupported,
        discovery_result,
    }))
}

fn is_not_supported(m: &Map<String, Value>) -> bool {
    m.get("err_code").and_then(Value::as_i64) == Some(-1)
}

fn check_fields(s: &Map<String, Value>, origin: &str) -> Result<(), ProfileError> {
    let bad = |field, problem| Err(ProfileError::BadField { origin: origin.to_string(), field, problem });
    for field in ["model", "hw_ver", "sw_ver"] {
        match s.get(field) {
            Some(Value::String(_)) => {}
            Some(_) => return bad(field, "is not a string"),
            None => return bad(field, "is missing"),
        }
    }
    for field in ["mac", "alias", "deviceId"] {
        if s.get(field).is_some_and(|v| !v.is_string()) {
            return bad(field, "is not a string");
        }
    }
    if let Some(children) = s.get("children") {
        let Some(list) = children.as_array() else { return bad("children", "is not an array") };
        if list.iter().any(|c| !c.is_object()) {
            return bad("children", "has an entry that is not an object");
        }
        if list.len() > 99 {
            return bad("children", "has more than 99 outlets");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const V2_PLUG: &str = r#"{
        "emeter":{"get_realtime":{"current_ma":451,"err_code":0,"power_mw":61753,"total_wh":16323,"voltage_mv":230837}},
        "cnCloud":{"get_info":{"binded":1,"err_code":0,"server":"x"}},
        "smartlife.iot.dimmer":{"err_code":-1,"err_msg":"module not support"},
        "system":{"get_sysinfo":{"alias":"a","deviceId":"00","err_code":0,"feature":"TIM:ENE","hw_ver":"4.0",
            "mac":"B0:95:75:00:00:00","model":"HS110(EU)","relay_state":1,"sw_ver":"1.0.4"}}}"#;

    #[test]
    fn v2_dump() {
        let p = Profile::from_dump_str(V2_PLUG).unwrap();
        assert_eq!(p.name(), "HS110(EU)");
        assert_eq!(p.emeter_scheme(), Some(EmeterScheme::V2));
        assert!((p.base_load_w() - 61.753).abs() < 1e-9);
        assert!((p.nominal_voltage_v() - 230.837).abs() < 1e-9);
        assert_eq!(p.unsupported_modules(), ["smartlife.iot.dimmer".to_string()]);
        assert_eq!(p.static_replies()["cnCloud"]["get_info"]["binded"], 1);
        assert!(!p.sysinfo().contains_key("err_code"));
    }

    #[test]
    fn method_level_minus_one_marks_the_module() {
        let p = Profile::from_dump_str(
            r#"{"emeter":{"get_realtime":{"err_code":-1,"err_msg":"module not support"}},
            "system":{"get_sysinfo":{"feature":"TIM:ENE","hw_ver":"2.0","mac":"","model":"HS100(US)","sw_ver":"1"}}}"#,
        )
        .unwrap();
        assert_eq!(p.emeter_scheme(), None);
        assert_eq!(p.unsupported_modules(), ["emeter".to_string()]);
    }

    #[test]
    fn malformed_dumps_are_typed_errors() {
        assert!(matches!(Profile::from_dump_str("nope"), Err(ProfileError::Json { .. })));
        assert!(matches!(Profile::from_dump_str("[1]"), Err(ProfileError::NotObject { .. })));
        assert!(matches!(Profile::from_dump_str("{}"), Err(ProfileError::NoSysinfo { .. })));
        assert!(matches!(
            Profile::from_dump_str(r#"{"system":{"get_sysinfo":{"err_code":-3}}}"#),
            Err(ProfileError::NoSysinfo { .. })
        ));
        let e = Profile::from_dump_str(r#"{"system":{"get_sysinfo":{"model":5}}}"#).unwrap_err();
        assert!(matches!(e, ProfileError::BadField { field: "model", .. }), "{e}");
        let e = Profile::from_dump_str(
            r#"{"system":{"get_sysinfo":{"model":"m","hw_ver":"1","sw_ver":"1","mac":"","children":5}}}"#,
        )
        .unwrap_err();
        assert!(matches!(e, ProfileError::BadField { field: "children", .. }), "{e}");
        let e = Profile::from_dump_file("/nonexistent/dir/x.json").unwrap_err();
        assert!(matches!(e, ProfileError::Read { .. }));
        assert!(e.to_string().contains("/nonexistent/dir/x.json"));
    }
}
