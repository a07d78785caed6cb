//! Helpers of the hostile-input tests: a tally of the inputs tried, raw HTTP/1.1 over a plain
//! TCP socket (for requests no well-behaved client sends), and problem+json checks.
#![allow(dead_code)]

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use serde_json::Value;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// A hang guard for one raw exchange (never an assertion on speed).
pub const RAW_GUARD: Duration = Duration::from_secs(60);

/// Hostile inputs tried by this test binary, all tests together.
pub static TRIED: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Hostile inputs tried by the test running on this thread (a `#[tokio::test]` body runs
    /// on its test's thread).
    static MINE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Counts one hostile input.
pub fn tried() {
    TRIED.fetch_add(1, Ordering::Relaxed);
    MINE.with(|c| c.set(c.get() + 1));
}

/// Prints how many hostile inputs the current test tried (for the closing note).
pub fn report(test: &str) {
    let n = MINE.with(std::cell::Cell::get);
    eprintln!("api_hostile::{test}: {n} hostile inputs tried");
}

/// An answer read off a raw socket.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    /// Lower-case names.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The body as JSON (panics if it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// Asserts a problem answer with `status` and returns it.
    pub fn problem(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{self:?}");
        assert_eq!(
            self.headers.get("content-type").map(String::as_str),
            Some("application/problem+json"),
            "{self:?}"
        );
        let v = self.json();
        assert_eq!(v["status"], status, "{v}");
        assert!(v["detail"].as_str().is_some_and(|d| !d.is_empty()), "{v}");
        v
    }
}

/// Parses a complete HTTP/1.1 response (`Content-Length` or read-to-close bodies).
pub fn parse_response(buf: &[u8]) -> Option<RawResponse> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let body = &buf[end + 4..];
    let body = match headers.get("content-length").and_then(|v| v.parse::<usize>().ok()) {
        Some(n) if body.len() >= n => body[..n].to_vec(),
        Some(_) => return None,
        None => body.to_vec(),
    };
    Some(RawResponse { status, headers, body })
}

/// Sends `request` as it is and reads the answer until the server closes the connection or a
/// complete response arrived.
pub async fn raw(addr: SocketAddr, request: &[u8]) -> RawResponse {
    let run = async {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(request).await.expect("send");
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
            if let Some(r) = parse_response(&buf) {
                if r.headers.contains_key("content-length") {
                    return r;
                }
            }
        }
        parse_response(&buf)
            .unwrap_or_else(|| panic!("no HTTP response, got {:?}", String::from_utf8_lossy(&buf)))
    };
    tokio::time::timeout(RAW_GUARD, run).await.expect("raw exchange hung")
}

/// `GET path` on a raw socket, the path sent byte for byte (no normalisation).
pub async fn raw_get(addr: SocketAddr, path: &str, extra_headers: &str) -> RawResponse {
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra_headers}Connection: close\r\n\r\n");
    raw(addr, req.as_bytes()).await
}

/// Asserts a reqwest answer is a problem with `status`; returns its body.
pub async fn problem(resp: reqwest::Response, status: u16) -> Value {
    let url = resp.url().to_string();
    let got = resp.status().as_u16();
    let ctype = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let text = resp.text().await.unwrap_or_default();
    assert_eq!(got, status, "status of {url}: {text}");
    assert_eq!(ctype, "application/problem+json", "content type of a {status} from {url}: {text}");
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url}: problem is not JSON ({e})"));
    assert_eq!(v["status"], status, "{v}");
    assert!(v["type"].is_string() && v["title"].is_string(), "{v}");
    assert!(v["detail"].as_str().is_some_and(|d| !d.is_empty()), "{v}");
    v
}
