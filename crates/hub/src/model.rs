//! Devices, readings and availability, as the registry keeps them and the API shows them.

use std::{net::IpAddr, time::Duration};

use plugctl_client::Family;
use serde::{Deserialize, Serialize};

/// A device's stable id: `kasa-<deviceId>` for Kasa devices, `hf-<MAC12>` for Hi-Flying
/// plugs. Never derived from the IP address, so a DHCP change does not make a new device.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeviceId(pub String);

impl DeviceId {
    /// The id of a Kasa device.
    pub fn kasa(device_id: &str) -> Self {
        Self(format!("kasa-{}", device_id.to_ascii_uppercase()))
    }

    /// The id of a Hi-Flying plug.
    pub fn hf(mac12: &str) -> Self {
        Self(format!("hf-{}", mac12.to_ascii_uppercase()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for DeviceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a device entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The configuration file.
    Config,
    /// Periodic discovery.
    Discovery,
    /// Added through the API.
    Api,
}

/// One outlet of a strip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutletInfo {
    /// 0-based index.
    pub index: usize,
    /// The device's outlet id.
    pub id: String,
    /// Outlet name.
    pub name: String,
}

/// What the hub knows about a device (everything but live readings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// Stable id.
    pub id: DeviceId,
    /// Family.
    pub family: Family,
    /// Current address.
    pub host: IpAddr,
    /// Control port (TCP).
    pub port: u16,
    /// Hi-Flying UDP port (state, discovery).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub udp_port: Option<u16>,
    /// Display name (the user's, else the device's alias).
    pub name: String,
    /// Room.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// Free tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Model, e.g. `HS110(EU)`.
    pub model: String,
    /// MAC as the device reports it.
    pub mac: String,
    /// Firmware version (Kasa sysinfo `sw_ver`); `None` where the device does not report it
    /// (Hi-Flying plugs) or not yet known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sw_version: Option<String>,
    /// Strip outlets (empty for single-outlet devices).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outlets: Vec<OutletInfo>,
    /// Poll interval.
    #[serde(with = "secs")]
    pub interval: Duration,
    /// Keep the plug's clock synced from the hub (cloud-free mode, Kasa only).
    #[serde(default)]
    pub cloud_free: bool,
    /// Where the entry came from.
    pub source: Source,
}

/// One poll's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    /// When it was taken (Unix milliseconds).
    pub at_ms: i64,
    /// Relay state (any outlet on, for a strip).
    pub on: bool,
    /// Outlet states, for a strip.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outlets_on: Vec<bool>,
    /// Active power, W (devices with a meter).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub power_w: Option<f64>,
    /// Voltage, V.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voltage_v: Option<f64>,
    /// Current, A.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_a: Option<f64>,
    /// The device's cumulative energy counter, kWh (resets on some reboots: see the store).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_kwh: Option<f64>,
    /// Wi-Fi signal, dBm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rssi: Option<i64>,
    /// How long the poll took, ms.
    pub latency_ms: f64,
}

/// Whether the hub can reach a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Availability {
    /// Reachable at the last attempt(s).
    pub online: bool,
    /// Since when (Unix ms) the device has been in this state.
    pub since_ms: i64,
    /// Failed polls in a row.
    pub consecutive_failures: u32,
    /// The last error, one line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// A device as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceView {
    /// Static facts.
    #[serde(flatten)]
    pub info: DeviceInfo,
    /// The last successful reading.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reading: Option<Reading>,
    /// Reachability.
    pub availability: Availability,
}

mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let v = f64::deserialize(d)?;
        if !(v.is_finite() && v > 0.0) {
            return Err(serde::de::Error::custom("interval must be a positive number of seconds"));
        }
        Ok(Duration::from_secs_f64(v))
    }
}

/// The current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_info_without_sw_version_still_loads() {
        // Stored by a run before `sw_version` existed.
        let old = r#"{"id":"kasa-X","family":"kasa","host":"127.0.0.2","port":9999,"name":"Fridge",
            "tags":[],"model":"HS110(EU)","mac":"B0:95:75:00:00:01","interval":2.0,"source":"config"}"#;
        let i: DeviceInfo = serde_json::from_str(old).expect("old entry parses");
        assert_eq!(i.sw_version, None);
        assert!(!serde_json::to_string(&i).unwrap().contains("sw_version"));
        let i = DeviceInfo { sw_version: Some("1.0.4 Build 191105 Rel.120218".into()), ..i };
        let back: DeviceInfo = serde_json::from_str(&serde_json::to_string(&i).unwrap()).unwrap();
        assert_eq!(back.sw_version.as_deref(), Some("1.0.4 Build 191105 Rel.120218"));
    }
}
