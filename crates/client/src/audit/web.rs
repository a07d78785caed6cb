//! A minimal HTTP Basic-auth probe of a Hi-Flying plug's web page (hf-protocol.md §1.5):
//! `GET /` without credentials, then with each factory login. One request per connection,
//! the reply head capped, every step bounded by the timeout.

use std::{net::SocketAddr, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    time::timeout,
};

/// The web port of real plugs.
pub const DEFAULT_PORT: u16 = 80;

/// The factory logins tried: Maginon's `ADMIN`/`ADMIN`, the stock Hi-Flying `admin`/`admin`.
pub const FACTORY_LOGINS: [(&str, &str); 2] = [("ADMIN", "ADMIN"), ("admin", "admin")];

/// Largest reply head read, in bytes.
const MAX_HEAD: usize = 8 * 1024;

/// What the web page did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebResult {
    /// Nothing answered HTTP (refused, silent, not HTTP).
    Unreachable(String),
    /// It answered a request without credentials with this status (not 401).
    NoLogin(u16),
    /// It accepted this factory login (status not 401).
    Accepted {
        /// User.
        user: &'static str,
        /// Password.
        password: &'static str,
    },
    /// It refused every factory login.
    Rejected,
}

/// Probes `addr` (see the module docs).
pub async fn probe(addr: SocketAddr, limit: Duration) -> WebResult {
    match get(addr, None, limit).await {
        Err(e) => return WebResult::Unreachable(e),
        Ok(401) => {}
        Ok(status) => return WebResult::NoLogin(status),
    }
    for (user, password) in FACTORY_LOGINS {
        match get(addr, Some((user, password)), limit).await {
            Ok(401) | Err(_) => continue,
            Ok(_) => return WebResult::Accepted { user, password },
        }
    }
    WebResult::Rejected
}

/// One `GET /`; the status code of the reply.
async fn get(addr: SocketAddr, login: Option<(&str, &str)>, limit: Duration) -> Result<u16, String> {
    let mut stream = match timeout(limit, TcpStream::connect(addr)).await {
        Err(_) => return Err(format!("no answer on TCP port {} within {limit:?}", addr.port())),
        Ok(Err(e)) => return Err(format!("TCP port {}: {e}", addr.port())),
        Ok(Ok(s)) => s,
    };
    let auth = login
        .map(|(u, p)| format!("Authorization: Basic {}\r\n", base64(format!("{u}:{p}").as_bytes())))
        .unwrap_or_default();
    let req = format!("GET / HTTP/1.1\r\nHost: {}\r\n{auth}Connection: close\r\n\r\n", addr.ip());
    let exchange = async {
        stream.write_all(req.as_bytes()).await.map_err(|e| e.to_string())?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        loop {
            if let Some(status) = status_line(&buf) {
                return Ok(status);
            }
            if buf.len() >= MAX_HEAD {
                return Err("the reply is not HTTP".to_string());
            }
            let n = stream.read(&mut chunk).await.map_err(|e| e.to_string())?;
            if n == 0 {
                return status_line(&buf).ok_or_else(|| "closed without an HTTP reply".to_string());
            }
            buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        }
    };
    match timeout(limit, exchange).await {
        Ok(r) => r,
        Err(_) => Err(format!("no HTTP reply on port {} within {limit:?}", addr.port())),
    }
}

/// The status of a complete first line `HTTP/1.x NNN …`.
fn status_line(buf: &[u8]) -> Option<u16> {
    let end = buf.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(buf.get(..end)?).ok()?;
    let mut parts = line.split_whitespace();
    parts.next().filter(|v| v.starts_with("HTTP/"))?;
    parts.next()?.parse().ok()
}

/// Standard base64 with padding.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64(b"ADMIN:ADMIN"), "QURNSU46QURNSU4=");
    }

    #[test]
    fn status_lines() {
        assert_eq!(status_line(b"HTTP/1.1 401 Unauthorized\r\n"), Some(401));
        assert_eq!(status_line(b"HTTP/1.0 404 Not Found\r\nX: y"), Some(404));
        assert_eq!(status_line(b"HTTP/1.1 200"), None);
        assert_eq!(status_line(b"+ERROR\r\n"), None);
    }

    #[tokio::test]
    async fn closed_port_is_unreachable() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        assert!(matches!(probe(addr, Duration::from_secs(2)).await, WebResult::Unreachable(_)));
    }
}
