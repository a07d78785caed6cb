//! Detecting plugs on newer firmware (KLAP/AES, kasa-protocol.md §6), which dropped the
//! legacy port-9999 service. plugctl does not speak KLAP (it needs TP-Link cloud
//! credentials); it recognises such a plug so the user gets one clear sentence instead of
//! "connection refused" or a timeout.
//!
//! A plug is taken for a KLAP plug when
//! 1. TCP 9999 refused the connection, or closed (or reset) it before any reply byte
//!    ([`is_candidate`]), **and**
//! 2. either `POST /app/handshake1` on its HTTP port ([`KlapProbe::http_port`], 80) answers
//!    `200` with a 48-byte body (16-byte seed + 32-byte hash), or a discovery probe on UDP
//!    [`KlapProbe::udp_port`] (20002) — a 16-byte TDP header and
//!    `{"params":{"rsa_key":…}}` — comes back with
//!    `result.mgt_encrypt_schm.encrypt_type` `KLAP` or `AES`.
//!
//! Both probes run at once, each bounded by [`KlapProbe::timeout`]; the first positive one
//! wins. Replies are size-capped; nothing else is sent.

use std::{
    io,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    time::Duration,
};

use serde::Serialize;
use serde_json::{json, Value};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpStream, UdpSocket},
    time::timeout,
};

use plugctl_proto::kasa::tdp;

use crate::error::{Error, Op};

/// The sentence users see (after the host).
pub const NEWER_FIRMWARE: &str =
    "this plug runs newer firmware that requires TP-Link cloud credentials; plugctl supports legacy firmware only";

/// Default HTTP port of KLAP firmware.
pub const DEFAULT_HTTP_PORT: u16 = 80;
/// Default UDP port of the newer discovery protocol.
pub const DEFAULT_UDP_PORT: u16 = 20002;

/// Largest HTTP reply (head and body) read, in bytes.
const MAX_HTTP_REPLY: usize = 8 * 1024;
/// Largest discovery datagram accepted, in bytes.
const MAX_DATAGRAM: usize = 16 * 1024;

/// Where and how long to look for KLAP signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KlapProbe {
    /// TCP port of the KLAP HTTP service. Default 80.
    pub http_port: u16,
    /// UDP port of the newer discovery protocol. Default 20002.
    pub udp_port: u16,
    /// Time allowed to each probe. Default 2 s.
    pub timeout: Duration,
}

impl Default for KlapProbe {
    fn default() -> Self {
        Self { http_port: DEFAULT_HTTP_PORT, udp_port: DEFAULT_UDP_PORT, timeout: Duration::from_secs(2) }
    }
}

/// What showed that a plug runs KLAP/AES firmware.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "sign", rename_all = "snake_case")]
pub enum KlapEvidence {
    /// `POST /app/handshake1` answered 200 with a 48-byte body.
    Handshake {
        /// The HTTP port.
        port: u16,
    },
    /// The UDP discovery reply named the encryption scheme.
    Discovery {
        /// The UDP port.
        port: u16,
        /// `KLAP` or `AES`.
        encrypt_type: String,
        /// `result.device_model`, if sent.
        model: Option<String>,
    },
}

/// Whether a failure on port 9999 is what a KLAP plug causes: refused, or closed/reset
/// before any reply byte.
pub fn is_candidate(e: &Error) -> bool {
    match e {
        Error::Refused { error, .. } => error.kind() == io::ErrorKind::ConnectionRefused,
        Error::Closed { .. } => true,
        Error::Io { op: Op::Send | Op::Reply, error, .. } => matches!(
            error.kind(),
            io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted | io::ErrorKind::UnexpectedEof
        ),
        _ => false,
    }
}

/// Turns a candidate failure into [`Error::NewerFirmware`] when the host shows KLAP signs;
/// returns every other error (and candidates without signs) unchanged.
pub async fn explain(err: Error, probe: &KlapProbe) -> Error {
    if !is_candidate(&err) {
        return err;
    }
    let addr = err.addr();
    match detect(addr.ip(), probe).await {
        Some(evidence) => Error::NewerFirmware { addr, evidence },
        None => err,
    }
}

/// Looks for KLAP signs at `ip` (both probes at once; `None` if neither shows one).
pub async fn detect(ip: IpAddr, probe: &KlapProbe) -> Option<KlapEvidence> {
    let http = timeout(probe.timeout, http_probe(SocketAddr::new(ip, probe.http_port)));
    let udp = timeout(probe.timeout, udp_probe(SocketAddr::new(ip, probe.udp_port)));
    tokio::pin!(http, udp);
    let (mut http_done, mut udp_done) = (false, false);
    while !(http_done && udp_done) {
        tokio::select! {
            r = &mut http, if !http_done => {
                http_done = true;
                if let Ok(Some(e)) = r { return Some(e); }
            }
            r = &mut udp, if !udp_done => {
                udp_done = true;
                if let Ok(Some(e)) = r { return Some(e); }
            }
        }
    }
    None
}

/// `POST /app/handshake1` with a 16-byte seed; a 200 reply with a 48-byte body is KLAP.
async fn http_probe(addr: SocketAddr) -> Option<KlapEvidence> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    let seed = pseudo_random_bytes::<16>(addr);
    let mut req = format!(
        "POST /app/handshake1 HTTP/1.1\r\nHost: {}\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        addr.ip(),
        seed.len()
    )
    .into_bytes();
    req.extend_from_slice(&seed);
    stream.write_all(&req).await.ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(reply) = parse_http_reply(&buf) {
            return (reply.status == 200 && reply.body_len == 48)
                .then_some(KlapEvidence::Handshake { port: addr.port() });
        }
        if buf.len() >= MAX_HTTP_REPLY {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            // EOF: a reply without Content-Length ends here.
            let head_end = find(&buf, b"\r\n\r\n")?;
            let status = status_of(buf.get(..head_end)?)?;
            let body = buf.len() - head_end - 4;
            return (status == 200 && body == 48).then_some(KlapEvidence::Handshake { port: addr.port() });
        }
        buf.extend_from_slice(chunk.get(..n)?);
    }
}

/// A complete HTTP reply head with a complete `Content-Length` body.
struct HttpReply {
    status: u16,
    body_len: usize,
}

fn parse_http_reply(buf: &[u8]) -> Option<HttpReply> {
    let head_end = find(buf, b"\r\n\r\n")?;
    let head = std::str::from_utf8(buf.get(..head_end)?).ok()?;
    let status = status_of(head.as_bytes())?;
    let len: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())?;
    let have = buf.len() - head_end - 4;
    (have >= len).then_some(HttpReply { status, body_len: len })
}

fn status_of(head: &[u8]) -> Option<u16> {
    let line = std::str::from_utf8(head).ok()?.lines().next()?;
    let mut parts = line.split_whitespace();
    parts.next().filter(|v| v.starts_with("HTTP/"))?;
    parts.next()?.parse().ok()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A fixed RSA public key for the discovery probe. Devices encrypt their reply's session
/// key with it; plugctl never decrypts anything, it only reads the plain part.
const PROBE_RSA_KEY: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA/b6y1J9nun4zEeMKKlNH
XQ4Vo21ynxy6gsrJfL1877kUMZbNyw4s904zFT60rPqC4BkLHOYBhLyjwMgSVY+Y
QcjmCf1LXWHzqMiYPqgjvE/D5rek+Zmqc5CTv68v3C+fCVDb5EZ7OipCQvautLxE
ihnwAU0hqIXfQquiBz1VMEFn6mAK6z9P9QIpJYncWDxGihIhq8B2ZsfkmiDL9/4T
G/CT4b0ctHNKOwr5eYRIc5q8OIEfGlsBqXeCJHddTGzRod3jXuF8awtkTzaD2Uth
ya1Ln68YwN941Kxu789VBpliPVaFwnNUdKQ3dX0LfEtuD3u8XTRjaOZqDvotfxJ+
FwIDAQAB
-----END PUBLIC KEY-----
";

/// The discovery probe: TDP header (version 2, type 0, opcode 1 "probe", payload length,
/// flags 0x11, a serial, CRC-32 over the whole datagram computed with the field set to
/// 0x5A6B7C8D) followed by `{"params":{"rsa_key":…}}`.
pub fn discovery_query(serial: u32) -> Vec<u8> {
    let payload = json!({"params": {"rsa_key": PROBE_RSA_KEY}}).to_string().into_bytes();
    tdp::encode(serial, &payload)
}

/// Reads a discovery reply: the encryption type and model, if it names KLAP or AES.
pub fn parse_discovery_reply(datagram: &[u8]) -> Option<(String, Option<String>)> {
    let (_, payload) = tdp::decode(datagram)?;
    let body: Value = serde_json::from_slice(payload).ok()?;
    let result = body.get("result")?;
    let scheme = result.get("mgt_encrypt_schm")?.get("encrypt_type")?.as_str()?;
    let model = result.get("device_model").and_then(Value::as_str).map(str::to_string);
    matches!(scheme.to_ascii_uppercase().as_str(), "KLAP" | "AES").then(|| (scheme.to_string(), model))
}

async fn udp_probe(addr: SocketAddr) -> Option<KlapEvidence> {
    let local: SocketAddr = match addr {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let sock = UdpSocket::bind(local).await.ok()?;
    // Connected: replies from anyone else are dropped and ICMP errors surface at once.
    sock.connect(addr).await.ok()?;
    let serial = u32::from_be_bytes(pseudo_random_bytes::<4>(addr));
    sock.send(&discovery_query(serial)).await.ok()?;
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let n = sock.recv(&mut buf).await.ok()?;
        if let Some((encrypt_type, model)) = buf.get(..n).and_then(parse_discovery_reply) {
            return Some(KlapEvidence::Discovery { port: addr.port(), encrypt_type, model });
        }
    }
}

/// Bytes that differ between calls (not secret: a handshake seed and a datagram serial).
fn pseudo_random_bytes<const N: usize>(addr: SocketAddr) -> [u8; N] {
    use std::hash::BuildHasher;
    let mut out = [0u8; N];
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let state = std::collections::hash_map::RandomState::new();
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        let v = state.hash_one((nanos, i, addr, std::process::id())).to_be_bytes();
        for (dst, src) in chunk.iter_mut().zip(v) {
            *dst = src;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_layout() {
        let q = discovery_query(0x0102_0304);
        assert_eq!(&q[..4], &[2, 0, 0, 1]);
        let len = u16::from_be_bytes([q[4], q[5]]) as usize;
        assert_eq!(len, q.len() - tdp::HEADER_LEN);
        assert_eq!(&q[6..12], &[0x11, 0, 1, 2, 3, 4]);
        let mut check = q.clone();
        check[12..16].copy_from_slice(&0x5A6B_7C8Du32.to_be_bytes());
        assert_eq!(u32::from_be_bytes([q[12], q[13], q[14], q[15]]), tdp::crc32(&check));
        let body: Value = serde_json::from_slice(&q[16..]).unwrap();
        assert!(body["params"]["rsa_key"].as_str().unwrap().contains("BEGIN PUBLIC KEY"));
    }

    #[test]
    fn discovery_replies() {
        let mut d = vec![0u8; 16];
        d.extend_from_slice(
            br#"{"error_code":0,"result":{"device_model":"HS100(UK)","mgt_encrypt_schm":{"encrypt_type":"KLAP"}}}"#,
        );
        assert_eq!(parse_discovery_reply(&d), Some(("KLAP".into(), Some("HS100(UK)".into()))));
        let mut x = vec![0u8; 16];
        x.extend_from_slice(br#"{"result":{"mgt_encrypt_schm":{"encrypt_type":"XOR"}}}"#);
        assert_eq!(parse_discovery_reply(&x), None);
        assert_eq!(parse_discovery_reply(b"short"), None);
    }

    #[test]
    fn http_replies() {
        let r = parse_http_reply(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc").unwrap();
        assert_eq!((r.status, r.body_len), (200, 3));
        assert!(parse_http_reply(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab").is_none());
        assert_eq!(status_of(b"HTTP/1.0 404 Not Found"), Some(404));
        assert_eq!(status_of(b"garbage"), None);
    }

    #[test]
    fn candidates() {
        let addr: SocketAddr = "127.0.0.2:9999".parse().unwrap();
        assert!(is_candidate(&Error::Refused { addr, error: io::ErrorKind::ConnectionRefused.into() }));
        assert!(is_candidate(&Error::Closed { addr }));
        assert!(!is_candidate(&Error::Timeout { addr, op: Op::Reply, after: Duration::from_secs(1) }));
        assert!(!is_candidate(&Error::Refused { addr, error: io::ErrorKind::HostUnreachable.into() }));
    }
}
