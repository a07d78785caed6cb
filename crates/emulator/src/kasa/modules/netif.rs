//! `netif` (kasa-protocol.md §8.2): a Wi-Fi scan with a few simulated access points (only
//! the keys python-kasa accepts: `ssid`, `key_type`), and storing station credentials.

use serde_json::json;

use super::{ok, ok_with, CallError, CallResult, Params};
use crate::kasa::device::DeviceState;

/// The simulated neighbourhood: (ssid, key_type) with 0 none, 1 WEP, 2 WPA, 3 WPA2.
const ACCESS_POINTS: &[(&str, i64)] =
    &[("plugctl-lab", 3), ("Neighbour 2.4G", 3), ("Cafe Guest", 0), ("Old Router", 1), ("Attic WPA", 2)];

pub(super) fn call(dev: &mut DeviceState, method: &str, p: &Params) -> CallResult {
    match method {
        "get_scaninfo" => {
            // `refresh` and `timeout` are accepted and ignored.
            p.opt_i64("refresh")?;
            p.opt_i64("timeout")?;
            let list: Vec<_> = ACCESS_POINTS.iter().map(|(s, k)| json!({"ssid": s, "key_type": k})).collect();
            ok_with(json!({ "ap_list": list }))
        }
        "set_stainfo" => {
            let ssid = p.str("ssid")?;
            p.opt_str("password")?;
            let key_type = p.i64_in("key_type", 0..=3)?;
            if ssid.is_empty() || ssid.len() > 32 {
                return Err(CallError::InvalidArgument);
            }
            dev.wifi = Some((ssid.to_string(), key_type));
            ok()
        }
        "get_stainfo" => {
            let (ssid, key_type) = dev.wifi.clone().unwrap_or_else(|| (ACCESS_POINTS[0].0.to_string(), 3));
            let rssi = dev.profile().sysinfo().get("rssi").cloned().unwrap_or(json!(-60));
            ok_with(json!({"ssid": ssid, "key_type": key_type, "rssi": rssi}))
        }
        _ => Err(CallError::NoSuchMethod),
    }
}
