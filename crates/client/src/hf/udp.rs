//! UDP plumbing shared by [`state`](super::HfDevice::state), discovery and Wi-Fi set-up:
//! socket creation and the process-wide listener on the fixed reply port.
//!
//! Many Reco plugs answer `YZ-RECOSCAN` at `<client-ip>:48899` rather than (or as well as) at
//! the request's source port (hf-protocol.md §3.1). Only one socket per process can usefully
//! receive unicast datagrams on that port, so every caller in the process shares one
//! listener per port: a task reads the socket and fans each datagram out to all current
//! subscribers, which filter by source address. The listener closes when its last
//! subscriber goes. Binding uses `SO_REUSEADDR` (other programs may hold the port too, and
//! ports ≥ 1024 need no privileges); a port that cannot be bound is skipped, never an error.

use std::{
    collections::HashMap,
    io,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::{Arc, Mutex, PoisonError, Weak},
    time::Duration,
};

use crate::net::udp_socket;
use plugctl_proto::hf::MAX_DATAGRAM;
use tokio::{
    net::UdpSocket,
    sync::broadcast,
    task::JoinHandle,
    time::{timeout_at, Instant},
};
use tracing::{debug, trace};

/// A received datagram and its source.
pub(crate) type Datagram = (Arc<[u8]>, SocketAddr);

/// How many datagrams a slow subscriber may fall behind before it misses some.
const FANOUT_CAPACITY: usize = 256;

/// The unspecified address of `peer`'s family, port `port`.
pub(crate) fn any_addr_for(peer: IpAddr, port: u16) -> SocketAddr {
    match peer {
        IpAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
        IpAddr::V6(_) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, port)),
    }
}

/// A tokio UDP socket bound to `bind` (see [`udp_socket`]).
pub(crate) fn tokio_udp(bind: SocketAddr, broadcast: bool, reuse: bool) -> io::Result<UdpSocket> {
    UdpSocket::from_std(udp_socket(bind, broadcast, reuse)?.into())
}

/// Reads and discards every datagram already waiting on `socket`.
pub(crate) fn drain(socket: &UdpSocket) {
    let mut buf = [0u8; 64];
    let mut dropped = 0;
    while socket.try_recv_from(&mut buf).is_ok() && dropped < 1024 {
        dropped += 1;
    }
    if dropped > 0 {
        trace!(dropped, "discarded stale datagrams");
    }
}

/// Waits until `deadline` for a datagram on `socket`. `Ok(None)` at the deadline.
pub(crate) async fn recv_until(
    socket: &UdpSocket,
    buf: &mut [u8],
    deadline: Instant,
) -> io::Result<Option<(usize, SocketAddr)>> {
    match timeout_at(deadline, socket.recv_from(buf)).await {
        Err(_) => Ok(None),
        Ok(r) => r.map(Some),
    }
}

/// The shared listener of one port.
struct Listener {
    tx: broadcast::Sender<Datagram>,
    task: JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Registry = Mutex<HashMap<u16, Weak<Listener>>>;

fn registry() -> &'static Registry {
    static REGISTRY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(Registry::default)
}

/// A subscription to the datagrams arriving at `0.0.0.0:<port>`; dropping it releases the
/// listener (closed with its last subscriber).
pub(crate) struct ReplyPort {
    _listener: Arc<Listener>,
    rx: broadcast::Receiver<Datagram>,
}

impl ReplyPort {
    /// Subscribes to the shared listener on `port`, opening it if needed. `None` if the
    /// port cannot be bound (in use without `SO_REUSEADDR`, privileged, …) or no tokio
    /// runtime is running; callers then rely on their own socket only.
    pub(crate) fn subscribe(port: u16) -> Option<Self> {
        if port == 0 {
            return None;
        }
        let mut map = registry().lock().unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, w| w.strong_count() > 0);
        if let Some(l) = map.get(&port).and_then(Weak::upgrade) {
            // A listener whose runtime has shut down has a finished task: replace it.
            if !l.task.is_finished() {
                let rx = l.tx.subscribe();
                return Some(Self { _listener: l, rx });
            }
        }
        tokio::runtime::Handle::try_current().ok()?;
        let bind = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
        let socket = match tokio_udp(bind, true, true) {
            Ok(s) => s,
            Err(e) => {
                debug!(%bind, error = %e, "cannot listen on the reply port; relying on the source port");
                return None;
            }
        };
        let (tx, rx) = broadcast::channel(FANOUT_CAPACITY);
        let task = tokio::spawn(pump(socket, tx.clone()));
        let listener = Arc::new(Listener { tx, task });
        map.insert(port, Arc::downgrade(&listener));
        trace!(port, "listening on the reply port");
        Some(Self { _listener: listener, rx })
    }

    /// The next datagram, or `None` if the listener stopped. Datagrams missed because this
    /// subscriber fell behind are skipped.
    pub(crate) async fn recv(&mut self) -> Option<Datagram> {
        loop {
            match self.rx.recv().await {
                Ok(d) => return Some(d),
                Err(broadcast::error::RecvError::Lagged(n)) => debug!(n, "reply-port subscriber lagged"),
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

/// Waits on an optional [`ReplyPort`]; never completes when there is none (or it stopped).
pub(crate) async fn recv_optional(port: &mut Option<ReplyPort>) -> Datagram {
    if let Some(p) = port {
        if let Some(d) = p.recv().await {
            return d;
        }
        *port = None;
    }
    std::future::pending().await
}

async fn pump(socket: UdpSocket, tx: broadcast::Sender<Datagram>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, from)) => {
                let bytes: Arc<[u8]> = Arc::from(buf.get(..n).unwrap_or_default());
                // No subscriber at the moment is fine.
                let _ = tx.send((bytes, from));
            }
            Err(e) => {
                debug!(error = %e, "reply-port receive error");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::deadline_after;

    #[tokio::test]
    async fn reply_port_is_shared_and_fans_out() {
        let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        let Some(mut a) = ReplyPort::subscribe(port) else { return };
        let mut b = ReplyPort::subscribe(port).unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        sender.send_to(b"hello", ("127.0.0.1", port)).await.unwrap();
        let deadline = deadline_after(Duration::from_secs(5));
        let (da, from) = timeout_at(deadline, a.recv()).await.unwrap().unwrap();
        let (db, _) = timeout_at(deadline, b.recv()).await.unwrap().unwrap();
        assert_eq!((&*da, &*db), (&b"hello"[..], &b"hello"[..]));
        assert_eq!(from, sender.local_addr().unwrap());
        drop((a, b));
        assert!(registry().lock().unwrap().get(&port).and_then(Weak::upgrade).is_none());
    }
}
