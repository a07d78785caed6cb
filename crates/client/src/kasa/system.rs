//! System settings (kasa-protocol.md §8.1, §8.9): location, factory reset, dimmer brightness
//! and the alias length limit.
//!
//! Unverified points and the choices made here:
//! - The alias limit is unknown; [`MAX_ALIAS_BYTES`] (32 **bytes** of UTF-8, so "ü" counts
//!   2) is enforced before sending, the Kasa app's limit being 32 characters of, mostly,
//!   ASCII.
//! - `set_dev_location` is sent with both schemes at once (floats and `*_i` = degrees ×
//!   10 000), as tplink-smarthome-api does, so either firmware finds what it reads.
//! - `reset` wipes the plug's settings (presumably Wi-Fi, cloud binding, alias, rules) and
//!   returns it to set-up (AP) mode; like `reboot`, a delay of 0 gets no reply and is refused.
//! - Brightness 1–100 (`smartlife.iot.dimmer.set_brightness`); firmware has no brightness
//!   0, so 0 switches the dimmer off instead.

use plugctl_proto::kasa::{DeviceKind, Request};
use serde_json::json;

use super::{calls, KasaDevice};
use crate::error::{Error, Result};

/// Longest alias sent, in UTF-8 bytes.
pub const MAX_ALIAS_BYTES: usize = 32;

/// Why an alias is refused before sending.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AliasError {
    /// Empty.
    #[error("the alias is empty")]
    Empty,
    /// Longer than [`MAX_ALIAS_BYTES`].
    #[error("the alias is {bytes} bytes long in UTF-8; Kasa plugs take at most {MAX_ALIAS_BYTES} bytes (non-ASCII characters count 2-4 bytes each)")]
    TooLong {
        /// Its length in bytes.
        bytes: usize,
    },
    /// Contains control characters.
    #[error("the alias contains control characters")]
    Control,
}

/// Checks an alias against the limits (see [`MAX_ALIAS_BYTES`]).
pub fn check_alias(alias: &str) -> Result<(), AliasError> {
    if alias.is_empty() {
        return Err(AliasError::Empty);
    }
    if alias.len() > MAX_ALIAS_BYTES {
        return Err(AliasError::TooLong { bytes: alias.len() });
    }
    if alias.chars().any(char::is_control) {
        return Err(AliasError::Control);
    }
    Ok(())
}

/// Checks a location in degrees.
pub fn check_location(latitude: f64, longitude: f64) -> Result<(), String> {
    if !latitude.is_finite() || latitude.abs() > 90.0 {
        return Err(format!("latitude {latitude} is outside -90..90"));
    }
    if !longitude.is_finite() || longitude.abs() > 180.0 {
        return Err(format!("longitude {longitude} is outside -180..180"));
    }
    Ok(())
}

impl KasaDevice {
    /// The location in degrees `(latitude, longitude)` from sysinfo (either scheme), if the
    /// device reports one.
    pub async fn location(&self) -> Result<Option<(f64, f64)>> {
        Ok(self.sysinfo().await?.location())
    }

    /// Sets the location (used by sunrise/sunset rules).
    pub async fn set_location(&self, latitude: f64, longitude: f64) -> Result<()> {
        check_location(latitude, longitude).map_err(|e| calls::invalid(self, e))?;
        let params = json!({
            "latitude": latitude,
            "longitude": longitude,
            "latitude_i": (latitude * 10_000.0).round() as i64,
            "longitude_i": (longitude * 10_000.0).round() as i64,
        });
        let req = Request::new().with("system", "set_dev_location", params);
        calls::call(self, &req, "system", "set_dev_location").await.map(drop)
    }

    /// Factory-resets the device after `delay_s` seconds (`system.reset`). It forgets its
    /// settings and goes back to set-up mode. A delay of 0 is refused (no reply would come).
    pub async fn factory_reset(&self, delay_s: u32) -> Result<()> {
        if delay_s == 0 {
            return Err(calls::invalid(
                self,
                "a reset delay of 0 s makes the device reset without replying; use 1 s or more",
            ));
        }
        let req = Request::new().with("system", "reset", json!({ "delay": delay_s }));
        calls::call(self, &req, "system", "reset").await.map(drop)
    }

    /// The brightness of a dimmer (HS220 class), 0–100.
    pub async fn brightness(&self) -> Result<u8> {
        let info = self.sysinfo().await?;
        match info.brightness {
            Some(b) => Ok(b),
            None => Err(not_a_dimmer(self, &info.model)),
        }
    }

    /// Sets a dimmer's brightness: 1–100, or 0 to switch it off (brightness kept).
    pub async fn set_brightness(&self, brightness: u8) -> Result<()> {
        if brightness > 100 {
            return Err(calls::invalid(self, format!("brightness {brightness} is outside 0-100")));
        }
        let info = calls::known(self).await?;
        if info.kind() != DeviceKind::Dimmer || info.brightness.is_none() {
            return Err(not_a_dimmer(self, &info.model));
        }
        if brightness == 0 {
            return self.set_power(false, None).await;
        }
        let req = Request::new().with(
            "smartlife.iot.dimmer",
            "set_brightness",
            json!({ "brightness": brightness }),
        );
        calls::call(self, &req, "smartlife.iot.dimmer", "set_brightness").await.map(drop)
    }
}

fn not_a_dimmer(dev: &KasaDevice, model: &str) -> Error {
    calls::unsupported(dev, format!("{model} is not a dimmer (no brightness in its sysinfo)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_limit_is_in_bytes() {
        assert_eq!(check_alias(&"a".repeat(32)), Ok(()));
        assert_eq!(check_alias(&"a".repeat(33)), Err(AliasError::TooLong { bytes: 33 }));
        // 16 two-byte characters fit, 17 do not.
        assert_eq!(check_alias(&"ü".repeat(16)), Ok(()));
        assert_eq!(check_alias(&"ü".repeat(17)), Err(AliasError::TooLong { bytes: 34 }));
        assert_eq!(check_alias(""), Err(AliasError::Empty));
        assert_eq!(check_alias("a\nb"), Err(AliasError::Control));
    }

    #[test]
    fn location_ranges() {
        assert!(check_location(50.94, 6.96).is_ok());
        assert!(check_location(91.0, 0.0).is_err());
        assert!(check_location(0.0, -180.5).is_err());
        assert!(check_location(f64::NAN, 0.0).is_err());
    }
}
