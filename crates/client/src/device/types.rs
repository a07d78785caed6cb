//! Family-neutral values: state, energy, raw replies, Wi-Fi networks.

use std::net::SocketAddr;

use serde::Serialize;
use serde_json::Value;

use super::Family;
use crate::{
    error::{Error, Result},
    hf::{HfState, Measurement},
    kasa::{rules::NextAction, EmeterReading, SysInfo},
};

/// One strip outlet.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutletState {
    /// 0-based index.
    pub index: usize,
    /// Full outlet id.
    pub id: String,
    /// Outlet name.
    pub alias: String,
    /// Relay state.
    pub on: bool,
    /// Seconds since switched on.
    pub on_time: u64,
}

/// What a device (or one outlet) reports about its state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct State {
    /// The family.
    pub family: Family,
    /// Model, e.g. `HS110(EU)`; `HF-LPB100` for Hi-Flying plugs.
    pub model: String,
    /// Name: the Kasa alias (of the outlet, with `child`); for Hi-Flying plugs, which have
    /// no name, `Reco<serial>` like the plug's own set-up network.
    pub alias: String,
    /// MAC, as the device reports it (Kasa `AA:BB:…`; Hi-Flying 12 hex digits).
    pub mac: String,
    /// Relay state (of the outlet with `child`; any outlet on for a whole strip).
    pub on: bool,
    /// Seconds since switched on, where the device reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_time: Option<u64>,
    /// The outlet id, when the state is of one outlet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub child: Option<String>,
    /// Every outlet, for a whole strip.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<OutletState>,
    /// Hi-Flying serial number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// The next action a rule of the device will take (Kasa `next_action`; of the outlet
    /// with `child`), when one is pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_action: Option<NextAction>,
}

impl State {
    /// From a Kasa sysinfo, of the whole device or of outlet `child`.
    pub fn from_kasa(addr: SocketAddr, si: &SysInfo, child: Option<&str>) -> Result<Self> {
        let mut s = State {
            family: Family::Kasa,
            model: si.model.clone(),
            alias: si.alias.clone(),
            mac: si.mac.clone(),
            on: si.is_on(),
            on_time: si.on_time,
            child: None,
            children: Vec::new(),
            serial: None,
            next_action: si.extra.get("next_action").and_then(NextAction::from_value),
        };
        match child {
            Some(spec) => {
                let c = si.child(spec).ok_or_else(|| Error::NoSuchChild {
                    addr,
                    child: spec.to_string(),
                    valid: si.children.iter().map(|c| c.id.clone()).collect(),
                })?;
                s.child = Some(c.id.clone());
                s.alias = c.alias.clone();
                s.on = c.state;
                s.on_time = Some(c.on_time);
                s.next_action = c.next_action.as_ref().and_then(NextAction::from_value);
            }
            None => {
                s.children = si
                    .children
                    .iter()
                    .enumerate()
                    .map(|(index, c)| OutletState {
                        index,
                        id: c.id.clone(),
                        alias: c.alias.clone(),
                        on: c.state,
                        on_time: c.on_time,
                    })
                    .collect();
            }
        }
        Ok(s)
    }

    /// From a Hi-Flying discovery reply.
    pub fn from_hf(st: &HfState) -> Self {
        State {
            family: Family::Hf,
            model: HF_MODEL.to_string(),
            alias: format!("Reco{}", st.serial),
            mac: st.mac.to_string(),
            on: st.relay_on,
            on_time: None,
            child: None,
            children: Vec::new(),
            serial: Some(st.serial.clone()),
            next_action: None,
        }
    }
}

/// The model name reported for Hi-Flying plugs (their Wi-Fi module).
pub const HF_MODEL: &str = "HF-LPB100";

/// An energy meter reading in SI-ish units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Energy {
    /// Active power, W.
    pub power_w: f64,
    /// RMS voltage, V.
    pub voltage_v: f64,
    /// RMS current, A.
    pub current_a: f64,
    /// Cumulative energy, kWh.
    pub total_kwh: f64,
    /// Mains frequency, Hz (Hi-Flying plugs report it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_hz: Option<f64>,
}

impl Energy {
    /// From a Kasa emeter reading.
    pub fn from_kasa(r: &EmeterReading) -> Self {
        Energy {
            power_w: r.power_w,
            voltage_v: r.voltage_v,
            current_a: r.current_a,
            total_kwh: r.total_kwh,
            frequency_hz: None,
        }
    }

    /// From a Hi-Flying `AT+YZOUT` measurement.
    pub fn from_hf(m: &Measurement) -> Self {
        Energy {
            power_w: m.power_w,
            voltage_v: m.voltage_v,
            current_a: m.current_a,
            total_kwh: m.energy_wh / 1000.0,
            frequency_hz: Some(m.frequency_hz),
        }
    }
}

/// A device's reply to a raw command.
#[derive(Debug, Clone, PartialEq)]
pub enum RawReply {
    /// A Kasa JSON reply.
    Json(Value),
    /// A Hi-Flying text reply (`+ok`, `+ok=…`, `+ERROR`).
    Text(String),
}

/// A Wi-Fi network a plug can see.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WifiNetwork {
    /// Network name.
    pub ssid: String,
    /// Security as the plug names it (`WPA2PSK/AES`, `wpa2`, `open`, …).
    pub security: String,
    /// Signal: Hi-Flying 0–100 %, Kasa dBm where reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<i64>,
    /// Channel, where reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<u8>,
    /// Access point MAC, where reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bssid: Option<String>,
}
