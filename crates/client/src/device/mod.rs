//! One API over both families: a [`Device`] is a Kasa plug or a Hi-Flying plug, found by
//! probing (Kasa on TCP 9999 first, then Hi-Flying on TCP 8899) or named explicitly, with
//! the same calls for state, switching, energy, information, raw commands and Wi-Fi set-up.
//! [`discover`] finds both families at once.
//!
//! Family-specific features stay on the family handles ([`KasaDevice`], [`HfDevice`]),
//! reachable through [`Device::as_kasa`] and [`Device::as_hf`].

mod discovery;
mod types;
mod wifi;

use std::{
    fmt,
    net::{IpAddr, SocketAddr},
    str::FromStr,
};

use serde::Serialize;
use serde_json::Value;

pub use discovery::{discover, DiscoverOptions, Discovered, Discovery};
pub use types::{Energy, OutletState, RawReply, State, WifiNetwork};
pub use wifi::WifiSecurity;

use crate::{
    error::{Error, Result},
    hf::{HfConfig, HfDevice},
    kasa::{ClientConfig, KasaDevice, Request, DEFAULT_PORT},
};

/// A device family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// TP-Link Kasa, legacy XOR protocol on TCP/UDP 9999.
    Kasa,
    /// Hi-Flying HF-LPB100 plugs (Maginon SP-2, Reco4life): AT commands on TCP 8899.
    Hf,
}

impl Family {
    /// The name used on the command line and in JSON (`kasa`, `hf`).
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Kasa => "kasa",
            Family::Hf => "hf",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown family name.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown family `{0}` (expected kasa or hf)")]
pub struct UnknownFamily(pub String);

impl FromStr for Family {
    type Err = UnknownFamily;

    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "kasa" | "tplink" | "tp-link" => Ok(Family::Kasa),
            "hf" | "hi-flying" | "hiflying" | "reco" | "maginon" => Ok(Family::Hf),
            _ => Err(UnknownFamily(s.to_string())),
        }
    }
}

/// How to reach a device.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// The family, or `None` to probe (Kasa first, then Hi-Flying).
    pub family: Option<Family>,
    /// The control port, or `None` for the family default (9999 Kasa, 8899 Hi-Flying).
    pub port: Option<u16>,
    /// Kasa timeouts and retries.
    pub kasa: ClientConfig,
    /// Hi-Flying ports, timeouts and retries (its `control_port` is overridden by `port`).
    pub hf: HfConfig,
}

/// A plug of either family.
pub enum Device {
    /// A Kasa plug or strip.
    Kasa(KasaDevice),
    /// A Hi-Flying plug.
    Hf(HfDevice),
}

impl fmt::Debug for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Device({} at {})", self.family(), self.addr())
    }
}

impl Device {
    /// Connects to the device at `ip`: with the family given, at once (no probe); otherwise
    /// by probing Kasa (a `get_sysinfo`) and then Hi-Flying (an `AT+YZOUT`), each with one
    /// attempt. If neither answers the error carries both reasons, unless port 9999 refused
    /// or closed and the host shows the signs of newer KLAP firmware
    /// ([`crate::kasa::klap`], with `opts.kasa.klap` or the default ports): then it is
    /// [`Error::NewerFirmware`].
    pub async fn connect(ip: IpAddr, opts: &ConnectOptions) -> Result<Device> {
        let kasa_addr = SocketAddr::new(ip, opts.port.unwrap_or(DEFAULT_PORT));
        let hf_cfg = HfConfig { control_port: opts.port.unwrap_or(opts.hf.control_port), ..opts.hf.clone() };
        match opts.family {
            Some(Family::Kasa) => return Ok(Device::Kasa(KasaDevice::new(kasa_addr, opts.kasa.clone()))),
            Some(Family::Hf) => return Ok(Device::Hf(HfDevice::new(ip, hf_cfg))),
            None => {}
        }
        let probe_kasa =
            KasaDevice::new(kasa_addr, ClientConfig { retries: 0, klap: None, ..opts.kasa.clone() });
        let kasa_err = match probe_kasa.sysinfo().await {
            // The probe's connection is kept: the next request does not connect again.
            Ok(_) => return Ok(Device::Kasa(probe_kasa.reconfigured(opts.kasa.clone()))),
            Err(e) => e,
        };
        probe_kasa.close().await;
        let probe_hf = HfDevice::new(ip, HfConfig { retries: 0, ..hf_cfg.clone() });
        let hf_err = match probe_hf.measure().await {
            Ok(_) => {
                probe_hf.close().await;
                return Ok(Device::Hf(HfDevice::new(ip, hf_cfg)));
            }
            Err(e) => e,
        };
        probe_hf.close().await;
        // A refused or silent port 9999 may be a plug on newer (KLAP) firmware: say so.
        if crate::kasa::klap::is_candidate(&kasa_err) {
            let probe = opts.kasa.klap.clone().unwrap_or_default();
            if let Some(evidence) = crate::kasa::klap::detect(ip, &probe).await {
                return Err(Error::NewerFirmware { addr: kasa_addr, evidence });
            }
        }
        Err(Error::NoDevice { addr: kasa_addr, kasa: Box::new(kasa_err), hf: Box::new(hf_err) })
    }

    /// The family.
    pub fn family(&self) -> Family {
        match self {
            Device::Kasa(_) => Family::Kasa,
            Device::Hf(_) => Family::Hf,
        }
    }

    /// The control address (TCP).
    pub fn addr(&self) -> SocketAddr {
        match self {
            Device::Kasa(d) => d.addr(),
            Device::Hf(d) => d.control_addr(),
        }
    }

    /// The Kasa handle, for Kasa-only features.
    pub fn as_kasa(&self) -> Option<&KasaDevice> {
        match self {
            Device::Kasa(d) => Some(d),
            Device::Hf(_) => None,
        }
    }

    /// The Hi-Flying handle, for Hi-Flying-only features (countdown, …).
    pub fn as_hf(&self) -> Option<&HfDevice> {
        match self {
            Device::Hf(d) => Some(d),
            Device::Kasa(_) => None,
        }
    }

    /// Fails for an outlet on a single-outlet Hi-Flying plug.
    fn hf_no_child(&self, child: Option<&str>) -> Result<()> {
        match child {
            Some(c) => Err(Error::NoSuchChild { addr: self.addr(), child: c.to_string(), valid: Vec::new() }),
            None => Ok(()),
        }
    }

    /// The state, of the whole device or of one strip outlet.
    pub async fn state(&self, child: Option<&str>) -> Result<State> {
        match self {
            Device::Kasa(d) => State::from_kasa(d.addr(), &d.sysinfo().await?, child),
            Device::Hf(d) => {
                self.hf_no_child(child)?;
                Ok(State::from_hf(&d.state().await?))
            }
        }
    }

    /// Switches on or off.
    pub async fn set_power(&self, on: bool, child: Option<&str>) -> Result<()> {
        match self {
            Device::Kasa(d) => d.set_power(on, child).await,
            Device::Hf(d) => {
                self.hf_no_child(child)?;
                d.set_power(on).await
            }
        }
    }

    /// Switches to the opposite state; returns the new state.
    pub async fn toggle(&self, child: Option<&str>) -> Result<bool> {
        match self {
            Device::Kasa(d) => d.toggle(child).await,
            Device::Hf(d) => {
                self.hf_no_child(child)?;
                d.toggle().await
            }
        }
    }

    /// The energy meter's reading.
    pub async fn energy(&self, child: Option<&str>) -> Result<Energy> {
        match self {
            Device::Kasa(d) => Ok(Energy::from_kasa(&d.energy(child).await?)),
            Device::Hf(d) => {
                self.hf_no_child(child)?;
                Ok(Energy::from_hf(&d.measure().await?))
            }
        }
    }

    /// Everything the device reports about itself, as JSON (Kasa: the `get_sysinfo` object;
    /// Hi-Flying: discovery state and meter reading).
    pub async fn info(&self) -> Result<Value> {
        match self {
            Device::Kasa(d) => {
                let addr = d.addr();
                let resp = d.query(&Request::get_sysinfo()).await?;
                let mut map =
                    resp.result("system", "get_sysinfo").map_err(|e| Error::from_response(addr, e))?.clone();
                map.remove("err_code");
                Ok(Value::Object(map))
            }
            Device::Hf(d) => {
                let info = d.info().await?;
                serde_json::to_value(info).map_err(|e| Error::InvalidArgument {
                    addr: self.addr(),
                    reason: format!("cannot represent the plug's info as JSON: {e}"),
                })
            }
        }
    }

    /// Sends a raw command: JSON text to a Kasa plug, an `AT…` line to a Hi-Flying plug.
    pub async fn raw(&self, command: &str) -> Result<RawReply> {
        match self {
            Device::Kasa(d) => Ok(RawReply::Json(d.query_raw(command).await?)),
            Device::Hf(d) => Ok(RawReply::Text(d.send_raw(command).await?)),
        }
    }

    /// Describes the device the way broadcast discovery does (same fields, same JSON).
    pub async fn describe(&self) -> Result<Discovered> {
        match self {
            Device::Kasa(d) => Ok(Discovered::from_sysinfo(d.addr(), &d.sysinfo().await?)),
            Device::Hf(d) => {
                let st = d.state().await?;
                Ok(Discovered::from_hf_fields(d.control_addr(), &st.serial, st.online, &st.mac, st.relay_on))
            }
        }
    }

    /// Closes the connection (it reopens on next use).
    pub async fn close(&self) {
        match self {
            Device::Kasa(d) => d.close().await,
            Device::Hf(d) => d.close().await,
        }
    }
}
