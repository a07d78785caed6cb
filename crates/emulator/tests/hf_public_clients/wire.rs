//! Socket-level replay helpers for `hf_public_clients.rs`: sockets bound and read the way
//! the public clients do it (one `recv` with the client's own buffer size, a UDP port of
//! the client's own standing in for 48899, connected UDP sockets), plugs answering the
//! loopback broadcast address, and the discovery-reply check two clients share.
//!
//! Every wait is bounded by [`GUARD`], which only guards against hangs: nothing here
//! measures how fast the plug answers.

use std::{
    io,
    net::{Ipv4Addr, SocketAddr, UdpSocket as StdUdpSocket},
    time::Duration,
};

use plugctl_emulator::hf::{
    fleet, Fleet, FleetConfig, PlugStatus, Ports, ReplyCopy, RunningPlug, ServerConfig, StartMode,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpStream, UdpSocket},
};

use crate::hf_common::{server_cfg, GUARD};

/// Stands in for the LAN broadcast addresses the clients use (`255.255.255.255`,
/// `192.168.x.255`, `10.10.100.255`): every plug of a [`broadcast_fleet`] answers datagrams
/// sent there, from its own address.
pub const BROADCAST: Ipv4Addr = Ipv4Addr::new(127, 255, 255, 255);

/// `bytes` escaped like a byte-string literal, for assertion messages.
pub fn show(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// A reply of the plug as text (replies are ASCII; SSIDs in `AT+WSCAN` may be UTF-8).
pub fn text(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_else(|e| panic!("reply {} is not text: {e}", show(bytes)))
}

/// Outlet 1 as the plug holds it.
pub fn relay(plug: &RunningPlug) -> bool {
    plug.device().lock().expect("plug state lock").relay(1).expect("outlet 1 exists")
}

/// Waits until outlet 1 is `on`, for clients that never read the reply.
pub async fn wait_relay(plug: &RunningPlug, on: bool) {
    tokio::time::timeout(GUARD, async {
        while relay(plug) != on {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("outlet 1 never became {}", if on { "ON" } else { "OFF" }));
}

/// Waits until the plug finished `boots` reboots and serves again.
pub async fn wait_rebooted(plug: &RunningPlug, boots: u64) -> PlugStatus {
    tokio::time::timeout(GUARD, plug.wait_for(|s| s.boots == boots && s.online))
        .await
        .unwrap_or_else(|_| panic!("the plug never came back from reboot {boots}: {:?}", plug.status()))
}

// ---- TCP 8899 -------------------------------------------------------------------------

/// A TCP connection as every client opens it (no options set).
pub async fn connect(addr: SocketAddr) -> TcpStream {
    tokio::time::timeout(GUARD, TcpStream::connect(addr))
        .await
        .expect("connect hang")
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"))
}

/// One `send()` of the whole request.
pub async fn send(stream: &mut TcpStream, bytes: &[u8]) {
    stream.write_all(bytes).await.unwrap_or_else(|e| panic!("sending {}: {e}", show(bytes)));
}

/// One `recv(cap)`, as the clients read replies: what that single read returns. Also checks
/// that the reply fit the client's buffer (nothing beyond `cap` bytes arrived with it).
pub async fn recv_once(stream: &mut TcpStream, cap: usize) -> Vec<u8> {
    let mut buf = vec![0u8; cap + 1];
    let n = tokio::time::timeout(GUARD, stream.read(&mut buf))
        .await
        .expect("no reply (hang)")
        .expect("read the reply");
    assert!(n > 0, "the plug closed the connection instead of replying");
    assert!(n <= cap, "reply longer than the client's recv({cap}): {}", show(&buf[..n]));
    buf.truncate(n);
    buf
}

/// New connection, one send, one `recv(cap)`, close: the habit of most Reco clients.
pub async fn one_shot(addr: SocketAddr, request: &[u8], cap: usize) -> Vec<u8> {
    let mut stream = connect(addr).await;
    send(&mut stream, request).await;
    recv_once(&mut stream, cap).await
}

// ---- UDP 48899 ------------------------------------------------------------------------

/// A UDP socket bound at once, without an `.await`: on the single-threaded test runtime no
/// plug task runs in between, which keeps the close-then-rebind habits of some clients
/// deterministic.
pub fn bind_udp(ip: Ipv4Addr, port: u16, broadcast: bool) -> UdpSocket {
    let sock = StdUdpSocket::bind((ip, port)).unwrap_or_else(|e| panic!("bind UDP {ip}:{port}: {e}"));
    sock.set_broadcast(broadcast).expect("SO_BROADCAST");
    sock.set_nonblocking(true).expect("non-blocking UDP socket");
    UdpSocket::from_std(sock).expect("tokio UDP socket")
}

/// The local port of `sock`.
pub fn port_of(sock: &UdpSocket) -> u16 {
    sock.local_addr().expect("local UDP address").port()
}

/// One `sendto`.
pub async fn send_to(sock: &UdpSocket, payload: &[u8], to: SocketAddr) {
    sock.send_to(payload, to).await.unwrap_or_else(|e| panic!("sending {} to {to}: {e}", show(payload)));
}

/// One `recvfrom(cap)`; checks the datagram fit the client's buffer.
pub async fn recv_dgram(sock: &UdpSocket, cap: usize) -> (Vec<u8>, SocketAddr) {
    recv_within(sock, cap, GUARD).await.expect("no datagram (hang)")
}

/// One `recvfrom(cap)` waiting at most `wait` (the client's own timeout, used only where
/// the plug is expected to stay silent).
pub async fn recv_within(sock: &UdpSocket, cap: usize, wait: Duration) -> Option<(Vec<u8>, SocketAddr)> {
    let mut buf = vec![0u8; cap + 1];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, sock.recv_from(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok((n, from))) => {
                assert!(n <= cap, "datagram longer than the client's buffer ({cap}): {}", show(&buf[..n]));
                buf.truncate(n);
                return Some((buf, from));
            }
            // an ICMP error left by an earlier datagram to a closed port
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
            Ok(Err(e)) => panic!("recvfrom: {e}"),
        }
    }
}

/// One `recv(cap)` on a connected UDP socket (which only sees datagrams from its peer).
pub async fn recv_connected(sock: &UdpSocket, cap: usize) -> Vec<u8> {
    let mut buf = vec![0u8; cap + 1];
    let n = tokio::time::timeout(GUARD, sock.recv(&mut buf))
        .await
        .expect("no datagram from the peer (hang)")
        .expect("recv on the connected socket");
    assert!(n <= cap, "datagram longer than the client's buffer ({cap}): {}", show(&buf[..n]));
    buf.truncate(n);
    buf
}

/// A plug fleet of `count` on consecutive addresses from `base`, answering datagrams sent
/// to [`BROADCAST`]; `reply_copy` says where `YZ-RECOSCAN` reply copies go.
pub async fn broadcast_fleet(
    base: Ipv4Addr,
    count: usize,
    mode: StartMode,
    reply_copy: ReplyCopy,
    seed: u64,
) -> Fleet {
    let cfg = FleetConfig {
        count,
        base,
        mode,
        ports: Ports::ephemeral(),
        broadcast: Some(BROADCAST),
        seed,
        server: ServerConfig { reply_copy, ..server_cfg() },
        ..FleetConfig::default()
    };
    fleet::start(cfg).await.unwrap_or_else(|e| panic!("fleet from {base}: {e}"))
}

/// Plug `i` of `fleet`.
pub fn member(fleet: &Fleet, i: usize) -> &RunningPlug {
    fleet.plug(i).unwrap_or_else(|| panic!("the fleet has no plug {i}"))
}

/// Where the fleet answers broadcasts.
pub fn broadcast_to(fleet: &Fleet) -> SocketAddr {
    fleet.broadcast_addr().expect("broadcast enabled")
}

// ---- shared client-side checks ----------------------------------------------------------

/// An HF assist AT reply as the HF clients read it: `+ok[=value]` or `+ERR=<n>`, then
/// `\r\n\r\n`, in one datagram. Returns the text before the terminator.
pub fn at_reply(datagram: &[u8]) -> &str {
    let t = text(datagram);
    let body = t
        .strip_suffix("\r\n\r\n")
        .unwrap_or_else(|| panic!("AT reply {} does not end with \\r\\n\\r\\n", show(datagram)));
    assert!(body.starts_with("+ok") || body.starts_with("+ERR="), "not an AT reply: {}", show(datagram));
    body
}

/// The discovery-reply check of cfxtby `recoContact.c` / CHNVigny `recoContact.cpp`
/// (`recordReco`, hf-protocol.md §3.1): `strtok(buf, ",")`; field 1 must pass `inet_pton`,
/// the MAC must be exactly 12 characters, the SN at most 12, the flag exactly 1 character and
/// the state exactly `0` or `1`. Returns (ip, SN, relay on).
pub fn reco_record(reply: &[u8]) -> (Ipv4Addr, String, bool) {
    let r = show(reply);
    // strtok skips empty tokens
    let mut tok = text(reply).split(',').filter(|t| !t.is_empty());
    let ip = tok.next().and_then(|t| t.parse::<Ipv4Addr>().ok());
    let ip = ip.unwrap_or_else(|| panic!("recordReco: field 1 fails inet_pton: {r}"));
    let mac = tok.next().unwrap_or_default();
    assert_eq!(mac.len(), 12, "recordReco: strlen(mac) != 12: {r}");
    let sn = tok.next().unwrap_or_else(|| panic!("recordReco: no SN: {r}"));
    assert!(sn.len() <= 12, "recordReco: strlen(sn) > 12: {r}");
    let flag = tok.next().unwrap_or_default();
    assert_eq!(flag.len(), 1, "recordReco: flag must be 1 character: {r}");
    let state = tok.next().unwrap_or_default();
    assert!(state == "0" || state == "1", "recordReco: state must be 0 or 1: {r}");
    (ip, sn.to_string(), state == "1")
}
