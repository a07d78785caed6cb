//! Wi-Fi set-up for both families: list the networks a plug sees, and point it at one.
//!
//! - Kasa: `netif.get_scaninfo` and `netif.set_stainfo` over the normal connection (in AP
//!   mode the plug is at 192.168.0.1).
//! - Hi-Flying: the assist protocol on UDP 48899 ([`crate::hf::wifi`]): handshake, settings,
//!   read-back, `AT+WMODE=STA`, `AT+Z` (in AP mode the plug is at 10.10.100.254).
//!
//! The SSID (1–32 bytes) and the key (none for open networks, 8–63 characters or 64 hex
//! digits for WPA/WPA2) are checked before anything is sent.

use serde_json::{json, Value};

use super::{Device, WifiNetwork};
use crate::{
    error::{Error, Result},
    hf,
    kasa::Request,
};
use plugctl_proto::hf::assist::wifi::validate_ssid;

/// The security of the network to join (`wpa2-aes`, `wpa-tkip`, `open`).
pub use crate::hf::wifi::Security as WifiSecurity;

/// Kasa `key_type`: 0 none, 1 WEP, 2 WPA, 3 WPA2.
fn kasa_key_type(s: WifiSecurity) -> u8 {
    match s {
        WifiSecurity::Wpa2Aes => 3,
        WifiSecurity::WpaTkip => 2,
        WifiSecurity::Open => 0,
    }
}

fn kasa_key_name(key_type: i64) -> &'static str {
    match key_type {
        0 => "open",
        1 => "wep",
        2 => "wpa",
        3 => "wpa2",
        _ => "unknown",
    }
}

impl Device {
    /// The networks the plug sees.
    pub async fn wifi_scan(&self) -> Result<Vec<WifiNetwork>> {
        match self {
            Device::Kasa(d) => {
                let addr = d.addr();
                let resp =
                    d.query(&Request::new().with("netif", "get_scaninfo", json!({"refresh": 1}))).await?;
                let r = resp.result("netif", "get_scaninfo").map_err(|e| Error::from_response(addr, e))?;
                let list = r.get("ap_list").and_then(Value::as_array).ok_or_else(|| {
                    Error::from_response(
                        addr,
                        crate::kasa::ResponseError::Malformed {
                            what: "scan reply",
                            detail: "no ap_list array".into(),
                        },
                    )
                })?;
                Ok(list
                    .iter()
                    .filter_map(|ap| {
                        Some(WifiNetwork {
                            ssid: ap.get("ssid")?.as_str()?.to_string(),
                            security: kasa_key_name(ap.get("key_type").and_then(Value::as_i64).unwrap_or(-1))
                                .to_string(),
                            signal: ap.get("rssi").and_then(Value::as_i64),
                            channel: ap
                                .get("channel")
                                .and_then(Value::as_u64)
                                .and_then(|c| u8::try_from(c).ok()),
                            bssid: ap.get("bssid").and_then(Value::as_str).map(str::to_string),
                        })
                    })
                    .collect())
            }
            Device::Hf(d) => Ok(hf::wifi::scan(d.ip(), d.config())
                .await?
                .into_iter()
                .map(|e| WifiNetwork {
                    ssid: e.ssid,
                    security: e.security.to_string(),
                    signal: Some(i64::from(e.signal)),
                    channel: Some(e.channel),
                    bssid: Some(e.bssid.to_colon_string()),
                })
                .collect()),
        }
    }

    /// Points the plug at a network. The plug then leaves its set-up access point and
    /// reboots or reconnects onto that network, so it is no longer reachable here.
    pub async fn wifi_join(&self, ssid: &str, security: WifiSecurity, password: Option<&str>) -> Result<()> {
        match self {
            Device::Kasa(d) => {
                let addr = d.addr();
                let invalid = |error: plugctl_proto::hf::assist::wifi::WifiError| Error::InvalidArgument {
                    addr,
                    reason: error.to_string(),
                };
                validate_ssid(ssid).map_err(invalid)?;
                security.wskey(password.unwrap_or_default()).map_err(invalid)?;
                let req = Request::new().with(
                    "netif",
                    "set_stainfo",
                    json!({"ssid": ssid, "password": password.unwrap_or_default(), "key_type": kasa_key_type(security)}),
                );
                let resp = d.query(&req).await?;
                resp.result("netif", "set_stainfo").map_err(|e| Error::from_response(addr, e))?;
                Ok(())
            }
            Device::Hf(d) => hf::wifi::join(d.ip(), ssid, security, password, d.config()).await.map(|_| ()),
        }
    }
}
