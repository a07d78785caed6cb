//! Fleet mode: N emulated HF plugs on consecutive loopback addresses (127.0.0.2, 127.0.0.3,
//! …; Linux routes all of 127.0.0.0/8 to `lo`), all on the same port numbers.
//!
//! Plug *i* starts on `base + i` in the fleet's [`StartMode`]. Its other address (home
//! address for AP plugs, AP fallback for STA plugs) is `other_base + i`, by default the
//! range right after the fleet's; those ports are checked free at start.
//!
//! With [`FleetConfig::broadcast`] (e.g. `127.255.255.255`), one extra UDP socket bound to
//! `broadcast:udp_port` (SO_REUSEADDR) receives broadcast datagrams and hands each to every
//! plug, which replies **from its own socket** (`127.0.0.N:udp_port`), as clients expect.

use std::{
    net::{Ipv4Addr, SocketAddr},
    sync::Arc,
};

use plugctl_proto::hf::{Mac, MAX_DATAGRAM};
use tokio::{net::UdpSocket, task::JoinHandle};
use tracing::debug;

use super::{
    config::{PlugConfig, StartMode},
    device::PlugState,
    server::{
        runtime_of, sockets::bind_group, start_runtime, udp::respond, PlugRuntimeRef, Ports, RunningPlug,
        ServerConfig, StartError,
    },
};

/// Plugs served between two yields of the broadcast dispatcher.
const BATCH: usize = 64;

/// Descriptors kept free for connections and the rest of the process.
const RESERVE_FDS: u64 = 64;

/// What to start.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// Number of plugs.
    pub count: usize,
    /// Address of plug 0 in its start mode; the others follow (default 127.0.0.2).
    pub base: Ipv4Addr,
    /// How every plug starts (default STA).
    pub mode: StartMode,
    /// First address of the other range (home addresses in AP mode, AP fallback addresses
    /// in STA mode); default: right after the fleet's range.
    pub other_base: Option<Ipv4Addr>,
    /// Ports of every plug (default 8899, 48899, no HTTP); 0 = pick one free everywhere.
    pub ports: Ports,
    /// Broadcast address to answer on (e.g. 127.255.255.255), or none.
    pub broadcast: Option<Ipv4Addr>,
    /// Seed of MACs, serials and meter noise.
    pub seed: u64,
    /// Simulated time runs this many times faster (see [`PlugConfig::time_scale`]).
    pub time_scale: f64,
    /// Template for every plug (addresses, start mode, MAC, serial, seed and time scale are
    /// set per plug); `None` = [`PlugConfig::numbered`] with varied loads.
    pub template: Option<PlugConfig>,
    /// Network behaviour of every plug.
    pub server: ServerConfig,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            count: 1,
            base: Ipv4Addr::new(127, 0, 0, 2),
            mode: StartMode::Sta,
            other_base: None,
            ports: Ports::default(),
            broadcast: None,
            seed: 0,
            time_scale: 1.0,
            template: None,
            server: ServerConfig::default(),
        }
    }
}

/// One started plug, as clients see it at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetPlug {
    /// Index in the fleet.
    pub index: usize,
    /// The address it started on.
    pub ip: Ipv4Addr,
    /// Its AP address.
    pub ap_ip: Ipv4Addr,
    /// Its home-network address.
    pub home_ip: Ipv4Addr,
    /// Port numbers (never 0).
    pub ports: Ports,
    /// Station MAC.
    pub mac: Mac,
    /// Serial number.
    pub serial: String,
}

/// A running fleet. Dropping it stops every plug.
#[derive(Debug)]
pub struct Fleet {
    ports: Ports,
    broadcast: Option<SocketAddr>,
    info: Vec<FleetPlug>,
    plugs: Vec<RunningPlug>,
    dispatcher: Option<JoinHandle<()>>,
}

impl Fleet {
    /// The port numbers every plug uses.
    pub fn ports(&self) -> Ports {
        self.ports
    }

    /// Where broadcasts are answered, if enabled.
    pub fn broadcast_addr(&self) -> Option<SocketAddr> {
        self.broadcast
    }

    /// The plugs as started, in index order.
    pub fn plugs(&self) -> &[FleetPlug] {
        &self.info
    }

    /// The running plug `index` (live status, state, reboots).
    pub fn plug(&self, index: usize) -> Option<&RunningPlug> {
        self.plugs.get(index)
    }

    /// Number of plugs.
    pub fn len(&self) -> usize {
        self.plugs.len()
    }

    /// True for a fleet without plugs.
    pub fn is_empty(&self) -> bool {
        self.plugs.is_empty()
    }

    /// Stops every plug and waits until their sockets are closed.
    pub async fn shutdown(mut self) {
        if let Some(d) = self.dispatcher.take() {
            d.abort();
            let _ = d.await;
        }
        for p in std::mem::take(&mut self.plugs) {
            p.shutdown().await;
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        if let Some(d) = &self.dispatcher {
            d.abort();
        }
    }
}

/// Starts a fleet. Must be called inside a tokio runtime.
pub async fn start(cfg: FleetConfig) -> Result<Fleet, StartError> {
    if cfg.count == 0 {
        return Err(StartError::Empty);
    }
    let (starts, others) = addresses(&cfg)?;
    let per_addr = 2 + u64::from(cfg.ports.http.is_some());
    ensure_fds(per_addr.saturating_mul(cfg.count as u64).saturating_add(1))?;

    let mut states = Vec::with_capacity(cfg.count);
    for (i, (start, other)) in starts.iter().zip(&others).enumerate() {
        let numbered = PlugConfig::numbered(i, cfg.seed);
        let mut c = match &cfg.template {
            Some(t) => PlugConfig {
                mac: numbered.mac,
                serial: numbered.serial.clone(),
                seed: numbered.seed,
                ..t.clone()
            },
            None => numbered,
        };
        c.start = cfg.mode;
        c.time_scale = cfg.time_scale;
        (c.ap_ip, c.home_ip) = match cfg.mode {
            StartMode::Ap => (*start, *other),
            StartMode::Sta => (*other, *start),
        };
        states.push(PlugState::new(c)?);
    }
    let group = bind_group(&starts, &others, cfg.ports, cfg.broadcast)?;
    let mut info = Vec::with_capacity(cfg.count);
    let mut plugs = Vec::with_capacity(cfg.count);
    for (i, (mut state, sockets)) in states.into_iter().zip(group.sockets).enumerate() {
        state.set_control_port(group.ports.control);
        let c = state.config();
        info.push(FleetPlug {
            index: i,
            ip: sockets.ip,
            ap_ip: c.ap_ip,
            home_ip: c.home_ip,
            ports: group.ports,
            mac: c.mac,
            serial: c.serial.clone(),
        });
        plugs.push(start_runtime(state, group.ports, cfg.server.clone(), vec![sockets]));
    }
    let mut broadcast = None;
    let mut dispatcher = None;
    if let Some(sock) = group.broadcast {
        broadcast = Some(sock.local_addr()?);
        let members: Arc<[PlugRuntimeRef]> = plugs.iter().map(runtime_of).collect();
        dispatcher = Some(tokio::spawn(serve_broadcast(sock, members)));
    }
    Ok(Fleet { ports: group.ports, broadcast, info, plugs, dispatcher })
}

/// The start addresses and the other addresses of every plug.
fn addresses(cfg: &FleetConfig) -> Result<(Vec<Ipv4Addr>, Vec<Ipv4Addr>), StartError> {
    match cfg.other_base {
        Some(o) => Ok((consecutive(cfg.base, cfg.count)?, consecutive(o, cfg.count)?)),
        None => {
            let both = cfg.count.checked_mul(2).ok_or(StartError::Addresses {
                count: cfg.count,
                base: cfg.base,
                scope: if cfg.base.is_loopback() { "127.0.0.0/8" } else { "the IPv4 space" },
            })?;
            let mut all = consecutive(cfg.base, both)?;
            let others = all.split_off(cfg.count);
            Ok((all, others))
        }
    }
}

/// `count` consecutive addresses from `base`, skipping host octets 0 and 255 and never
/// leaving 127.0.0.0/8 when `base` is in it.
pub fn consecutive(base: Ipv4Addr, count: usize) -> Result<Vec<Ipv4Addr>, StartError> {
    let scope = if base.is_loopback() { "127.0.0.0/8" } else { "the IPv4 space" };
    let exhausted = || StartError::Addresses { count, base, scope };
    let mut out = Vec::with_capacity(count.min(1 << 16));
    let mut next = u64::from(u32::from(base));
    while out.len() < count {
        let raw = u32::try_from(next).map_err(|_| exhausted())?;
        next += 1;
        let ip = Ipv4Addr::from(raw);
        let last = ip.octets()[3];
        if last == 0 || last == 255 {
            continue;
        }
        if base.is_loopback() && !ip.is_loopback() {
            return Err(exhausted());
        }
        out.push(ip);
    }
    Ok(out)
}

/// Raises the soft descriptor limit to the hard one and checks `extra` more fit.
fn ensure_fds(extra: u64) -> Result<(), StartError> {
    use rlimit::Resource;
    let Ok((soft, hard)) = Resource::NOFILE.get() else { return Ok(()) };
    let mut soft_now = soft;
    if soft < hard && Resource::NOFILE.set(hard, hard).is_ok() {
        soft_now = hard;
    }
    let open = std::fs::read_dir("/proc/self/fd").map(|d| d.count() as u64).unwrap_or(0);
    let needed = open.saturating_add(extra).saturating_add(RESERVE_FDS);
    if soft_now < needed {
        return Err(StartError::Limits(format!(
            "the fleet needs about {needed} file descriptors, but RLIMIT_NOFILE allows {soft_now} \
             (hard limit {hard}); raise it (ulimit -n) or start fewer plugs"
        )));
    }
    Ok(())
}

/// Hands every broadcast datagram to every plug; each replies from its own socket.
async fn serve_broadcast(socket: UdpSocket, plugs: Arc<[PlugRuntimeRef]>) {
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    loop {
        let (n, peer) = match socket.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                debug!(error = %e, "broadcast receive error ignored");
                tokio::task::yield_now().await;
                continue;
            }
        };
        if n > MAX_DATAGRAM {
            continue;
        }
        let payload = buf.get(..n).unwrap_or_default();
        for (k, rt) in plugs.iter().enumerate() {
            for (ip, sock) in rt.live_udp() {
                if sock.local_addr().ok() == Some(peer) {
                    continue;
                }
                respond(&rt.ctx, &sock, ip, payload, peer).await;
            }
            if k % BATCH == BATCH - 1 {
                tokio::task::yield_now().await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_skip_network_and_broadcast_octets() {
        let a = consecutive(Ipv4Addr::new(127, 0, 0, 253), 4).unwrap();
        assert_eq!(a[2], Ipv4Addr::new(127, 0, 1, 1));
        assert!(consecutive(Ipv4Addr::new(127, 255, 255, 250), 10).is_err());
        let cfg = FleetConfig { count: 3, ..FleetConfig::default() };
        let (s, o) = addresses(&cfg).unwrap();
        assert_eq!(s, consecutive(Ipv4Addr::new(127, 0, 0, 2), 3).unwrap());
        assert_eq!(o.first(), Some(&Ipv4Addr::new(127, 0, 0, 5)));
    }
}
