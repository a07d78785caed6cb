//! Built-in profiles, written from the field tables of kasa-protocol.md §11 (not copied from
//! dumps). Ids are left as zeros and the alias empty: [`Profile::instantiate`] fills them in.
//!
//! | name | model | notes |
//! |---|---|---|
//! | `hs100-hw1` | HS100(US) hw 1.0, fw 1.2.5 | `type`, `fwId`, float `latitude`/`longitude`, feature `TIM` |
//! | `hs100-hw2` | HS100(US) hw 2.0, fw 1.5.6 | `latitude_i`/`longitude_i`, `next_action` |
//! | `hs110-hw1` | HS110(EU) hw 1.0, fw 1.2.5 | `TIM:ENE`, v1 float emeter units |
//! | `hs110-hw4` | HS110(EU) hw 4.0, fw 1.0.4 | `mic_type`, v2 integer emeter units |
//! | `hs300` | HS300(US) hw 1.0 | 6 outlets, per-outlet v2 emeter; no top-level relay |
//! | `kp115` | KP115(US) hw 1.0 | v2 emeter, `ntc_state`, `obd_src` |
//!
//! [`builtin`] accepts more spellings, case-insensitively, ignoring punctuation: the name
//! itself (`HS110-HW1`), a model with optional region and hardware version (`hs110`,
//! `HS110(EU)`, `hs110v1`, `hs110 hw1.0`, `hs110eu_v4`). A bare model picks the oldest
//! hardware listed; HS110 hw 2–4 map to `hs110-hw4` (all use integer units).

use plugctl_proto::kasa::EmeterScheme;
use serde_json::{json, Map, Value};

use super::{default_loads, region_voltage, Profile, ProfileData};

const NAMES: &[&str] = &["hs100-hw1", "hs100-hw2", "hs110-hw1", "hs110-hw4", "hs300", "kp115"];

const ZERO_ID40: &str = "0000000000000000000000000000000000000000";
const ZERO_ID32: &str = "00000000000000000000000000000000";

/// The canonical names of the built-in profiles.
pub fn builtin_names() -> &'static [&'static str] {
    NAMES
}

/// A built-in profile by name or alias (see the module docs), or `None`.
pub fn builtin(name: &str) -> Option<Profile> {
    let canonical = resolve(name)?;
    let (sysinfo, emeter) = match canonical {
        "hs100-hw1" => (hs100_hw1(), None),
        "hs100-hw2" => (hs100_hw2(), None),
        "hs110-hw1" => (hs110_hw1(), Some(EmeterScheme::V1)),
        "hs110-hw4" => (hs110_hw4(), Some(EmeterScheme::V2)),
        "hs300" => (hs300(), Some(EmeterScheme::V2)),
        "kp115" => (kp115(), Some(EmeterScheme::V2)),
        _ => return None,
    };
    let model = sysinfo.get("model").and_then(Value::as_str).unwrap_or("").to_string();
    let outlets = sysinfo.get("children").and_then(Value::as_array).map_or(0, Vec::len);
    Some(Profile::from_data(ProfileData {
        name: canonical.to_string(),
        sysinfo,
        emeter,
        initial_reading: None,
        loads_w: default_loads(outlets),
        nominal_voltage_v: region_voltage(&model),
        static_replies: Map::new(),
        unsupported: Vec::new(),
        discovery_result: None,
    }))
}

/// Maps any accepted spelling to a canonical name.
fn resolve(name: &str) -> Option<&'static str> {
    let norm: String =
        name.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect();
    if let Some(n) = NAMES.iter().find(|n| n.replace('-', "") == norm) {
        return Some(n);
    }
    let letters = norm.bytes().take_while(u8::is_ascii_lowercase).count();
    let digits = norm[letters..].bytes().take_while(u8::is_ascii_digit).count();
    let (model, mut rest) = norm.split_at(letters + digits);
    for region in ["us", "eu", "uk", "au", "ca"] {
        if let Some(r) = rest.strip_prefix(region) {
            rest = r;
            break;
        }
    }
    let rest = rest.strip_prefix("hw").or_else(|| rest.strip_prefix('v')).unwrap_or(rest);
    let major = match rest.bytes().next() {
        None => None,
        Some(b) if b.is_ascii_digit() => Some(b - b'0'),
        Some(_) => return None,
    };
    match (model, major) {
        ("hs100", None | Some(1)) => Some("hs100-hw1"),
        ("hs100", Some(2)) => Some("hs100-hw2"),
        ("hs110", None | Some(1)) => Some("hs110-hw1"),
        ("hs110", Some(2..=4)) => Some("hs110-hw4"),
        ("hs300", None | Some(1)) => Some("hs300"),
        ("kp115", None | Some(1)) => Some("kp115"),
        _ => None,
    }
}

fn object(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Old-style sysinfo (hw 1.x, fw 1.2.x): `type`, `fwId`, float location.
fn hs100_hw1() -> Map<String, Value> {
    object(json!({
        "sw_ver": "1.2.5 Build 171206 Rel.085954",
        "hw_ver": "1.0",
        "type": "IOT.SMARTPLUGSWITCH",
        "model": "HS100(US)",
        "mac": "50:C7:BF:5A:21:7E",
        "deviceId": ZERO_ID40,
        "hwId": ZERO_ID32,
        "fwId": ZERO_ID32,
        "oemId": ZERO_ID32,
        "alias": "",
        "dev_name": "Wi-Fi Smart Plug",
        "icon_hash": "",
        "relay_state": 0,
        "on_time": 0,
        "active_mode": "none",
        "feature": "TIM",
        "updating": 0,
        "rssi": -58,
        "led_off": 0,
        "latitude": 0,
        "longitude": 0,
    }))
}

/// hw 2.0, fw 1.5.x: integer location, `next_action`.
fn hs100_hw2() -> Map<String, Value> {
    object(json!({
        "sw_ver": "1.5.6 Build 191125 Rel.083657",
        "hw_ver": "2.0",
        "type": "IOT.SMARTPLUGSWITCH",
        "model": "HS100(US)",
        "mac": "D8:0D:17:3C:90:4B",
        "deviceId": ZERO_ID40,
        "hwId": ZERO_ID32,
        "fwId": ZERO_ID32,
        "oemId": ZERO_ID32,
        "alias": "",
        "dev_name": "Smart Wi-Fi Plug",
        "icon_hash": "",
        "relay_state": 0,
        "on_time": 0,
        "active_mode": "none",
        "feature": "TIM",
        "updating": 0,
        "rssi": -52,
        "led_off": 0,
        "latitude_i": 0,
        "longitude_i": 0,
        "next_action": {"type": -1},
    }))
}

/// HS110 hw 1.0: energy monitoring in float units.
fn hs110_hw1() -> Map<String, Value> {
    object(json!({
        "sw_ver": "1.2.5 Build 171213 Rel.101523",
        "hw_ver": "1.0",
        "type": "IOT.SMARTPLUGSWITCH",
        "model": "HS110(EU)",
        "mac": "50:C7:BF:0B:4E:92",
        "deviceId": ZERO_ID40,
        "hwId": ZERO_ID32,
        "fwId": ZERO_ID32,
        "oemId": ZERO_ID32,
        "alias": "",
        "dev_name": "Wi-Fi Smart Plug With Energy Monitoring",
        "icon_hash": "",
        "relay_state": 1,
        "on_time": 0,
        "active_mode": "none",
        "feature": "TIM:ENE",
        "updating": 0,
        "rssi": -64,
        "led_off": 0,
        "latitude": 0,
        "longitude": 0,
    }))
}

/// HS110 hw 4.0: `mic_type`, no `fwId`, integer units.
fn hs110_hw4() -> Map<String, Value> {
    object(json!({
        "sw_ver": "1.0.4 Build 191105 Rel.120218",
        "hw_ver": "4.0",
        "mic_type": "IOT.SMARTPLUGSWITCH",
        "model": "HS110(EU)",
        "mac": "B0:95:75:6E:13:A8",
        "deviceId": ZERO_ID40,
        "hwId": ZERO_ID32,
        "oemId": ZERO_ID32,
        "alias": "",
        "dev_name": "Smart Wi-Fi Plug With Energy Monitoring",
        "icon_hash": "",
        "relay_state": 1,
        "on_time": 0,
        "active_mode": "none",
        "feature": "TIM:ENE",
        "updating": 0,
        "rssi": -61,
        "led_off": 0,
        "latitude_i": 0,
        "longitude_i": 0,
        "next_action": {"type": -1},
        "status": "new",
    }))
}

/// HS300: 6 outlets, no top-level relay/on_time/dev_name/active_mode.
fn hs300() -> Map<String, Value> {
    let children: Vec<Value> = (0..6)
        .map(|_| json!({"id": "", "state": 1, "alias": "", "on_time": 0, "next_action": {"type": -1}}))
        .collect();
    object(json!({
        "sw_ver": "1.0.19 Build 200224 Rel.090814",
        "hw_ver": "1.0",
        "model": "HS300(US)",
        "deviceId": ZERO_ID40,
        "oemId": ZERO_ID32,
        "hwId": ZERO_ID32,
        "rssi": -49,
        "longitude_i": 0,
        "latitude_i": 0,
        "alias": "",
        "status": "new",
        "mic_type": "IOT.SMARTPLUGSWITCH",
        "feature": "TIM:ENE",
        "mac": "1C:3B:F3:72:C5:19",
        "updating": 0,
        "led_off": 0,
        "children": children,
        "child_num": 6,
    }))
}

/// KP115: small plug with v2 emeter.
fn kp115() -> Map<String, Value> {
    object(json!({
        "sw_ver": "1.0.18 Build 210910 Rel.141202",
        "hw_ver": "1.0",
        "model": "KP115(US)",
        "deviceId": ZERO_ID40,
        "oemId": ZERO_ID32,
        "hwId": ZERO_ID32,
        "rssi": -57,
        "latitude_i": 0,
        "longitude_i": 0,
        "alias": "",
        "status": "new",
        "obd_src": "tplink",
        "mic_type": "IOT.SMARTPLUGSWITCH",
        "feature": "TIM:ENE",
        "mac": "54:AF:97:2D:61:F0",
        "updating": 0,
        "led_off": 0,
        "relay_state": 0,
        "on_time": 0,
        "icon_hash": "",
        "dev_name": "Smart Wi-Fi Plug Mini",
        "active_mode": "none",
        "next_action": {"type": -1},
        "ntc_state": 0,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_builds() {
        for n in builtin_names() {
            let p = builtin(n).unwrap();
            assert_eq!(p.name(), *n);
            assert!(!p.model().is_empty());
        }
    }

    #[test]
    fn aliases() {
        let name = |s: &str| builtin(s).map(|p| p.name().to_string());
        assert_eq!(name("HS110").as_deref(), Some("hs110-hw1"));
        assert_eq!(name("hs110v1").as_deref(), Some("hs110-hw1"));
        assert_eq!(name("HS110(EU)").as_deref(), Some("hs110-hw1"));
        assert_eq!(name("hs110 hw4.0").as_deref(), Some("hs110-hw4"));
        assert_eq!(name("hs110v2").as_deref(), Some("hs110-hw4"));
        assert_eq!(name("HS110-HW4").as_deref(), Some("hs110-hw4"));
        assert_eq!(name("hs100").as_deref(), Some("hs100-hw1"));
        assert_eq!(name("hs100_v2").as_deref(), Some("hs100-hw2"));
        assert_eq!(name("HS300(US)").as_deref(), Some("hs300"));
        assert_eq!(name("KP115").as_deref(), Some("kp115"));
        assert_eq!(name("hs110v9"), None);
        assert_eq!(name("hs110x"), None);
        assert_eq!(name(""), None);
        assert_eq!(name("hs220"), None);
    }

    #[test]
    fn shapes_follow_section_11() {
        let hs300 = builtin("hs300").unwrap();
        assert_eq!(hs300.strip_outlets(), 6);
        for k in ["relay_state", "on_time", "dev_name", "active_mode"] {
            assert!(!hs300.sysinfo().contains_key(k), "{k}");
        }
        let hw1 = builtin("hs100-hw1").unwrap();
        assert!(hw1.sysinfo().contains_key("latitude") && hw1.sysinfo().contains_key("fwId"));
        assert_eq!(hw1.emeter_scheme(), None);
        assert_eq!(builtin("hs110-hw1").unwrap().emeter_scheme(), Some(EmeterScheme::V1));
        assert_eq!(builtin("kp115").unwrap().nominal_voltage_v(), 120.0);
    }
}
