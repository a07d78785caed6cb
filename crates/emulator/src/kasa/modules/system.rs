//! `system` (kasa-protocol.md §8.1). `set_relay_state` and `set_dev_alias` honour the strip
//! context; everything else ignores it (`get_sysinfo` always returns the whole strip).
//!
//! Choices where the spec is unverified: aliases longer than [`MAX_ALIAS_BYTES`] (32) bytes
//! get -3; `set_relay_state` without context on a strip switches every outlet (simulator
//! behaviour); `reboot`/`reset` without `delay` wait 1 s; `reset` restores the default alias
//! (outlets `Plug N`), unbinds the cloud, forgets Wi-Fi, rules, location, icon and LED
//! setting, and keeps relays.

use std::time::{Duration, Instant};

use serde_json::json;

use super::{ok, ok_with, CallError, CallResult, Params};
use crate::kasa::{
    device::{Ctx, DeviceState, Targets, Unit},
    profile::ids,
};

/// Longest alias accepted, in UTF-8 bytes (the real limit is unverified; plugctl's client
/// refuses longer aliases before sending, `plugctl_client::kasa::system::MAX_ALIAS_BYTES`).
pub(crate) const MAX_ALIAS_BYTES: usize = 32;

/// Longest icon hash accepted, in bytes.
const MAX_ICON_HASH_BYTES: usize = 128;

pub(super) fn call(dev: &mut DeviceState, method: &str, p: &Params, ctx: &Ctx, now: Instant) -> CallResult {
    match method {
        "get_sysinfo" => Ok(dev.render_sysinfo()),
        "set_relay_state" => {
            let on = p.flag("state")?;
            let outlets: Vec<usize> = match dev.targets(ctx)? {
                Targets::Device => (0..dev.outlets.len()).collect(),
                Targets::Outlets(list) => list,
            };
            let sim = dev.clock.sim();
            for i in outlets {
                if let Some(o) = dev.outlets.get_mut(i) {
                    o.switch(on, sim, &mut dev.rng);
                }
            }
            ok()
        }
        "set_led_off" => {
            dev.led_off = i64::from(p.flag("off")?);
            ok()
        }
        "set_dev_alias" => {
            let alias = p.str("alias")?;
            if alias.len() > MAX_ALIAS_BYTES {
                return Err(CallError::InvalidArgument);
            }
            match dev.targets(ctx)? {
                Targets::Device => dev.alias = alias.to_string(),
                Targets::Outlets(list) => {
                    if let Some(o) = list.first().and_then(|i| dev.outlets.get_mut(*i)) {
                        o.alias = alias.to_string();
                    }
                }
            }
            ok()
        }
        "set_dev_location" => {
            let (lat_i, lon_i) = (p.opt_i64("latitude_i")?, p.opt_i64("longitude_i")?);
            let (lat, lon) = (p.opt_f64("latitude")?, p.opt_f64("longitude")?);
            let (lat, lon) = match (lat_i, lon_i, lat, lon) {
                (Some(a), Some(b), _, _) => (a as f64 / 1e4, b as f64 / 1e4),
                (_, _, Some(a), Some(b)) => (a, b),
                _ => return Err(CallError::InvalidArgument),
            };
            if lat.abs() > 90.0 || lon.abs() > 180.0 {
                return Err(CallError::InvalidArgument);
            }
            dev.location = Some((lat, lon));
            ok()
        }
        "set_mac_addr" => {
            let mac = ids::parse_mac(p.str("mac")?).ok_or(CallError::InvalidArgument)?;
            dev.mac = ids::format_mac(mac);
            ok()
        }
        "set_device_id" => {
            let id = hex_of_len(p.str("deviceId")?, 40)?;
            if dev.strip {
                for (i, o) in dev.outlets.iter_mut().enumerate() {
                    o.id = format!("{id}{i:02}");
                }
            }
            dev.device_id = id;
            ok()
        }
        "set_hw_id" => {
            dev.hw_id = hex_of_len(p.str("hwId")?, 32)?;
            ok()
        }
        "reboot" | "reset" => {
            let delay = p.opt_i64("delay")?.unwrap_or(1);
            let delay = u64::try_from(delay).map_err(|_| CallError::InvalidArgument)?;
            dev.schedule_reboot(Duration::from_secs(delay), now);
            if method == "reset" {
                factory_reset(dev);
            }
            if delay == 0 {
                Err(CallError::NoReply)
            } else {
                ok()
            }
        }
        "get_dev_icon" => ok_with(json!({"icon": "", "hash": dev.icon_hash})),
        "set_dev_icon" => {
            p.str("icon")?;
            let hash = p.str("hash")?;
            if hash.len() > MAX_ICON_HASH_BYTES {
                return Err(CallError::InvalidArgument);
            }
            dev.icon_hash = hash.to_string();
            ok()
        }
        "check_new_config" => ok(),
        "download_firmware" => {
            // Never fetched (§12 MUST 15).
            p.str("url")?;
            ok()
        }
        "get_download_state" => Err(CallError::Code(-7, "unknown error")),
        "flash_firmware" => Err(CallError::Code(-5, "not enough memory")),
        _ => Err(CallError::NoSuchMethod),
    }
}

fn hex_of_len(s: &str, len: usize) -> Result<String, CallError> {
    if s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(s.to_ascii_uppercase())
    } else {
        Err(CallError::InvalidArgument)
    }
}

fn factory_reset(dev: &mut DeviceState) {
    dev.alias = dev.default_alias.clone();
    for (i, o) in dev.outlets.iter_mut().enumerate() {
        if dev.strip {
            o.alias = format!("Plug {}", i + 1);
        }
    }
    dev.cloud = crate::kasa::device::default_cloud();
    dev.wifi = None;
    dev.led_off = 0;
    dev.location = None;
    dev.icon_hash.clear();
    for u in &mut dev.units {
        *u = Unit::new(None);
    }
    dev.rules_touched = true;
}
