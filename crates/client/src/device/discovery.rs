//! Discovery of both families at once: Kasa `get_sysinfo` broadcast on UDP 9999 and
//! Hi-Flying `YZ-RECOSCAN` broadcast on UDP 48899, merged into one stream of
//! [`Discovered`] devices in arrival order.

use std::{
    net::SocketAddr,
    pin::Pin,
    task::{Context, Poll},
};

use futures::{stream::SelectAll, Stream, StreamExt};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{types::HF_MODEL, Family};
use crate::{
    error::Result,
    hf::{self, HfDiscoveryConfig},
    kasa::{self, DiscoveryConfig},
};

/// What to look for.
#[derive(Debug, Clone)]
pub struct DiscoverOptions {
    /// Kasa discovery, or `None` to skip the family.
    pub kasa: Option<DiscoveryConfig>,
    /// Hi-Flying discovery, or `None` to skip the family.
    pub hf: Option<HfDiscoveryConfig>,
    /// The Hi-Flying control port reported for found plugs (their discovery reply does not
    /// carry it): 8899 on real plugs.
    pub hf_control_port: u16,
}

impl Default for DiscoverOptions {
    fn default() -> Self {
        Self {
            kasa: Some(DiscoveryConfig::default()),
            hf: Some(HfDiscoveryConfig::default()),
            hf_control_port: plugctl_proto::hf::CONTROL_PORT,
        }
    }
}

/// A device that answered, in family-neutral form. Serialises to the JSON line
/// `plugctl discover --json` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Discovered {
    /// The device's IP.
    pub host: String,
    /// Its control port (TCP).
    pub port: u16,
    /// The family.
    pub family: Family,
    /// Model (`HS110(EU)`, `HF-LPB100`).
    pub model: String,
    /// MAC as the device reports it.
    pub mac: String,
    /// Name (Kasa alias; `Reco<serial>` for Hi-Flying plugs).
    pub alias: String,
    /// Relay state (any outlet on, for a strip).
    pub on: bool,
    /// Family-specific details (Kasa: `device_id`, `kind`, `hw_ver`, `sw_ver`, `rssi`,
    /// `outlets`; Hi-Flying: `serial`, `online`).
    #[serde(flatten)]
    pub details: Map<String, Value>,
}

impl Discovered {
    /// The control address.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.host.parse().ok().map(|ip| SocketAddr::new(ip, self.port))
    }

    fn from_kasa(d: &kasa::Discovered) -> Self {
        Self::from_sysinfo(d.addr, &d.sysinfo)
    }

    /// From a Kasa sysinfo read at `addr`.
    pub(crate) fn from_sysinfo(addr: SocketAddr, si: &crate::kasa::SysInfo) -> Self {
        let mut details = Map::new();
        details.insert("device_id".into(), json!(si.device_id));
        details.insert("kind".into(), json!(si.kind()));
        details.insert("hw_ver".into(), json!(si.hw_ver));
        details.insert("sw_ver".into(), json!(si.sw_ver));
        if let Some(r) = si.rssi {
            details.insert("rssi".into(), json!(r));
        }
        if !si.children.is_empty() {
            details.insert("outlets".into(), json!(si.children.len()));
        }
        Discovered {
            host: addr.ip().to_string(),
            port: addr.port(),
            family: Family::Kasa,
            model: si.model.clone(),
            mac: si.mac.clone(),
            alias: si.alias.clone(),
            on: si.is_on(),
            details,
        }
    }

    fn from_hf(d: &hf::HfDiscovered, control_port: u16) -> Self {
        let r = &d.reply;
        Self::from_hf_fields(
            SocketAddr::new(d.addr.ip(), control_port),
            &r.serial,
            r.online,
            &r.mac,
            r.relay_on,
        )
    }

    /// From the fields of a Hi-Flying discovery reply, for the plug at `control`.
    pub(crate) fn from_hf_fields(
        control: SocketAddr,
        serial: &str,
        online: bool,
        mac: &plugctl_proto::hf::Mac,
        on: bool,
    ) -> Self {
        let mut details = Map::new();
        details.insert("serial".into(), json!(serial));
        details.insert("online".into(), json!(online));
        Discovered {
            host: control.ip().to_string(),
            port: control.port(),
            family: Family::Hf,
            model: HF_MODEL.to_string(),
            mac: mac.to_string(),
            alias: format!("Reco{serial}"),
            on,
            details,
        }
    }
}

type Boxed = Pin<Box<dyn Stream<Item = Discovered> + Send>>;

/// The merged stream returned by [`discover`]; ends when every family's timeout expired.
pub struct Discovery {
    inner: SelectAll<Boxed>,
}

impl Stream for Discovery {
    type Item = Discovered;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.poll_next_unpin(cx)
    }
}

/// Starts discovery of every family in `opts`. Fails at once if a socket cannot be opened or
/// the first datagram cannot be sent.
pub fn discover(opts: DiscoverOptions) -> Result<Discovery> {
    let mut inner: SelectAll<Boxed> = SelectAll::new();
    if let Some(cfg) = opts.kasa {
        let s = kasa::discover(cfg)?;
        inner.push(Box::pin(s.map(|d| Discovered::from_kasa(&d))));
    }
    if let Some(cfg) = opts.hf {
        let port = opts.hf_control_port;
        let s = hf::discover(cfg)?;
        inner.push(Box::pin(s.map(move |d| Discovered::from_hf(&d, port))));
    }
    Ok(Discovery { inner })
}
