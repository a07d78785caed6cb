//! Fleet mode: many emulated devices in one process, device *i* on its own loopback address
//! (`base` + *i*: 127.0.0.2, 127.0.0.3, …; Linux routes all of 127.0.0.0/8 to `lo`), all on
//! one port number for TCP and UDP.
//!
//! With [`FleetConfig::broadcast`] set (e.g. `127.255.255.255`), discovery broadcasts to
//! `broadcast:port` are answered by every device, each from its own address
//! (`127.0.0.N:port`), as clients require.
//!
//! Sockets ([`FleetSockets`]): per device (a TCP listener and a UDP socket on 127.0.0.N:P,
//! plus one socket on the broadcast address), or shared (Linux: one TCP listener and one UDP
//! socket on `0.0.0.0:P` restricted to `lo`, dispatching by address; see
//! `server/shared`). [`FleetSockets::Auto`] picks per-device sockets when they fit the
//! file-descriptor limit with [`FleetConfig::connections`] open connections, else shared
//! ones; the mode in use is logged and reported by [`Fleet::sockets`].
//!
//! Cost per device: the device state (templates are shared between devices of one profile)
//! and, with per-device sockets, two sockets and two small tokio tasks; no threads. The soft
//! file-descriptor limit is raised at start, and a fleet that cannot fit fails with a clear
//! error ([`limits`]).

pub mod addrs;
mod broadcast;
pub mod limits;
mod mode;
#[cfg(target_os = "linux")]
mod shared_sockets;

use std::{
    io,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::Arc,
};

use tokio::{
    net::{TcpListener, UdpSocket},
    task::JoinHandle,
};

pub use self::mode::FleetSockets;

use self::broadcast::Member;
use super::{
    device::DeviceConfig,
    profile::{builtin, builtin_names, Profile},
    server::{self, serve_tcp, serve_udp, shared, ServerConfig, SharedDevice},
};

/// How often a fleet on port 0 retries when the picked port is taken on some address.
const PICK_ATTEMPTS: usize = 32;

/// What to start.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// Number of devices.
    pub count: usize,
    /// Address of device 0; the others follow (default 127.0.0.2).
    pub base: Ipv4Addr,
    /// Port of every device, TCP and UDP; 0 = pick one free on every address.
    pub port: u16,
    /// Profiles, cycled over the devices; empty = every built-in profile.
    pub profiles: Vec<Profile>,
    /// Seed of ids and measurement noise.
    pub seed: u64,
    /// Broadcast address to answer discovery on (e.g. 127.255.255.255), or none.
    pub broadcast: Option<Ipv4Addr>,
    /// Network behaviour of every device.
    pub server: ServerConfig,
    /// Simulated time runs this many times faster (see [`DeviceConfig::time_scale`]).
    pub time_scale: f64,
    /// Socket layout: per device, shared, or chosen by the file-descriptor limit (default).
    pub sockets: FleetSockets,
    /// Concurrent client connections to reserve file descriptors for (default: one per
    /// device, i.e. every device polled over a kept-open connection).
    pub connections: Option<usize>,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            count: 1,
            base: Ipv4Addr::new(127, 0, 0, 2),
            port: 0,
            profiles: Vec::new(),
            seed: 0,
            broadcast: None,
            server: ServerConfig::default(),
            time_scale: 1.0,
            sockets: FleetSockets::Auto,
            connections: None,
        }
    }
}

/// One started device, as clients see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FleetDevice {
    /// TCP and UDP address.
    pub addr: SocketAddr,
    /// Sysinfo model, e.g. `HS110(EU)`.
    pub model: String,
    /// Alias at start.
    pub alias: String,
    /// MAC.
    pub mac: String,
    /// 40-hex `deviceId`.
    pub device_id: String,
}

/// A running fleet. Dropping it stops every device.
#[derive(Debug)]
pub struct Fleet {
    port: u16,
    sockets: FleetSockets,
    broadcast: Option<SocketAddr>,
    devices: Vec<FleetDevice>,
    states: Vec<SharedDevice>,
    tasks: Vec<JoinHandle<()>>,
}

impl Fleet {
    /// The port every device listens on (TCP and UDP).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The socket layout in use ([`FleetSockets::PerDevice`] or [`FleetSockets::Shared`]).
    pub fn sockets(&self) -> FleetSockets {
        self.sockets
    }

    /// The devices, in index order.
    pub fn devices(&self) -> &[FleetDevice] {
        &self.devices
    }

    /// The state of device `index` (lock it to inspect or change it).
    pub fn device(&self, index: usize) -> Option<&SharedDevice> {
        self.states.get(index)
    }

    /// Where discovery broadcasts are answered, if enabled.
    pub fn broadcast_addr(&self) -> Option<SocketAddr> {
        self.broadcast
    }

    /// Number of devices.
    pub fn len(&self) -> usize {
        self.devices.len()
    }

    /// True for a fleet without devices.
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    /// Stops every device and waits until their sockets are closed.
    pub async fn shutdown(mut self) {
        let tasks = std::mem::take(&mut self.tasks);
        for t in &tasks {
            t.abort();
        }
        for t in tasks {
            let _ = t.await;
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The sockets of a fleet.
struct Bound {
    port: u16,
    pairs: Vec<(TcpListener, UdpSocket)>,
    broadcast: Option<UdpSocket>,
}

/// Starts a fleet. Must be called inside a tokio runtime.
pub async fn start(cfg: FleetConfig) -> io::Result<Fleet> {
    if cfg.count == 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "a fleet needs at least one device"));
    }
    let profiles: Vec<Profile> = if cfg.profiles.is_empty() {
        builtin_names().iter().filter_map(|n| builtin(n)).collect()
    } else {
        cfg.profiles.clone()
    };
    let addrs = addrs::consecutive(cfg.base, cfg.count)?;
    let connections = cfg.connections.unwrap_or(cfg.count);
    let loopback = addrs.iter().all(Ipv4Addr::is_loopback);
    let mode = mode::resolve(cfg.sockets, cfg.count, cfg.broadcast.is_some(), connections, loopback)?;
    let devices = instantiate(&cfg, &profiles, &addrs)?;
    #[cfg(target_os = "linux")]
    if mode == FleetSockets::Shared {
        return shared_sockets::start(&cfg, devices);
    }
    start_per_device(&cfg, devices)
}

/// One device before it is served.
pub(crate) struct Prepared {
    ip: Ipv4Addr,
    info: FleetDevice,
    state: SharedDevice,
}

/// Builds every device (addresses in [`Prepared::info`] carry port 0 until bound).
fn instantiate(cfg: &FleetConfig, profiles: &[Profile], addrs: &[Ipv4Addr]) -> io::Result<Vec<Prepared>> {
    let dev_cfg = DeviceConfig { time_scale: cfg.time_scale, ..DeviceConfig::default() };
    let mut out = Vec::with_capacity(addrs.len());
    for (i, ip) in addrs.iter().enumerate() {
        let Some(profile) = profiles.get(i % profiles.len().max(1)) else {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "no profile to instantiate"));
        };
        let state = profile.instantiate_with(i, cfg.seed, dev_cfg.clone());
        let info = FleetDevice {
            addr: SocketAddr::new(IpAddr::V4(*ip), 0),
            model: state.model().to_string(),
            alias: state.alias().to_string(),
            mac: state.mac().to_string(),
            device_id: state.device_id().to_string(),
        };
        out.push(Prepared { ip: *ip, info, state: shared(state) });
    }
    Ok(out)
}

/// Serves each device on its own TCP listener and UDP socket.
fn start_per_device(cfg: &FleetConfig, prepared: Vec<Prepared>) -> io::Result<Fleet> {
    let addrs: Vec<Ipv4Addr> = prepared.iter().map(|p| p.ip).collect();
    let bound = bind_all(&addrs, cfg.port, cfg.broadcast)?;
    let mut devices = Vec::with_capacity(prepared.len());
    let mut states = Vec::with_capacity(prepared.len());
    let mut members = Vec::with_capacity(prepared.len());
    let mut tasks = Vec::with_capacity(2 * prepared.len() + 1);
    for ((listener, udp), p) in bound.pairs.into_iter().zip(prepared) {
        let Prepared { mut info, state: dev, .. } = p;
        info.addr.set_port(bound.port);
        devices.push(info);
        let udp = Arc::new(udp);
        tasks.push(tokio::spawn(serve_tcp(listener, dev.clone(), cfg.server.clone())));
        tasks.push(tokio::spawn(serve_udp(udp.clone(), dev.clone(), cfg.server.clone())));
        members.push(Member { device: dev.clone(), socket: udp });
        states.push(dev);
    }
    let mut broadcast = None;
    if let Some(sock) = bound.broadcast {
        broadcast = Some(sock.local_addr()?);
        tasks.push(tokio::spawn(broadcast::serve_broadcast(sock, members.into(), cfg.server.clone())));
    }
    Ok(Fleet { port: bound.port, sockets: FleetSockets::PerDevice, broadcast, devices, states, tasks })
}

/// Binds every device address (and the broadcast address) on one port.
fn bind_all(addrs: &[Ipv4Addr], port: u16, broadcast: Option<Ipv4Addr>) -> io::Result<Bound> {
    let Some(first) = addrs.first() else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "a fleet needs at least one device"));
    };
    if port != 0 {
        return bind_on(addrs, port, broadcast);
    }
    let mut last = None;
    for _ in 0..PICK_ATTEMPTS {
        // Let the kernel pick a port on the first address, then claim it everywhere else.
        let probe = server::tcp_listener(SocketAddr::new(IpAddr::V4(*first), 0))
            .map_err(|e| context(e, *first, 0))?;
        let port = probe.local_addr()?.port();
        drop(probe);
        match bind_on(addrs, port, broadcast) {
            Ok(b) => return Ok(b),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last
        .unwrap_or_else(|| io::Error::new(io::ErrorKind::AddrInUse, "no port free on every fleet address")))
}

fn bind_on(addrs: &[Ipv4Addr], port: u16, broadcast: Option<Ipv4Addr>) -> io::Result<Bound> {
    let mut pairs = Vec::with_capacity(addrs.len());
    for ip in addrs {
        let addr = SocketAddr::new(IpAddr::V4(*ip), port);
        let tcp = server::tcp_listener(addr).map_err(|e| context(e, *ip, port))?;
        let udp = server::udp_socket(addr).map_err(|e| context(e, *ip, port))?;
        pairs.push((tcp, udp));
    }
    let broadcast = broadcast
        .map(|b| {
            server::broadcast_socket(SocketAddr::new(IpAddr::V4(b), port)).map_err(|e| context(e, b, port))
        })
        .transpose()?;
    Ok(Bound { port, pairs, broadcast })
}

fn context(e: io::Error, ip: Ipv4Addr, port: u16) -> io::Error {
    io::Error::new(e.kind(), format!("cannot bind {ip}:{port}: {e}"))
}
