//! Typed `system.get_sysinfo` (kasa-protocol.md §11) for plugs, strips and dimmers.
//!
//! Parsing is lenient the way devices are varied: `type` or `mic_type`, `mac` or `mic_mac`,
//! float `latitude` or integer `latitude_i`, 0/1 or booleans. Every field not modelled here
//! is kept in [`SysInfo::extra`].

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::{error::ResponseError, response::Response};

/// What kind of Kasa device a sysinfo describes (python-kasa's rules, §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceKind {
    /// A single-outlet plug.
    Plug,
    /// A multi-outlet strip (`children`).
    Strip,
    /// A dimmer (HS220 class, `brightness`).
    Dimmer,
    /// A wall switch (HS200/HS210).
    WallSwitch,
}

/// One outlet of a strip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildInfo {
    /// Outlet id: parent `deviceId` + 2-digit index.
    pub id: String,
    /// Relay state.
    #[serde(deserialize_with = "flag")]
    pub state: bool,
    /// Outlet name.
    #[serde(default)]
    pub alias: String,
    /// Seconds since switched on (0 when off).
    #[serde(default)]
    pub on_time: u64,
    /// Pending rule action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_action: Option<Value>,
}

/// A device's `get_sysinfo` result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SysInfo {
    /// Model with region, e.g. `HS110(EU)`.
    pub model: String,
    /// User-given name.
    #[serde(default)]
    pub alias: String,
    /// MAC address as the device reports it.
    #[serde(alias = "mic_mac", alias = "ethernet_mac")]
    pub mac: String,
    /// 40-hex device id (the cloud id; prefix of child ids).
    #[serde(rename = "deviceId", default)]
    pub device_id: String,
    /// Hardware revision (`1.0`, `4.0`, …); selects the emeter unit scheme.
    #[serde(default)]
    pub hw_ver: String,
    /// Firmware version string.
    #[serde(default)]
    pub sw_ver: String,
    /// Device family (`type` on old firmware, `mic_type` on newer).
    #[serde(rename = "type", alias = "mic_type", default)]
    pub device_type: String,
    /// Marketing name, e.g. "Wi-Fi Smart Plug With Energy Monitoring".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dev_name: Option<String>,
    /// Colon list of features: `TIM`, `ENE`.
    #[serde(default)]
    pub feature: String,
    /// Relay state (single-outlet devices).
    #[serde(default, deserialize_with = "opt_flag", skip_serializing_if = "Option::is_none")]
    pub relay_state: Option<bool>,
    /// Seconds since switched on (single-outlet devices).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_time: Option<u64>,
    /// Status LED disabled.
    #[serde(default, deserialize_with = "opt_flag", skip_serializing_if = "Option::is_none")]
    pub led_off: Option<bool>,
    /// Wi-Fi signal in dBm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rssi: Option<i64>,
    /// Active rule engine (`none`, `schedule`, `count_down`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_mode: Option<String>,
    /// Dimmer level 0–100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brightness: Option<u8>,
    /// Strip outlets (`null` or absent means none).
    #[serde(default, deserialize_with = "null_as_empty", skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ChildInfo>,
    /// Every other field, as sent.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl SysInfo {
    /// Reads the sysinfo out of a reply to a request that included `system.get_sysinfo`.
    pub fn from_response(resp: &Response) -> Result<Self, ResponseError> {
        let obj = resp.result("system", "get_sysinfo")?;
        Self::from_map(obj)
    }

    /// Reads a sysinfo object.
    pub fn from_map(obj: &Map<String, Value>) -> Result<Self, ResponseError> {
        let mut obj = obj.clone();
        obj.remove("err_code");
        serde_json::from_value(Value::Object(obj))
            .map_err(|e| ResponseError::Malformed { what: "sysinfo", detail: e.to_string() })
    }

    /// The device kind.
    pub fn kind(&self) -> DeviceKind {
        let name = self.dev_name.as_deref().unwrap_or("").to_ascii_lowercase();
        if !self.children.is_empty() || self.extra.contains_key("child_num") {
            DeviceKind::Strip
        } else if self.brightness.is_some() || name.contains("dimmer") {
            DeviceKind::Dimmer
        } else if name.contains("light") || name.contains("switch") {
            DeviceKind::WallSwitch
        } else {
            DeviceKind::Plug
        }
    }

    /// Whether the device has an energy meter (`ENE` in `feature`).
    pub fn has_emeter(&self) -> bool {
        self.feature.split(':').any(|f| f == "ENE")
    }

    /// Whether the device is on: the relay for a plug, any outlet for a strip.
    pub fn is_on(&self) -> bool {
        match self.relay_state {
            Some(on) => on,
            None => self.children.iter().any(|c| c.state),
        }
    }

    /// Location in degrees, from `latitude`/`longitude` or `latitude_i`/`longitude_i`.
    pub fn location(&self) -> Option<(f64, f64)> {
        let f = |k: &str| self.extra.get(k).and_then(Value::as_f64);
        match (f("latitude"), f("longitude")) {
            (Some(la), Some(lo)) => Some((la, lo)),
            _ => match (f("latitude_i"), f("longitude_i")) {
                (Some(la), Some(lo)) => Some((la / 10_000.0, lo / 10_000.0)),
                _ => None,
            },
        }
    }

    /// Finds an outlet by full id, by the 2-digit suffix, or by 0-based index.
    pub fn child(&self, id_or_index: &str) -> Option<&ChildInfo> {
        if let Some(c) = self.children.iter().find(|c| c.id == id_or_index) {
            return Some(c);
        }
        if id_or_index.len() == 2 {
            if let Some(c) = self.children.iter().find(|c| c.id.ends_with(id_or_index) && c.id.len() > 2) {
                return Some(c);
            }
        }
        id_or_index.parse::<usize>().ok().and_then(|i| self.children.get(i))
    }
}

fn null_as_empty<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ChildInfo>, D::Error> {
    Ok(Option::<Vec<ChildInfo>>::deserialize(d)?.unwrap_or_default())
}

fn flag_of(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        _ => None,
    }
}

fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    let v = Value::deserialize(d)?;
    flag_of(&v).ok_or_else(|| serde::de::Error::custom(format!("expected 0/1 or a boolean, got {v}")))
}

fn opt_flag<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let v = Value::deserialize(d)?;
    if v.is_null() {
        return Ok(None);
    }
    flag_of(&v)
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("expected 0/1 or a boolean, got {v}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> SysInfo {
        SysInfo::from_response(&Response::parse(s.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn plug_hw1() {
        let s = parse(
            r#"{"system":{"get_sysinfo":{"err_code":0,"sw_ver":"1.2.5 Build 171213 Rel.101523","hw_ver":"1.0",
            "type":"IOT.SMARTPLUGSWITCH","model":"HS110(EU)","mac":"50:C7:BF:01:F8:CD",
            "deviceId":"8006588E50AD389303FF31AB6302907A17442F16","alias":"Kitchen",
            "dev_name":"Wi-Fi Smart Plug With Energy Monitoring","relay_state":1,"on_time":512874,
            "feature":"TIM:ENE","rssi":-71,"led_off":1,"latitude":51.476938,"longitude":7.216849}}}"#,
        );
        assert_eq!(s.kind(), DeviceKind::Plug);
        assert!(s.is_on() && s.has_emeter());
        assert_eq!(s.led_off, Some(true));
        assert_eq!(s.device_type, "IOT.SMARTPLUGSWITCH");
        assert_eq!(s.location(), Some((51.476938, 7.216849)));
    }

    #[test]
    fn strip_and_dimmer() {
        let s = parse(
            r#"{"system":{"get_sysinfo":{"model":"HS300(US)","mac":"D8:0D:17:BA:CE:34","mic_type":"IOT.SMARTPLUGSWITCH",
            "deviceId":"800671B8B6CC08249B39955E766F0C281B1C1245","feature":"TIM:ENE","latitude_i":515000,"longitude_i":-1000,
            "children":[{"id":"800671B8B6CC08249B39955E766F0C281B1C124500","state":0,"alias":"a","on_time":0},
                        {"id":"800671B8B6CC08249B39955E766F0C281B1C124501","state":true,"alias":"b","on_time":5}],
            "child_num":2,"err_code":0}}}"#,
        );
        assert_eq!(s.kind(), DeviceKind::Strip);
        assert!(s.is_on());
        assert_eq!(s.child("1").unwrap().alias, "b");
        assert_eq!(s.child("00").unwrap().alias, "a");
        assert_eq!(s.location(), Some((51.5, -0.1)));
        let d = parse(
            r#"{"system":{"get_sysinfo":{"model":"HS220(US)","mac":"x","dev_name":"Wi-Fi Smart Dimmer","brightness":40,"relay_state":0}}}"#,
        );
        assert_eq!(d.kind(), DeviceKind::Dimmer);
        assert!(!d.is_on());
    }

    #[test]
    fn malformed_sysinfo_is_an_error() {
        let r = Response::parse(br#"{"system":{"get_sysinfo":{"model":5}}}"#).unwrap();
        assert!(matches!(SysInfo::from_response(&r), Err(ResponseError::Malformed { .. })));
        let r = Response::parse(br#"{"system":{"get_sysinfo":{"model":"x","mac":"y","relay_state":"on"}}}"#)
            .unwrap();
        assert!(matches!(SysInfo::from_response(&r), Err(ResponseError::Malformed { .. })));
    }
}
