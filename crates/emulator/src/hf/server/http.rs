//! The plug's web server (hf-protocol.md §1.5): HTTP Basic auth with the web credentials
//! (`ADMIN`/`ADMIN`); authorised requests get status 404 with the body
//! `ERROR:404 Not Found` \[G\], anything else `401` with `WWW-Authenticate: Basic
//! realm="HF-LPB100"` \[G\]. One request per connection (`Connection: close`); the request
//! head is capped and must arrive within [`ServerConfig::http_timeout`].

use std::{net::SocketAddr, sync::Arc, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore},
    task::JoinSet,
};
use tracing::{debug, warn};

use super::{lock, Ctx, ServerConfig, SharedPlug};

/// The body every authorised request gets.
pub const NOT_FOUND_BODY: &str = "ERROR:404 Not Found";

/// The Basic auth realm \[G\].
pub const REALM: &str = "HF-LPB100";

/// Serves HTTP for `plug` on `listener` until the task is dropped.
pub async fn serve_http(listener: TcpListener, plug: SharedPlug, cfg: ServerConfig) {
    run(listener, Ctx::standalone(plug, cfg)).await;
}

pub(crate) async fn run(listener: TcpListener, ctx: Ctx) {
    let limit = Arc::new(Semaphore::new(ctx.cfg.max_connections.max(1)));
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Ok(permit) = limit.clone().try_acquire_owned() else { continue };
                    conns.spawn(connection(stream, peer, ctx.clone(), permit));
                }
                Err(e) => {
                    warn!(error = %e, "HTTP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// Why no answer could be built from what the client sent.
#[derive(Debug, PartialEq, Eq)]
enum HeadError {
    TooLarge,
    Closed,
    Timeout,
}

async fn connection(mut stream: TcpStream, peer: SocketAddr, ctx: Ctx, _permit: OwnedSemaphorePermit) {
    let response = match read_head(&mut stream, ctx.cfg.http_max_request, ctx.cfg.http_timeout).await {
        Ok(head) => {
            let d = lock(&ctx.device);
            answer(&head, |u, p| d.web_credentials_match(u, p))
        }
        Err(HeadError::TooLarge) => response(431, "Request Header Fields Too Large", &[], "", true),
        Err(e) => {
            debug!(%peer, error = ?e, "HTTP request not received");
            return;
        }
    };
    let _ = tokio::time::timeout(ctx.cfg.write_timeout, stream.write_all(&response)).await;
    let _ = stream.shutdown().await;
}

/// Reads until the blank line that ends the request head.
async fn read_head(stream: &mut TcpStream, cap: usize, timeout: Duration) -> Result<Vec<u8>, HeadError> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let n = match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return Err(HeadError::Timeout),
            Ok(Err(_) | Ok(0)) => return Err(HeadError::Closed),
            Ok(Ok(n)) => n,
        };
        head.extend_from_slice(buf.get(..n).unwrap_or_default());
        if let Some(end) = head_end(&head) {
            head.truncate(end);
            return Ok(head);
        }
        if head.len() > cap {
            return Err(HeadError::TooLarge);
        }
    }
}

fn head_end(b: &[u8]) -> Option<usize> {
    let crlf = b.windows(4).position(|w| w == b"\r\n\r\n");
    let lf = b.windows(2).position(|w| w == b"\n\n");
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The response to a request head; `check` verifies Basic credentials.
fn answer(head: &[u8], check: impl Fn(&str, &str) -> bool) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.lines();
    let request_line = lines.next().unwrap_or_default();
    let parts: Vec<&str> = request_line.split_whitespace().collect();
    let [method, _target, version] = parts.as_slice() else {
        return response(400, "Bad Request", &[], "", true);
    };
    if !version.starts_with("HTTP/") {
        return response(400, "Bad Request", &[], "", true);
    }
    let body = *method != "HEAD";
    let authorised = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("authorization"))
        .and_then(|(_, v)| basic_credentials(v.trim()))
        .is_some_and(|(u, p)| check(&u, &p));
    if authorised {
        response(404, "Not Found", &[], NOT_FOUND_BODY, body)
    } else {
        let challenge = format!("Basic realm=\"{REALM}\"");
        response(401, "Unauthorized", &[("WWW-Authenticate", &challenge)], "401 Unauthorized", body)
    }
}

fn response(code: u16, reason: &str, headers: &[(&str, &str)], body: &str, with_body: bool) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {code} {reason}\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!(
        "Content-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    if with_body {
        out.push_str(body);
    }
    out.into_bytes()
}

/// `Basic <base64(user:password)>` → (user, password).
fn basic_credentials(value: &str) -> Option<(String, String)> {
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64_decode(token.trim())?;
    let text = String::from_utf8(decoded).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// Standard base64 (padding optional); `None` for anything else.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(b: Vec<u8>) -> String {
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn base64_and_basic() {
        assert_eq!(base64_decode("QURNSU46QURNSU4=").unwrap(), b"ADMIN:ADMIN");
        assert_eq!(base64_decode("QURNSU46QURNSU4").unwrap(), b"ADMIN:ADMIN");
        assert_eq!(base64_decode("YQ==").unwrap(), b"a");
        assert_eq!(base64_decode("!!"), None);
        assert_eq!(basic_credentials("basic QURNSU46QURNSU4="), Some(("ADMIN".into(), "ADMIN".into())));
        assert_eq!(basic_credentials("Bearer x"), None);
        assert_eq!(basic_credentials("Basic YQ=="), None, "no colon");
    }

    #[test]
    fn answers() {
        let ok = |u: &str, p: &str| u == "ADMIN" && p == "ADMIN";
        let good = answer(b"GET / HTTP/1.1\r\nHost: x\r\nAuthorization: Basic QURNSU46QURNSU4=", ok);
        let good = text(good);
        assert!(good.starts_with("HTTP/1.1 404 Not Found\r\n"), "{good}");
        assert!(good.ends_with("\r\n\r\nERROR:404 Not Found"), "{good}");
        let none = text(answer(b"GET /index.html HTTP/1.0", ok));
        assert!(none.starts_with("HTTP/1.1 401 "), "{none}");
        assert!(none.contains("WWW-Authenticate: Basic realm=\"HF-LPB100\"\r\n"), "{none}");
        let wrong = text(answer(b"GET / HTTP/1.1\r\nauthorization: Basic YWRtaW46YWRtaW4=", ok));
        assert!(wrong.starts_with("HTTP/1.1 401 "), "lower-case admin:admin is rejected: {wrong}");
        let head = text(answer(b"HEAD / HTTP/1.1\r\nAuthorization: Basic QURNSU46QURNSU4=", ok));
        assert!(head.ends_with("\r\n\r\n"), "{head}");
        assert!(text(answer(b"\xff\xfe garbage", ok)).starts_with("HTTP/1.1 400 "));
        assert_eq!(head_end(b"GET / HTTP/1.1\n\nrest"), Some(14));
    }
}
