//! KLAP mode: impersonate a plug on **newer firmware** (kasa-protocol.md §6), for tests of
//! the "this plug needs cloud credentials" error path. Nothing of KLAP itself is
//! implemented; the emulated plug only shows the signs clients look for:
//!
//! - the legacy port (TCP 9999 in production): either nobody listens (connection refused,
//!   [`LegacyPort::Refuse`]) or each connection is closed once the request arrived, without
//!   a byte of reply ([`LegacyPort::Close`], python-kasa #119 "unpack requires a buffer of
//!   4 bytes"); UDP on that port is bound and silent;
//! - an HTTP responder (TCP 80 in production): `POST /app/handshake1` → `200` with a
//!   48-byte body (16-byte seed + 32 bytes standing for the hash) and a `TP_SESSIONID`
//!   cookie; anything else → `404`;
//! - a discovery responder (UDP 20002 in production): a datagram starting with a TDP header
//!   of version 2 gets a 16-byte header + the dump's `discovery_result` JSON, with `ip`,
//!   `mac`, `device_id` and `mgt_encrypt_schm.http_port` set to this device's.
//!
//! Every read is size-capped and time-bounded; nothing connects out.

use std::{
    io,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use plugctl_proto::kasa::tdp;
use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream, UdpSocket},
    sync::Semaphore,
    task::JoinHandle,
    time::timeout,
};

use super::{
    fleet::addrs,
    profile::{ids, Profile},
    server::{tcp_listener, udp_socket},
};

/// How often port picking retries when a picked port is taken on another address.
const PICK_ATTEMPTS: usize = 32;
/// Largest HTTP request (head + body) read.
const MAX_HTTP_REQUEST: usize = 8 * 1024;
/// Largest datagram read.
const MAX_DATAGRAM: usize = 64 * 1024;
/// Largest legacy frame drained before closing.
const MAX_LEGACY_FRAME: usize = 64 * 1024;
/// Per-connection read time limit.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a closed legacy connection is drained.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);
/// Concurrent HTTP and legacy connections per device.
const MAX_CONNECTIONS: usize = 32;

/// What the legacy (XOR) port does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LegacyPort {
    /// Accept, read the request, close without replying.
    #[default]
    Close,
    /// Do not listen: connections are refused.
    Refuse,
}

/// Ports and behaviour of KLAP mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KlapConfig {
    /// The legacy port number (TCP and UDP); 0 picks one.
    pub legacy_port: u16,
    /// What the legacy port does.
    pub legacy: LegacyPort,
    /// The HTTP (KLAP handshake) port; 0 picks one. 80 on real plugs.
    pub http_port: u16,
    /// The newer discovery port (UDP); 0 picks one. 20002 on real plugs.
    pub udp_port: u16,
}

impl Default for KlapConfig {
    fn default() -> Self {
        Self { legacy_port: 9999, legacy: LegacyPort::Close, http_port: 80, udp_port: 20002 }
    }
}

/// One impersonated plug, as clients see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KlapDevice {
    /// Its address.
    pub ip: IpAddr,
    /// The model, e.g. `HS100(UK)`.
    pub model: String,
    /// MAC.
    pub mac: String,
    /// 40-hex device id (the first 32 digits are the discovery `device_id`).
    pub device_id: String,
    /// Alias at start.
    pub alias: String,
}

/// Running KLAP-mode plugs; dropping stops them.
#[derive(Debug)]
pub struct RunningKlap {
    devices: Vec<KlapDevice>,
    legacy_port: u16,
    http_port: u16,
    udp_port: u16,
    tasks: Vec<JoinHandle<()>>,
}

impl RunningKlap {
    /// The plugs, in address order.
    pub fn devices(&self) -> &[KlapDevice] {
        &self.devices
    }

    /// The legacy port number (refused or closing).
    pub fn legacy_port(&self) -> u16 {
        self.legacy_port
    }

    /// The HTTP (handshake) port.
    pub fn http_port(&self) -> u16 {
        self.http_port
    }

    /// The discovery (UDP) port.
    pub fn udp_port(&self) -> u16 {
        self.udp_port
    }

    /// Stops every responder and waits until the sockets are closed.
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

impl Drop for RunningKlap {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// Whether a profile comes from a KLAP/AES dump (its `discovery_result` names the scheme).
pub fn is_klap_profile(profile: &Profile) -> bool {
    profile
        .klap_discovery()
        .and_then(|d| d.pointer("/result/mgt_encrypt_schm/encrypt_type"))
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("KLAP") || t.eq_ignore_ascii_case("AES"))
}

/// Starts `count` KLAP-mode plugs of `profile` on consecutive addresses from `base`, all on
/// the same three port numbers. Must be called inside a tokio runtime.
pub async fn start(
    profile: &Profile,
    count: usize,
    base: Ipv4Addr,
    seed: u64,
    cfg: &KlapConfig,
) -> io::Result<RunningKlap> {
    if count == 0 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "at least one device is needed"));
    }
    let ips: Vec<IpAddr> = addrs::consecutive(base, count)?.into_iter().map(IpAddr::V4).collect();
    let (legacy_port, legacy_tcp, legacy_udp) = match cfg.legacy {
        LegacyPort::Close => {
            let (port, tcp) = bind_everywhere(&ips, cfg.legacy_port, tcp_listener)?;
            let udp =
                ips.iter().map(|ip| udp_socket(SocketAddr::new(*ip, port))).collect::<io::Result<_>>()?;
            (port, tcp, udp)
        }
        LegacyPort::Refuse => {
            let (port, udp) = bind_everywhere(&ips, cfg.legacy_port, udp_socket)?;
            (port, Vec::new(), udp)
        }
    };
    let (http_port, http) = bind_everywhere(&ips, cfg.http_port, tcp_listener)?;
    let (udp_port, disco) = bind_everywhere(&ips, cfg.udp_port, udp_socket)?;

    let (mut legacy_tcp, mut legacy_udp) = (legacy_tcp.into_iter(), legacy_udp.into_iter());
    let (mut http, mut disco) = (http.into_iter(), disco.into_iter());
    let mut devices = Vec::with_capacity(count);
    let mut tasks = Vec::new();
    for (i, ip) in ips.iter().enumerate() {
        let state = profile.instantiate(i, seed);
        let dev = KlapDevice {
            ip: *ip,
            model: state.model().to_string(),
            mac: state.mac().to_string(),
            device_id: state.device_id().to_string(),
            alias: state.alias().to_string(),
        };
        let reply = Arc::new(discovery_reply_body(profile, &dev, http_port));
        devices.push(dev);
        let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        if let Some(l) = legacy_tcp.next() {
            tasks.push(tokio::spawn(serve_legacy_close(l, limit.clone())));
        }
        if let Some(u) = legacy_udp.next() {
            tasks.push(tokio::spawn(drain_udp(u)));
        }
        if let Some(h) = http.next() {
            let key = ids::hash(&[&seed.to_le_bytes(), &(i as u64).to_le_bytes(), b"klap"]);
            tasks.push(tokio::spawn(serve_http(h, limit.clone(), key)));
        }
        if let Some(u) = disco.next() {
            tasks.push(tokio::spawn(serve_discovery(u, reply)));
        }
    }
    Ok(RunningKlap { devices, legacy_port, http_port, udp_port, tasks })
}

/// Binds `port` on every address with `bind`; port 0 picks one on the first address and
/// claims it on the others (retried when taken).
fn bind_everywhere<T>(
    ips: &[IpAddr],
    port: u16,
    bind: impl Fn(SocketAddr) -> io::Result<T>,
) -> io::Result<(u16, Vec<T>)>
where
    T: LocalAddr,
{
    let Some(first) = ips.first() else { return Ok((port, Vec::new())) };
    let attempts = if port == 0 { PICK_ATTEMPTS } else { 1 };
    let mut last = None;
    for _ in 0..attempts {
        let head = bind(SocketAddr::new(*first, port)).map_err(|e| context(e, *first, port))?;
        let picked = head.port()?;
        let mut all = vec![head];
        let rest: io::Result<Vec<T>> = ips[1..].iter().map(|ip| bind(SocketAddr::new(*ip, picked))).collect();
        match rest {
            Ok(r) => {
                all.extend(r);
                return Ok((picked, all));
            }
            Err(e) if e.kind() == io::ErrorKind::AddrInUse && port == 0 => last = Some(e),
            Err(e) => return Err(context(e, *first, picked)),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::AddrInUse, "no port free on every address")))
}

/// Sockets that know their port.
trait LocalAddr {
    fn port(&self) -> io::Result<u16>;
}

impl LocalAddr for TcpListener {
    fn port(&self) -> io::Result<u16> {
        self.local_addr().map(|a| a.port())
    }
}

impl LocalAddr for UdpSocket {
    fn port(&self) -> io::Result<u16> {
        self.local_addr().map(|a| a.port())
    }
}

fn context(e: io::Error, ip: IpAddr, port: u16) -> io::Error {
    io::Error::new(e.kind(), format!("cannot bind {ip}:{port}: {e}"))
}

/// The discovery reply JSON: the dump's `discovery_result` (or one made from the model)
/// with this device's address, ids and HTTP port.
fn discovery_reply_body(profile: &Profile, dev: &KlapDevice, http_port: u16) -> Vec<u8> {
    let mut v = profile.klap_discovery().cloned().unwrap_or_else(|| {
        json!({"error_code": 0, "result": {
            "device_type": "IOT.SMARTPLUGSWITCH",
            "device_model": dev.model,
            "hw_ver": profile.hw_ver(),
            "factory_default": false,
            "mgt_encrypt_schm": {"encrypt_type": "KLAP", "http_port": 80, "is_support_https": false},
            "owner": "",
        }})
    });
    if let Some(r) = v.get_mut("result").and_then(Value::as_object_mut) {
        r.insert("ip".into(), json!(dev.ip.to_string()));
        r.insert("mac".into(), json!(dev.mac.replace(':', "-")));
        r.insert("device_id".into(), json!(dev.device_id.get(..32).unwrap_or(&dev.device_id)));
        if let Some(s) = r.get_mut("mgt_encrypt_schm").and_then(Value::as_object_mut) {
            s.insert("http_port".into(), json!(http_port));
        }
    }
    v.to_string().into_bytes()
}

/// Legacy port, close mode: read the request frame (bounded), then close without a byte.
async fn serve_legacy_close(listener: TcpListener, limit: Arc<Semaphore>) {
    loop {
        let Ok((mut s, _)) = listener.accept().await else { continue };
        let Ok(permit) = limit.clone().try_acquire_owned() else { continue };
        tokio::spawn(async move {
            let _permit = permit;
            // Wait for the request, close our side, then drain until the client closes (so
            // the close is a clean FIN, never a reset for unread bytes).
            let mut buf = vec![0u8; 4096];
            let _ = timeout(READ_TIMEOUT, s.read(&mut buf)).await;
            let _ = s.shutdown().await;
            let mut drained = 0usize;
            while drained < MAX_LEGACY_FRAME {
                match timeout(DRAIN_TIMEOUT, s.read(&mut buf)).await {
                    Ok(Ok(n)) if n > 0 => drained += n,
                    _ => break,
                }
            }
        });
    }
}

/// Any UDP datagram is read and ignored.
async fn drain_udp(sock: UdpSocket) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let _ = sock.recv_from(&mut buf).await;
    }
}

/// The discovery responder.
async fn serve_discovery(sock: UdpSocket, body: Arc<Vec<u8>>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let Ok((n, peer)) = sock.recv_from(&mut buf).await else { continue };
        let Some(q) = buf.get(..n) else { continue };
        let Some((header, _)) = tdp::decode(q).filter(|(h, _)| h.version == 2) else { continue };
        let _ = sock.send_to(&tdp::encode(header.serial, &body), peer).await;
    }
}

/// The HTTP responder.
async fn serve_http(listener: TcpListener, limit: Arc<Semaphore>, seed: u64) {
    let mut n = 0u64;
    loop {
        let Ok((s, _)) = listener.accept().await else { continue };
        let Ok(permit) = limit.clone().try_acquire_owned() else { continue };
        n = n.wrapping_add(1);
        let key = seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        tokio::spawn(async move {
            let _permit = permit;
            let _ = timeout(READ_TIMEOUT, http_exchange(s, key)).await;
        });
    }
}

async fn http_exchange(mut s: TcpStream, key: u64) -> io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    let (head_end, body_len) = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let len = head
                .lines()
                .filter_map(|l| l.split_once(':'))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            break (end, len);
        }
        if buf.len() >= MAX_HTTP_REQUEST {
            return respond(&mut s, "400 Bad Request", &[], &[]).await;
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    if body_len > MAX_HTTP_REQUEST {
        return respond(&mut s, "413 Payload Too Large", &[], &[]).await;
    }
    while buf.len() < head_end + 4 + body_len {
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let request_line = String::from_utf8_lossy(&buf[..head_end]).lines().next().unwrap_or("").to_string();
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if method == "POST" && path.split('?').next() == Some("/app/handshake1") {
        let mut state = key;
        let mut body = Vec::with_capacity(48);
        while body.len() < 48 {
            body.extend_from_slice(&ids::splitmix64(&mut state).to_be_bytes());
        }
        body.truncate(48);
        let cookie = format!("Set-Cookie: TP_SESSIONID={};TIMEOUT=86400\r\n", ids::hex_string(32, key));
        respond(&mut s, "200 OK", cookie.as_bytes(), &body).await
    } else {
        respond(&mut s, "404 Not Found", &[], &[]).await
    }
}

async fn respond(s: &mut TcpStream, status: &str, extra_headers: &[u8], body: &[u8]) -> io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(extra_headers);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    s.write_all(&out).await?;
    s.shutdown().await
}
