//! The network side of an emulated Kasa device (tokio).
//!
//! Servers take **already-bound sockets** ([`serve_tcp`], [`serve_udp`]), so tests bind port 0
//! and never collide. A device is shared between its servers as a [`SharedDevice`]; the
//! mutex is held only while [`DeviceState::handle`] runs, so every request is applied
//! atomically.
//!
//! [`bind_device`] is the single-device convenience: TCP and UDP on the **same** port number
//! (python-kasa only accepts discovery replies whose source port is the port it asked, and
//! then uses that port for TCP).
//!
//! Behaviour (kasa-protocol.md §3, §4, §12, §13):
//! - TCP: length-prefixed frames reassembled across any segmentation; pipelined frames
//!   answered in order, each reply in one write with `TCP_NODELAY`; a zero-length header is
//!   ignored; an oversized announced length closes the connection at once; a truncated frame
//!   followed by silence is dropped after [`ServerConfig::frame_timeout`]; idle connections
//!   close after [`ServerConfig::idle_timeout`]; on client EOF (half-close) pending replies are
//!   flushed, then our side closes; at most [`ServerConfig::max_connections`] connections per
//!   device (more are closed at once); [`ServerConfig::close_after_reply`] mimics old firmware.
//! - UDP: one datagram in, one datagram out, from the same socket to the sender; payloads
//!   that are not JSON get `{}`; a datagram wrongly carrying a TCP length header is
//!   unwrapped.
//! - Faults ([`ServerConfig::faults`], [`crate::fault`]) are applied per accepted connection
//!   and per request, in the TCP connection loop and the UDP server.
//! - Reboots: while a device reboots, new connections are closed, datagrams ignored, and
//!   connections from before the reboot are dropped.

#[cfg(target_os = "linux")]
pub(crate) mod shared;
mod sockets;
mod tcp;
mod udp;

use std::{
    io,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use plugctl_proto::kasa::DEFAULT_MAX_FRAME;
use tokio::task::JoinHandle;

pub use tcp::serve_tcp;
pub use udp::serve_udp;

pub(crate) use sockets::{bind_pair, broadcast_socket, tcp_listener, udp_socket};
pub(crate) use udp::{datagram_reply, recv_now};

use super::device::DeviceState;
use crate::fault::Faults;

/// A device shared between its TCP and UDP servers.
pub type SharedDevice = Arc<Mutex<DeviceState>>;

/// Wraps a device for serving.
pub fn shared(dev: DeviceState) -> SharedDevice {
    Arc::new(Mutex::new(dev))
}

/// Broadcast replies sent back to back before [`BROADCAST_PAUSE`]. A whole fleet answering
/// one discovery datagram within the same millisecond overflows a client's default UDP
/// receive buffer (about 200 KiB, some 350 replies), which real plugs, answering over Wi-Fi
/// at different moments, never do: 32 replies every 4 ms is 8 000 a second, 1 000 plugs in
/// about 125 ms.
const BROADCAST_BURST: usize = 32;
/// The pause after each [`BROADCAST_BURST`] replies.
const BROADCAST_PAUSE: std::time::Duration = std::time::Duration::from_millis(4);

/// Called after the `sent`-th reply (0-based) to one broadcast: pauses after every
/// [`BROADCAST_BURST`] replies, which also lets other tasks run.
pub(crate) async fn pace_broadcast(sent: usize) {
    if sent % BROADCAST_BURST == BROADCAST_BURST - 1 {
        tokio::time::sleep(BROADCAST_PAUSE).await;
    }
}

/// Locks a shared device (a poisoned lock is recovered: the state is still consistent
/// because `handle` never panics).
pub(crate) fn lock(dev: &SharedDevice) -> MutexGuard<'_, DeviceState> {
    dev.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Network behaviour of the servers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Largest announced TCP frame (and UDP datagram) accepted, in bytes. Default 64 KiB.
    pub max_frame: usize,
    /// How long a partly received frame may wait for its remaining bytes. Default 20 s.
    pub frame_timeout: Duration,
    /// How long a connection may stay idle between frames. Default 120 s.
    pub idle_timeout: Duration,
    /// Most concurrent TCP connections per device. Default 64.
    pub max_connections: usize,
    /// Close the connection after each reply (old firmware, e.g. HS110 hw1). Default off.
    pub close_after_reply: bool,
    /// Extra latency before each reply (TCP and UDP). Default none.
    pub response_delay: Duration,
    /// Injected faults ([`crate::fault`]); shared by every server given a clone of this
    /// configuration. Default none.
    pub faults: Faults,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            max_frame: DEFAULT_MAX_FRAME,
            frame_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(120),
            max_connections: 64,
            close_after_reply: false,
            response_delay: Duration::ZERO,
            faults: Faults::none(),
        }
    }
}

/// A device served on one address (TCP and UDP on the same port). Dropping it stops the
/// servers and their connections.
#[derive(Debug)]
pub struct RunningDevice {
    addr: SocketAddr,
    device: SharedDevice,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningDevice {
    /// The bound address (TCP and UDP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound port (TCP and UDP).
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The served device (lock it to inspect or change state).
    pub fn device(&self) -> &SharedDevice {
        &self.device
    }

    /// Stops the servers and waits until their sockets are closed.
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

impl Drop for RunningDevice {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Binds TCP and UDP on `addr:port` (port 0 = a port free for both, retried) and serves
/// `dev` on them. Must be called inside a tokio runtime.
pub async fn bind_device(
    addr: IpAddr,
    port: u16,
    dev: SharedDevice,
    cfg: ServerConfig,
) -> io::Result<RunningDevice> {
    let (listener, udp) = bind_pair(addr, port)?;
    let bound = listener.local_addr()?;
    let udp = Arc::new(udp);
    let tasks = vec![
        tokio::spawn(serve_tcp(listener, dev.clone(), cfg.clone())),
        tokio::spawn(serve_udp(udp, dev.clone(), cfg)),
    ];
    Ok(RunningDevice { addr: bound, device: dev, tasks })
}
