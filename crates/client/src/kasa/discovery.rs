//! Finding Kasa devices: UDP broadcast discovery and unicast probing of known hosts
//! (kasa-protocol.md §4).
//!
//! Discovery sends the XOR-encrypted `{"system":{"get_sysinfo":{}}}` datagram (no length
//! prefix) to the target several times and collects the `get_sysinfo` replies. Replies are
//! streamed as they arrive, each device once. A reply only counts if it comes from the
//! target port (devices answer from the port they were asked on; python-kasa applies the
//! same rule), so [`Discovered::addr`] is also the device's TCP address.

use std::{
    collections::HashSet,
    io,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use crate::net::udp_socket;
use futures::{stream::BoxStream, Stream, StreamExt};
use plugctl_proto::kasa::{datagram, Request, Response, SysInfo, DEFAULT_PORT, DISCOVERY_QUERY};
use serde_json::Value;
use tokio::{
    net::UdpSocket,
    time::{sleep_until, Instant},
};
use tracing::{debug, trace, warn};

use super::{config::ClientConfig, device::KasaDevice};
use crate::error::{Error, Op, Result};
use crate::net::{deadline_after, instant_after};

/// Settings of [`discover`] and [`probe`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryConfig {
    /// Where the discovery datagram goes. Default `255.255.255.255:9999` (the whole LAN);
    /// tests pass a loopback target such as `127.255.255.255:P`. Ignored by [`probe`].
    pub target: SocketAddr,
    /// How long to listen. Default 3 s. [`probe`] uses it for the UDP phase and again for
    /// the TCP fallback.
    pub timeout: Duration,
    /// How many datagrams to send, spread evenly over `timeout` (the first at once).
    /// Default 3; 0 counts as 1.
    pub packets: u32,
    /// The local address to send from. Default `0.0.0.0:0` (an IPv6 target with an
    /// unspecified IPv4 bind uses `[::]:0` instead).
    pub bind: SocketAddr,
}

impl Default for DiscoveryConfig {
    fn default() -> Self {
        Self {
            target: SocketAddr::from((Ipv4Addr::BROADCAST, DEFAULT_PORT)),
            timeout: Duration::from_secs(3),
            packets: 3,
            bind: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        }
    }
}

/// A device that answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovered {
    /// Where the reply came from: the device's IP and port (also its TCP address).
    pub addr: SocketAddr,
    /// The device's `get_sysinfo`.
    pub sysinfo: SysInfo,
    /// The whole decoded reply, as the device sent it.
    pub raw: Value,
}

impl Discovered {
    /// A handle on this device that already knows its sysinfo.
    pub fn device(&self, cfg: ClientConfig) -> KasaDevice {
        KasaDevice::with_sysinfo(self.addr, cfg, self.sysinfo.clone())
    }
}

/// The stream of devices returned by [`discover`]. Ends when the discovery timeout expires;
/// dropping it stops the discovery.
pub struct Discovery {
    inner: BoxStream<'static, Discovered>,
}

impl std::fmt::Debug for Discovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discovery").finish_non_exhaustive()
    }
}

impl Stream for Discovery {
    type Item = Discovered;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Discovered>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// Broadcasts the discovery query and streams each device that answers, once.
///
/// Devices are told apart by `deviceId`, else by MAC, else by IP. The socket is opened and
/// the first datagram sent before this returns, so a socket that cannot be opened or a
/// target that cannot be reached is reported here ([`Error::Io`] with [`Op::Bind`] or
/// [`Op::Send`], [`Error::Refused`] for an unreachable network), with the target as the
/// address. Later send failures and bad datagrams (undecodable, not JSON, no sysinfo, wrong
/// source port) are logged and skipped.
///
/// Must be called within a tokio runtime with I/O enabled (an error otherwise).
pub fn discover(cfg: DiscoveryConfig) -> Result<Discovery> {
    let target = cfg.target;
    let bind_error = |error| Error::Io { addr: target, op: Op::Bind, error };
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(bind_error(io::Error::other("discover() must be called within a tokio runtime")));
    }
    let socket = udp_socket(effective_bind(cfg.bind, target), true, false).map_err(bind_error)?;
    let query = datagram::encode(DISCOVERY_QUERY.as_bytes());
    match socket.send_to(&query, &target.into()) {
        Ok(_) => {}
        // The non-blocking socket's buffer is full: the next scheduled packet will go.
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(error) => return Err(send_error(target, error)),
    }
    let socket = UdpSocket::from_std(socket.into()).map_err(bind_error)?;
    let start = Instant::now();
    let packets = cfg.packets.max(1);
    let scan = Scan {
        socket,
        target,
        query,
        start,
        deadline: deadline_after(cfg.timeout),
        interval: cfg.timeout / packets,
        sent: 1,
        packets,
        seen: HashSet::new(),
        buf: vec![0; datagram::MAX_DATAGRAM],
    };
    Ok(Discovery { inner: futures::stream::unfold(scan, Scan::next).boxed() })
}

/// Runs [`discover`] to the end and returns every device found, in order of arrival.
pub async fn discover_all(cfg: DiscoveryConfig) -> Result<Vec<Discovered>> {
    Ok(discover(cfg)?.collect().await)
}

/// Asks each of `hosts` directly, all in parallel, and returns one result per host, in
/// the order given.
///
/// Each host is first asked by unicast UDP (`packets` datagrams over `timeout`, as
/// python-kasa's `discover_single` does); if no valid reply comes, it is asked
/// `get_sysinfo` over TCP (one attempt, `timeout` for connect and for the reply). The
/// error of the TCP attempt is returned when both fail. `target` is ignored.
pub async fn probe(hosts: &[SocketAddr], cfg: DiscoveryConfig) -> Vec<(SocketAddr, Result<Discovered>)> {
    let cfg = &cfg;
    let tasks = hosts.iter().map(|&host| async move {
        let result = match probe_udp(host, cfg).await {
            Ok(d) => Ok(d),
            Err(e) => {
                debug!(%host, error = %e, "no UDP answer; trying TCP");
                probe_tcp(host, cfg).await
            }
        };
        (host, result)
    });
    futures::future::join_all(tasks).await
}

/// The state of a running discovery.
struct Scan {
    socket: UdpSocket,
    target: SocketAddr,
    query: Vec<u8>,
    start: Instant,
    deadline: Instant,
    interval: Duration,
    sent: u32,
    packets: u32,
    seen: HashSet<String>,
    buf: Vec<u8>,
}

impl Scan {
    /// Waits for the next new device, re-sending the query on schedule.
    async fn next(mut self) -> Option<(Discovered, Self)> {
        loop {
            let resend_at =
                (self.sent < self.packets).then(|| instant_after(self.start, self.interval * self.sent));
            tokio::select! {
                () = sleep_until(self.deadline) => return None,
                () = sleep_until(resend_at.unwrap_or(self.deadline)), if resend_at.is_some() => {
                    self.sent += 1;
                    if let Err(e) = self.socket.send_to(&self.query, self.target).await {
                        warn!(target_addr = %self.target, error = %e, "discovery send failed");
                    }
                }
                r = self.socket.recv_from(&mut self.buf) => match r {
                    Ok((n, from)) => {
                        let Some(bytes) = self.buf.get(..n) else { continue };
                        if let Some(found) = accept(bytes, from, self.target.port(), &mut self.seen) {
                            return Some((found, self));
                        }
                    }
                    Err(e) => {
                        debug!(error = %e, "discovery receive error");
                        // Do not spin on a persistent error.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                },
            }
        }
    }
}

/// Turns a received datagram into a new device, or `None` (logged) if it is not one.
fn accept(bytes: &[u8], from: SocketAddr, port: u16, seen: &mut HashSet<String>) -> Option<Discovered> {
    if from.port() != port {
        debug!(%from, "discovery reply from a port other than {port}; ignored");
        return None;
    }
    let found = decode_reply(bytes, from)?;
    if !seen.insert(dedup_key(&found.sysinfo, from.ip())) {
        trace!(%from, "duplicate discovery reply");
        return None;
    }
    Some(found)
}

/// Decodes a discovery reply datagram; `None` (logged) if it is not a sysinfo.
fn decode_reply(bytes: &[u8], from: SocketAddr) -> Option<Discovered> {
    let resp = match Response::parse(&datagram::decode(bytes)) {
        Ok(r) => r,
        Err(e) => {
            debug!(%from, len = bytes.len(), error = %e, "undecodable discovery reply; ignored");
            return None;
        }
    };
    match SysInfo::from_response(&resp) {
        Ok(sysinfo) => Some(Discovered { addr: from, sysinfo, raw: resp.into_value() }),
        Err(e) => {
            debug!(%from, error = %e, "discovery reply without a usable sysinfo; ignored");
            None
        }
    }
}

/// How devices are told apart: `deviceId`, else MAC, else IP. All-zero (scrubbed) ids
/// and MACs do not count.
pub(crate) fn dedup_key(info: &SysInfo, ip: IpAddr) -> String {
    let meaningful = |s: &str| s.chars().any(|c| c.is_ascii_alphanumeric() && c != '0');
    if meaningful(&info.device_id) {
        return format!("id:{}", info.device_id.to_ascii_uppercase());
    }
    let mac: String =
        info.mac.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect();
    if meaningful(&mac) {
        return format!("mac:{mac}");
    }
    format!("ip:{ip}")
}

/// UDP phase of [`probe`]: a connected socket, so only `host` can answer.
async fn probe_udp(host: SocketAddr, cfg: &DiscoveryConfig) -> Result<Discovered> {
    let socket = udp_socket(effective_bind(cfg.bind, host), false, false)
        .and_then(|s| UdpSocket::from_std(s.into()))
        .map_err(|error| Error::Io { addr: host, op: Op::Bind, error })?;
    socket.connect(host).await.map_err(|error| send_error(host, error))?;
    let query = datagram::encode(DISCOVERY_QUERY.as_bytes());
    let start = Instant::now();
    let deadline = deadline_after(cfg.timeout);
    let packets = cfg.packets.max(1);
    let interval = cfg.timeout / packets;
    let mut buf = vec![0; datagram::MAX_DATAGRAM];
    let mut sent = 0;
    loop {
        if sent < packets && Instant::now() >= instant_after(start, interval * sent) {
            sent += 1;
            socket.send(&query).await.map_err(|error| send_error(host, error))?;
        }
        let wake =
            if sent < packets { instant_after(start, interval * sent).min(deadline) } else { deadline };
        tokio::select! {
            () = sleep_until(wake) => {
                if Instant::now() >= deadline {
                    return Err(Error::Timeout { addr: host, op: Op::Reply, after: cfg.timeout });
                }
            }
            r = socket.recv(&mut buf) => match r {
                Ok(n) => {
                    if let Some(found) = buf.get(..n).and_then(|b| decode_reply(b, host)) {
                        return Ok(found);
                    }
                }
                // An ICMP "port unreachable" for an earlier datagram.
                Err(error) if Error::is_refusal(&error) => return Err(Error::Refused { addr: host, error }),
                Err(error) => return Err(Error::Io { addr: host, op: Op::Reply, error }),
            },
        }
    }
}

/// TCP phase of [`probe`]: one `get_sysinfo` attempt.
async fn probe_tcp(host: SocketAddr, cfg: &DiscoveryConfig) -> Result<Discovered> {
    let dev = KasaDevice::new(host, ClientConfig { timeout: cfg.timeout, retries: 0, ..Default::default() });
    let resp = dev.query(&Request::get_sysinfo()).await?;
    let sysinfo = SysInfo::from_response(&resp).map_err(|e| Error::from_response(host, e))?;
    Ok(Discovered { addr: host, sysinfo, raw: resp.into_value() })
}

fn send_error(addr: SocketAddr, error: io::Error) -> Error {
    if Error::is_refusal(&error) {
        Error::Refused { addr, error }
    } else {
        Error::Io { addr, op: Op::Send, error }
    }
}

/// `bind`, switched to `[::]:port` when it is the unspecified IPv4 address and the peer
/// is IPv6.
fn effective_bind(bind: SocketAddr, peer: SocketAddr) -> SocketAddr {
    match (bind.ip(), peer) {
        (IpAddr::V4(ip), SocketAddr::V6(_)) if ip.is_unspecified() => {
            SocketAddr::from((Ipv6Addr::UNSPECIFIED, bind.port()))
        }
        _ => bind,
    }
}

/// A non-blocking UDP socket bound to `bind`, with SO_BROADCAST if asked (IPv4).
#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: &str, mac: &str) -> SysInfo {
        let v = serde_json::json!({"model":"HS100(US)","mac":mac,"deviceId":id});
        let Some(m) = v.as_object() else { unreachable!() };
        SysInfo::from_map(m).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn dedup_prefers_device_id_then_mac_then_ip() {
        let ip = IpAddr::from([127, 0, 0, 2]);
        assert_eq!(dedup_key(&info("80AB", "50:C7:BF:01:02:03"), ip), "id:80AB");
        assert_eq!(dedup_key(&info("", "50:c7:bf:01:02:03"), ip), "mac:50C7BF010203");
        assert_eq!(dedup_key(&info("0000", "50C7BF010203"), ip), "mac:50C7BF010203");
        assert_eq!(dedup_key(&info("", "00:00:00:00:00:00"), ip), "ip:127.0.0.2");
    }

    #[test]
    fn garbage_is_not_a_device() {
        let from = SocketAddr::from(([127, 0, 0, 2], 9999));
        let mut seen = HashSet::new();
        assert!(accept(b"\xff\x00garbage", from, 9999, &mut seen).is_none());
        let no_sysinfo = datagram::encode(br#"{"system":{"get_sysinfo":{"err_code":-1}}}"#);
        assert!(accept(&no_sysinfo, from, 9999, &mut seen).is_none());
        let ok =
            datagram::encode(br#"{"system":{"get_sysinfo":{"model":"HS100(US)","mac":"AA","err_code":0}}}"#);
        assert!(accept(&ok, SocketAddr::from(([127, 0, 0, 2], 1234)), 9999, &mut seen).is_none());
        assert!(accept(&ok, from, 9999, &mut seen).is_some());
        assert!(accept(&ok, from, 9999, &mut seen).is_none(), "duplicate");
        assert!(seen.contains("mac:AA"));
    }
}
