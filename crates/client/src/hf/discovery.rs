//! Finding Hi-Flying plugs: `YZ-RECOSCAN` broadcast on UDP 48899 (hf-protocol.md §3.1).
//!
//! The 11-byte request goes to the target (by default `255.255.255.255:48899`) several
//! times; every `ip,MAC,SN,flag,state[,…]` reply is streamed as it arrives, each plug (MAC)
//! once. Plugs differ in where they send the reply, and both behaviours are covered without
//! privileges:
//! - to the request's source port: received on the sending socket (ephemeral by default);
//! - to the fixed port 48899 of the client (`reply_port`): received by a second socket bound
//!   to `0.0.0.0:<reply_port>` with `SO_REUSEADDR`, shared with the rest of the process (see
//!   `udp.rs`); if that port cannot be bound, discovery goes on without it.
//!
//! The client's own broadcast coming back, and datagrams that are not replies, are skipped.

use crate::net::udp_socket;
use std::{
    collections::HashSet,
    io,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use futures::{stream::BoxStream, Stream, StreamExt};
use plugctl_proto::hf::{Mac, RecoScanError, RecoScanReply, MAX_DATAGRAM, RECOSCAN, UDP_PORT};
use tokio::{
    net::UdpSocket,
    time::{sleep_until, Instant},
};
use tracing::{debug, trace, warn};

use super::{
    config::HfConfig,
    device::{send_error, HfDevice},
    udp::{any_addr_for, recv_optional, ReplyPort},
};
use crate::error::{Error, Op, Result};
use crate::net::{deadline_after, instant_after};

/// Settings of [`discover`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HfDiscoveryConfig {
    /// Where `YZ-RECOSCAN` goes. Default `255.255.255.255:48899`; tests pass a loopback
    /// target such as `127.255.255.255:P`; a unicast address asks one plug.
    pub target: SocketAddr,
    /// How long to listen. Default 3 s.
    pub timeout: Duration,
    /// How many requests to send, spread evenly over `timeout` (the first at once).
    /// Default 3; 0 counts as 1.
    pub packets: u32,
    /// The local address to send from. Default `0.0.0.0:0` (an ephemeral port; an IPv6
    /// target uses `[::]`). Binding port 48899 here, as most Reco clients do, also works.
    pub bind: SocketAddr,
    /// Whether to listen on `0.0.0.0:<reply_port>` as well, for plugs that reply to the
    /// fixed port. Default `true`; failure to bind is ignored.
    pub listen_reply_port: bool,
    /// The fixed port plugs may reply to. Default 48899; tests use a free port.
    pub reply_port: u16,
}

impl Default for HfDiscoveryConfig {
    fn default() -> Self {
        Self {
            target: SocketAddr::from((Ipv4Addr::BROADCAST, UDP_PORT)),
            timeout: Duration::from_secs(3),
            packets: 3,
            bind: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            listen_reply_port: true,
            reply_port: UDP_PORT,
        }
    }
}

/// A plug that answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HfDiscovered {
    /// Where the reply came from (the plug's IP; the port it sent from).
    pub addr: SocketAddr,
    /// The decoded reply. `reply.ip` normally equals `addr`'s IP.
    pub reply: RecoScanReply,
    /// Whether the first reply arrived at the fixed reply port rather than at the
    /// request's source port.
    pub via_reply_port: bool,
}

impl HfDiscovered {
    /// A handle on this plug (at the reply's source IP).
    pub fn device(&self, cfg: HfConfig) -> HfDevice {
        HfDevice::new(self.addr.ip(), cfg)
    }
}

/// The stream returned by [`discover`]. Ends when the timeout expires; dropping it stops
/// the discovery.
pub struct HfDiscovery {
    inner: BoxStream<'static, HfDiscovered>,
}

impl std::fmt::Debug for HfDiscovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HfDiscovery").finish_non_exhaustive()
    }
}

impl Stream for HfDiscovery {
    type Item = HfDiscovered;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<HfDiscovered>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// Broadcasts `YZ-RECOSCAN` and streams each plug that answers, once (by MAC).
///
/// The sockets are opened and the first request sent before this returns, so a socket
/// that cannot be opened or a target that cannot be reached is reported here
/// ([`Error::Io`] with [`Op::Bind`] or [`Op::Send`], [`Error::Refused`] for an unreachable
/// network), with the target as the address. Later send failures and bad datagrams are
/// logged and skipped. Must be called within a tokio runtime.
pub fn discover(cfg: HfDiscoveryConfig) -> Result<HfDiscovery> {
    let target = cfg.target;
    let bind_error = |error| Error::Io { addr: target, op: Op::Bind, error };
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(bind_error(io::Error::other("discover() must be called within a tokio runtime")));
    }
    let bind = match (cfg.bind.ip(), target.ip()) {
        (IpAddr::V4(ip), IpAddr::V6(_)) if ip.is_unspecified() => any_addr_for(target.ip(), cfg.bind.port()),
        _ => cfg.bind,
    };
    // A fixed local port (e.g. 48899, as most Reco clients use) may be shared.
    let socket = udp_socket(bind, true, bind.port() != 0).map_err(bind_error)?;
    let own_port = socket.local_addr().ok().and_then(|a| a.as_socket()).map(|a| a.port());
    let reply_port = (cfg.listen_reply_port && target.is_ipv4() && own_port != Some(cfg.reply_port))
        .then(|| ReplyPort::subscribe(cfg.reply_port))
        .flatten();
    match socket.send_to(RECOSCAN.as_bytes(), &target.into()) {
        Ok(_) => {}
        // The non-blocking socket's buffer is full: the next scheduled packet will go.
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(error) => return Err(send_error(target, error)),
    }
    let socket = UdpSocket::from_std(socket.into()).map_err(bind_error)?;
    let packets = cfg.packets.max(1);
    let scan = Scan {
        socket,
        reply_port,
        target,
        start: Instant::now(),
        deadline: deadline_after(cfg.timeout),
        interval: cfg.timeout / packets,
        sent: 1,
        packets,
        seen: HashSet::new(),
        buf: vec![0; MAX_DATAGRAM],
    };
    Ok(HfDiscovery { inner: futures::stream::unfold(scan, Scan::next).boxed() })
}

/// Runs [`discover`] to the end and returns every plug found, in order of arrival.
pub async fn discover_all(cfg: HfDiscoveryConfig) -> Result<Vec<HfDiscovered>> {
    Ok(discover(cfg)?.collect().await)
}

struct Scan {
    socket: UdpSocket,
    reply_port: Option<ReplyPort>,
    target: SocketAddr,
    start: Instant,
    deadline: Instant,
    interval: Duration,
    sent: u32,
    packets: u32,
    seen: HashSet<Mac>,
    buf: Vec<u8>,
}

impl Scan {
    async fn next(mut self) -> Option<(HfDiscovered, Self)> {
        loop {
            let resend_at =
                (self.sent < self.packets).then(|| instant_after(self.start, self.interval * self.sent));
            tokio::select! {
                () = sleep_until(self.deadline) => return None,
                () = sleep_until(resend_at.unwrap_or(self.deadline)), if resend_at.is_some() => {
                    self.sent += 1;
                    if let Err(e) = self.socket.send_to(RECOSCAN.as_bytes(), self.target).await {
                        warn!(target_addr = %self.target, error = %e, "YZ-RECOSCAN send failed");
                    }
                }
                r = self.socket.recv_from(&mut self.buf) => match r {
                    Ok((n, from)) => {
                        let bytes = self.buf.get(..n).unwrap_or_default();
                        if let Some(found) = accept(bytes, from, false, &mut self.seen) {
                            return Some((found, self));
                        }
                    }
                    Err(e) => {
                        debug!(error = %e, "discovery receive error");
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                },
                (bytes, from) = recv_optional(&mut self.reply_port) => {
                    if let Some(found) = accept(&bytes, from, true, &mut self.seen) {
                        return Some((found, self));
                    }
                }
            }
        }
    }
}

/// Turns a datagram into a new plug, or `None` (logged) if it is not one or was seen.
fn accept(
    bytes: &[u8],
    from: SocketAddr,
    via_reply_port: bool,
    seen: &mut HashSet<Mac>,
) -> Option<HfDiscovered> {
    let reply = match RecoScanReply::parse(bytes) {
        Ok(r) => r,
        Err(RecoScanError::IsRequest) => {
            trace!(%from, "a YZ-RECOSCAN request (our own broadcast?); ignored");
            return None;
        }
        Err(e) => {
            debug!(%from, len = bytes.len(), error = %e, "not a YZ-RECOSCAN reply; ignored");
            return None;
        }
    };
    if !seen.insert(reply.mac) {
        trace!(%from, mac = %reply.mac, "duplicate reply");
        return None;
    }
    if IpAddr::V4(reply.ip) != from.ip() {
        debug!(%from, reported = %reply.ip, "plug reports an IP other than the one it sent from");
    }
    Some(HfDiscovered { addr: from, reply, via_reply_port })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_garbage_and_duplicates_are_skipped() {
        let from = SocketAddr::from(([127, 0, 0, 2], 48899));
        let mut seen = HashSet::new();
        assert!(accept(b"YZ-RECOSCAN", from, false, &mut seen).is_none());
        assert!(accept(b"\xff\xfe garbage", from, false, &mut seen).is_none());
        assert!(accept(b"127.0.0.2,ACCF23484D70", from, false, &mut seen).is_none());
        let r = b"127.0.0.2,ACCF23484D70,040002298,1,1,0";
        let found = accept(r, from, true, &mut seen).unwrap();
        assert_eq!(
            (found.addr, found.reply.serial.as_str(), found.via_reply_port),
            (from, "040002298", true)
        );
        assert!(accept(r, from, false, &mut seen).is_none());
    }
}
