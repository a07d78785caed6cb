//! The network side of an emulated HF plug (tokio).
//!
//! Servers take **already-bound sockets** ([`serve_control`], [`serve_udp`],
//! [`serve_http`]); [`bind_plug`] binds all of them for one plug and supervises reboots:
//! after `AT+Z` the plug drops its sockets, stays silent for
//! [`ServerConfig::reboot_time`], and comes back on the addresses its new
//! [`Link`] implies (e.g. the home address after joining a network).
//!
//! - TCP control (hf-protocol.md §5.2): per-connection [`ControlStream`](plugctl_proto::hf::ControlStream);
//!   every command gets one reply written in one write with `TCP_NODELAY`; a trailing
//!   command without terminator is answered at once when complete, else after
//!   [`ServerConfig::reassembly_window`]; no greeting; bad input never closes the
//!   connection; idle connections close after `AT+TCPTO` (300 s); at most
//!   [`ServerConfig::max_connections`] at once.
//! - UDP (§5.3): replies go to the sender; `YZ-RECOSCAN` replies are also copied to the
//!   discovery port when the sender used another one ([`ReplyCopy`]); datagrams from the
//!   socket's own address are ignored.
//! - HTTP (§1.5): Basic auth with the web credentials → `404` with body
//!   `ERROR:404 Not Found`; otherwise `401` with `WWW-Authenticate`.
//!
//! - Faults ([`ServerConfig::faults`], [`crate::fault`]) apply per accepted control
//!   connection, per command and per datagram (not to HTTP).
//!
//! The standalone `serve_*` functions do not move between addresses: after `AT+Z` the plug
//! is silent for the reboot time, then answers again on the same sockets.

mod http;
mod runtime;
pub(crate) mod sockets;
mod tcp;
pub(crate) mod udp;

use std::{
    io,
    net::{Ipv4Addr, SocketAddr},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use plugctl_proto::hf::{Mac, CONTROL_PORT, UDP_PORT};
use tokio::sync::{watch, Notify};

pub use http::{serve_http, NOT_FOUND_BODY, REALM};
pub use runtime::RunningPlug;
pub use tcp::serve_control;
pub use udp::serve_udp;

use super::{config::ConfigError, device::PlugState, Link};
use crate::fault::Faults;

/// A plug shared between its servers. The lock is held only while the state handles one
/// request, so every request is applied atomically.
pub type SharedPlug = Arc<Mutex<PlugState>>;

/// Wraps a plug for serving.
pub fn shared(plug: PlugState) -> SharedPlug {
    Arc::new(Mutex::new(plug))
}

/// Locks a shared plug (a poisoned lock is recovered: the state never panics mid-update).
pub(crate) fn lock(plug: &SharedPlug) -> MutexGuard<'_, PlugState> {
    plug.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Where the copy of a `YZ-RECOSCAN` reply goes when the sender did not send from it
/// (§3.1: most Reco clients listen on their own port 48899).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ReplyCopy {
    /// No copy: reply to the source port only.
    Off,
    /// To the plug's own UDP port on the sender's address (48899 in production; the picked
    /// port in tests).
    #[default]
    PlugPort,
    /// To this port on the sender's address.
    Port(u16),
}

/// Port numbers of a plug (shared by every plug of a fleet, each on its own address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ports {
    /// TCP control port (8899).
    pub control: u16,
    /// UDP discovery/assist port (48899).
    pub udp: u16,
    /// HTTP port (80 on a real plug), or none.
    pub http: Option<u16>,
}

impl Default for Ports {
    /// 8899, 48899, no HTTP (port 80 needs privileges).
    fn default() -> Self {
        Self { control: CONTROL_PORT, udp: UDP_PORT, http: None }
    }
}

impl Ports {
    /// Every port picked free at bind time, HTTP included (for tests).
    pub fn ephemeral() -> Self {
        Self { control: 0, udp: 0, http: Some(0) }
    }
}

/// Network behaviour of the servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Most concurrent TCP connections per address and port (control and HTTP each);
    /// more are closed at once. Default 32 (a real HF-LPB100 has 5).
    pub max_connections: usize,
    /// How long an unterminated, incomplete command waits for the rest (`AT+YZ` | `OUT\r\n`).
    /// Default 150 ms \[G\].
    pub reassembly_window: Duration,
    /// A reply that cannot be written within this closes the connection. Default 10 s.
    pub write_timeout: Duration,
    /// Copy of discovery replies. Default [`ReplyCopy::PlugPort`].
    pub reply_copy: ReplyCopy,
    /// Silence between `AT+Z` and the plug answering again (real time). Default 1 s.
    pub reboot_time: Duration,
    /// How long an HTTP client may take to send its request head. Default 10 s.
    pub http_timeout: Duration,
    /// Largest HTTP request head accepted. Default 8 KiB.
    pub http_max_request: usize,
    /// Injected faults ([`crate::fault`]) on the control port and UDP; shared by every
    /// server given a clone of this configuration. Default none.
    pub faults: Faults,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_connections: 32,
            reassembly_window: Duration::from_millis(150),
            write_timeout: Duration::from_secs(10),
            reply_copy: ReplyCopy::PlugPort,
            reboot_time: Duration::from_secs(1),
            http_timeout: Duration::from_secs(10),
            http_max_request: 8 * 1024,
            faults: Faults::none(),
        }
    }
}

/// Why a plug or fleet could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The plug configuration is invalid.
    #[error("invalid plug configuration: {0}")]
    Config(#[from] ConfigError),
    /// A socket could not be bound.
    #[error("cannot bind the {what} on {addr}: {source}")]
    Bind {
        /// Which socket.
        what: &'static str,
        /// Where.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Nothing to start (no plug, or no address).
    #[error("nothing to start: a fleet needs at least one plug")]
    Empty,
    /// The fleet's addresses do not fit.
    #[error("a fleet of {count} plugs from {base} does not fit in {scope}")]
    Addresses {
        /// Plugs asked for (both address ranges counted).
        count: usize,
        /// First address.
        base: Ipv4Addr,
        /// `127.0.0.0/8` or `the IPv4 space`.
        scope: &'static str,
    },
    /// Not enough file descriptors.
    #[error("{0}")]
    Limits(String),
    /// Another I/O error.
    #[error(transparent)]
    Io(#[from] io::Error),
}

impl StartError {
    /// Whether the cause is an address or port already in use.
    pub fn is_addr_in_use(&self) -> bool {
        match self {
            Self::Bind { source, .. } | Self::Io(source) => source.kind() == io::ErrorKind::AddrInUse,
            _ => false,
        }
    }
}

/// A plug's network presence, as published by its supervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlugStatus {
    /// Serving (false while rebooting, or if rebinding failed).
    pub online: bool,
    /// The link after the last boot.
    pub link: Link,
    /// The addresses served now.
    pub addresses: Vec<Ipv4Addr>,
    /// Completed reboots.
    pub boots: u64,
}

/// What servers share: the plug, the configuration, and how reboots are carried out.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub(crate) device: SharedPlug,
    pub(crate) cfg: Arc<ServerConfig>,
    /// The supervisor's wake-up (reboot started, delay scheduled); `None` for standalone
    /// servers.
    pub(crate) wake: Option<Arc<Notify>>,
}

impl Ctx {
    pub(crate) fn standalone(device: SharedPlug, cfg: ServerConfig) -> Self {
        Self { device, cfg: Arc::new(cfg), wake: None }
    }

    /// Something the supervisor should look at happened (a delay was scheduled).
    pub(crate) fn changed(&self) {
        if let Some(w) = &self.wake {
            w.notify_one();
        }
    }

    /// The plug started rebooting.
    pub(crate) fn rebooting(&self) {
        match &self.wake {
            Some(w) => w.notify_one(),
            None => {
                let device = self.device.clone();
                let pause = self.cfg.reboot_time;
                tokio::spawn(async move {
                    tokio::time::sleep(pause).await;
                    lock(&device).finish_boot(Instant::now());
                });
            }
        }
    }
}

/// Binds control, UDP and (if `ports.http` is set) HTTP for `plug` on the addresses of its
/// current link, checks that the same ports are free on the address it may move to, and
/// serves it with reboot supervision. Ports 0 are picked. Must be called inside a tokio
/// runtime; dropping the handle stops the plug.
pub async fn bind_plug(plug: PlugState, ports: Ports, cfg: ServerConfig) -> Result<RunningPlug, StartError> {
    let mut plug = plug;
    let active = plug.addresses();
    let c = plug.config();
    let standby: Vec<Ipv4Addr> = [c.ap_ip, c.home_ip].into_iter().filter(|ip| !active.contains(ip)).collect();
    let group = sockets::bind_group(&active, &standby, ports, None)?;
    plug.set_control_port(group.ports.control);
    Ok(start_runtime(plug, group.ports, cfg, group.sockets))
}

/// A plug runtime as the fleet dispatcher sees it.
pub(crate) type PlugRuntimeRef = Arc<runtime::PlugRuntime>;

/// The runtime behind a running plug.
pub(crate) fn runtime_of(p: &RunningPlug) -> PlugRuntimeRef {
    p.runtime().clone()
}

/// Serves `plug` on already-bound `sockets` with reboot supervision.
pub(crate) fn start_runtime(
    plug: PlugState,
    ports: Ports,
    cfg: ServerConfig,
    sockets: Vec<sockets::AddrSockets>,
) -> RunningPlug {
    runtime::start(shared(plug), ports, cfg, sockets)
}

/// Convenience: the plug's identity as clients see it.
pub(crate) fn identity(plug: &SharedPlug) -> (Mac, String) {
    let p = lock(plug);
    (p.mac(), p.serial().to_string())
}

/// A status receiver that starts with `status`.
pub(crate) fn status_channel(status: PlugStatus) -> (watch::Sender<PlugStatus>, watch::Receiver<PlugStatus>) {
    watch::channel(status)
}
