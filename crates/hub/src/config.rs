//! The hub's TOML configuration. Every field has a default, so an empty file is valid.
//!
//! ```toml
//! [hub]
//! listen = "127.0.0.1:8080"
//! poll_interval = 10            # seconds; 1 allowed
//!
//! [discovery]
//! enabled = true
//! interval = 300                # seconds
//! target = "255.255.255.255"
//!
//! [location]                    # for sunrise/sunset schedules
//! latitude = 52.52
//! longitude = 13.405
//! timezone = "Europe/Berlin"
//!
//! [retention]
//! raw_days = 7
//! minute_days = 90              # hourly data is kept forever
//!
//! [[device]]
//! host = "192.0.2.10"           # HOST or HOST:PORT
//! family = "kasa"               # optional: probed if omitted
//! name = "Kettle"
//! room = "Kitchen"
//! tags = ["appliance"]
//! interval = 1
//! cloud_free = true
//!
//! [mqtt]                        # optional: the MQTT bridge with Home Assistant discovery
//! url = "mqtt://user:pass@broker.lan:1883"   # or mqtts:// (TLS)
//! # ca_file = "/etc/plugctl/broker-ca.pem"  # mqtts:// with a private CA (instead of system roots)
//! client_id = "plugctl-kitchen"
//! base_topic = "plugctl"
//! node_id = "kitchen"           # unique per hub on one broker
//! discovery_prefix = "homeassistant"
//! ```

use std::{net::SocketAddr, path::Path, time::Duration};

use plugctl_client::Family;
use serde::{Deserialize, Serialize};

/// A problem with the configuration file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {error}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// The file is not valid TOML or has wrong fields.
    #[error("{path}: {error}")]
    Parse {
        /// The file.
        path: String,
        /// Why, with line and column.
        error: String,
    },
    /// A value is out of range.
    #[error("{0}")]
    Invalid(String),
}

/// The whole configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HubConfig {
    /// Server settings.
    pub hub: HubSection,
    /// Periodic discovery.
    pub discovery: DiscoverySection,
    /// Where the hub is (sunrise and sunset).
    pub location: Option<Location>,
    /// How long samples are kept.
    pub retention: Retention,
    /// Devices named explicitly.
    #[serde(rename = "device")]
    pub devices: Vec<DeviceEntry>,
    /// The MQTT bridge with Home Assistant discovery (off unless `url` is set).
    pub mqtt: MqttSection,
}

/// `[mqtt]`: the MQTT bridge (see `crate::mqtt`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MqttSection {
    /// `mqtt://[user:pass@]host[:port][/base]` or `mqtts://…` (TLS); none: the bridge is off.
    pub url: Option<String>,
    /// MQTT client id (default `plugctl-<hostname>-<listen port>`).
    pub client_id: Option<String>,
    /// Base topic (default `plugctl`; a path in the URL overrides it).
    pub base_topic: String,
    /// Home Assistant node id (default: the client id as a slug); unique per hub on a broker.
    pub node_id: Option<String>,
    /// Home Assistant discovery prefix.
    pub discovery_prefix: String,
    /// PEM file of CA certificates for `mqtts://`, trusted instead of the system's roots
    /// (a broker with a private CA).
    pub ca_file: Option<String>,
}

impl Default for MqttSection {
    fn default() -> Self {
        Self {
            url: None,
            client_id: None,
            base_topic: "plugctl".into(),
            node_id: None,
            discovery_prefix: "homeassistant".into(),
            ca_file: None,
        }
    }
}

/// `[hub]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HubSection {
    /// Address to serve the API and dashboard on.
    pub listen: SocketAddr,
    /// Default poll interval, seconds (≥ 1).
    pub poll_interval: f64,
    /// Database path (default: the platform data directory).
    pub db: Option<String>,
}

impl Default for HubSection {
    fn default() -> Self {
        Self { listen: SocketAddr::from(([127, 0, 0, 1], 8080)), poll_interval: 10.0, db: None }
    }
}

/// `[discovery]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiscoverySection {
    /// Run discovery periodically.
    pub enabled: bool,
    /// Seconds between runs.
    pub interval: f64,
    /// Broadcast address.
    pub target: String,
    /// Kasa port.
    pub kasa_port: u16,
    /// Hi-Flying UDP port.
    pub hf_port: u16,
    /// Hi-Flying control port.
    pub hf_control_port: u16,
}

impl Default for DiscoverySection {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: 300.0,
            target: "255.255.255.255".into(),
            kasa_port: 9999,
            hf_port: 48899,
            hf_control_port: 8899,
        }
    }
}

/// `[location]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    /// Degrees north.
    pub latitude: f64,
    /// Degrees east.
    pub longitude: f64,
    /// IANA zone for schedules (default: the host's).
    #[serde(default)]
    pub timezone: Option<String>,
}

/// `[retention]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Retention {
    /// Days of raw samples.
    pub raw_days: u32,
    /// Days of 1-minute aggregates (hourly ones are kept forever).
    pub minute_days: u32,
}

impl Default for Retention {
    fn default() -> Self {
        Self { raw_days: 7, minute_days: 90 }
    }
}

/// `[[device]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceEntry {
    /// `HOST` or `HOST:PORT`.
    pub host: String,
    /// Family; probed if omitted.
    #[serde(default)]
    pub family: Option<Family>,
    /// Hi-Flying UDP port (default 48899).
    #[serde(default)]
    pub udp_port: Option<u16>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// Room.
    #[serde(default)]
    pub room: Option<String>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Poll interval, seconds (default: `[hub] poll_interval`).
    #[serde(default)]
    pub interval: Option<f64>,
    /// Keep the plug's clock synced from the hub (Kasa).
    #[serde(default)]
    pub cloud_free: bool,
}

impl HubConfig {
    /// Parses TOML text (`path` only names the source in errors).
    pub fn parse(text: &str, path: &str) -> Result<Self, ConfigError> {
        let cfg: HubConfig = toml::from_str(text)
            .map_err(|e| ConfigError::Parse { path: path.to_string(), error: e.to_string() })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|error| ConfigError::Read { path: shown.clone(), error })?;
        Self::parse(&text, &shown)
    }

    /// Checks ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let interval_ok = |v: f64| v.is_finite() && (1.0..=86_400.0).contains(&v);
        if !interval_ok(self.hub.poll_interval) {
            return Err(ConfigError::Invalid(format!(
                "[hub] poll_interval = {} is out of range (1 to 86400 seconds)",
                self.hub.poll_interval
            )));
        }
        if !interval_ok(self.discovery.interval) {
            return Err(ConfigError::Invalid(
                "[discovery] interval is out of range (1 to 86400 seconds)".into(),
            ));
        }
        if let Some(l) = &self.location {
            if !(-90.0..=90.0).contains(&l.latitude) || !(-180.0..=180.0).contains(&l.longitude) {
                return Err(ConfigError::Invalid("[location] latitude/longitude out of range".into()));
            }
        }
        if self.mqtt.url.is_some() {
            crate::mqtt::Settings::from_config(self)
                .map_err(|e| ConfigError::Invalid(format!("[mqtt] {}", e.0)))?;
        }
        for (i, d) in self.devices.iter().enumerate() {
            if d.host.trim().is_empty() {
                return Err(ConfigError::Invalid(format!("[[device]] #{} has an empty host", i + 1)));
            }
            if let Some(v) = d.interval {
                if !interval_ok(v) {
                    return Err(ConfigError::Invalid(format!(
                        "[[device]] {}: interval = {v} is out of range (1 to 86400 seconds)",
                        d.host
                    )));
                }
            }
        }
        Ok(())
    }

    /// The poll interval of an entry.
    pub fn interval_of(&self, d: &DeviceEntry) -> Duration {
        Duration::from_secs_f64(d.interval.unwrap_or(self.hub.poll_interval))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_valid_and_defaults_apply() {
        let c = HubConfig::parse("", "x").unwrap();
        assert_eq!(c.hub.poll_interval, 10.0);
        assert_eq!(c.retention.raw_days, 7);
        assert!(c.devices.is_empty());
    }

    #[test]
    fn full_example_parses() {
        let c = HubConfig::parse(
            r#"
            [hub]
            listen = "127.0.0.1:9000"
            poll_interval = 1
            [location]
            latitude = 52.52
            longitude = 13.405
            timezone = "Europe/Berlin"
            [[device]]
            host = "127.0.0.2:9999"
            family = "kasa"
            name = "Kettle"
            tags = ["a"]
            interval = 2
            cloud_free = true
            "#,
            "x",
        )
        .unwrap();
        assert_eq!(c.devices[0].family, Some(Family::Kasa));
        assert_eq!(c.interval_of(&c.devices[0]), Duration::from_secs(2));
    }

    #[test]
    fn errors_are_clear() {
        let e = HubConfig::parse("[hub]\npoll_interval = 0.1", "hub.toml").unwrap_err();
        assert!(e.to_string().contains("poll_interval"), "{e}");
        let e = HubConfig::parse("[hub]\nbogus = 1", "hub.toml").unwrap_err();
        assert!(e.to_string().contains("hub.toml") && e.to_string().contains("bogus"), "{e}");
    }
}
