//! The HF plug's web server over real loopback sockets (hf-protocol.md §1.5): Basic auth
//! `ADMIN`/`ADMIN` → `ERROR:404 Not Found`, anything else → 401 with `WWW-Authenticate`.

mod hf_common;

use std::{net::Ipv4Addr, time::Duration};

use hf_common::{server_cfg, sta_config, start, start_with, udp_addr, Udp, GUARD};
use plugctl_emulator::hf::ServerConfig;
use plugctl_proto::hf::assist::AtReply;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

fn ip(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 50, n)
}

/// Sends `request` and reads the whole response (the server closes after it).
async fn http(addr: (Ipv4Addr, u16), request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let _ = s.write_all(request).await;
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        // a reset after an early answer (oversized request) ends the response too
        match tokio::time::timeout(GUARD, s.read(&mut chunk)).await.expect("HTTP hang") {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn get(auth: Option<&str>) -> Vec<u8> {
    let mut r = "GET /index.html HTTP/1.1\r\nHost: plug\r\n".to_string();
    if let Some(a) = auth {
        r.push_str(&format!("Authorization: Basic {a}\r\n"));
    }
    r.push_str("\r\n");
    r.into_bytes()
}

#[tokio::test]
async fn basic_auth_admin_admin() {
    let plug = start(sta_config(ip(2))).await;
    let port = plug.ports().http.unwrap();
    let none = http((ip(2), port), &get(None)).await;
    assert!(none.starts_with("HTTP/1.1 401 "), "{none}");
    assert!(none.contains("\r\nWWW-Authenticate: Basic realm=\""), "{none}");
    // admin:admin (the generic HF default) is not the Maginon's ADMIN:ADMIN
    let wrong = http((ip(2), port), &get(Some("YWRtaW46YWRtaW4="))).await;
    assert!(wrong.starts_with("HTTP/1.1 401 "), "{wrong}");
    let garbage = http((ip(2), port), &get(Some("%%%"))).await;
    assert!(garbage.starts_with("HTTP/1.1 401 "), "{garbage}");
    // ADMIN:ADMIN
    let ok = http((ip(2), port), &get(Some("QURNSU46QURNSU4="))).await;
    assert!(ok.starts_with("HTTP/1.1 404 Not Found\r\n"), "{ok}");
    assert!(ok.ends_with("\r\n\r\nERROR:404 Not Found"), "{ok}");
    // any path, any method
    let post =
        http((ip(2), port), b"POST /config HTTP/1.0\r\nAuthorization: Basic QURNSU46QURNSU4=\r\n\r\n").await;
    assert!(post.ends_with("ERROR:404 Not Found"), "{post}");
}

#[tokio::test]
async fn web_credentials_follow_at_webu() {
    let plug = start(sta_config(ip(3))).await;
    let port = plug.ports().http.unwrap();
    let u = Udp::ephemeral().await;
    let r = u.ask(udp_addr(&plug, ip(3)), "AT+WEBU=root,pw\r").await;
    assert_eq!(AtReply::parse(r.as_bytes()).unwrap(), AtReply::Ok(None));
    // root:pw
    assert!(http((ip(3), port), &get(Some("cm9vdDpwdw=="))).await.starts_with("HTTP/1.1 404 "));
    assert!(http((ip(3), port), &get(Some("QURNSU46QURNSU4="))).await.starts_with("HTTP/1.1 401 "));
}

#[tokio::test]
async fn oversized_and_slow_requests_are_cut_off() {
    let server =
        ServerConfig { http_timeout: Duration::from_millis(200), http_max_request: 1024, ..server_cfg() };
    let plug = start_with(sta_config(ip(4)), server).await;
    let port = plug.ports().http.unwrap();
    let mut big = b"GET / HTTP/1.1\r\n".to_vec();
    big.extend(format!("X-Junk: {}\r\n", "j".repeat(4000)).as_bytes());
    let r = http((ip(4), port), &big).await;
    assert!(r.is_empty() || r.starts_with("HTTP/1.1 431 "), "{r}");
    // a client that never finishes its head is disconnected (guard only against hangs)
    let mut s = TcpStream::connect((ip(4), port)).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(GUARD, s.read_to_end(&mut out)).await.expect("slow client never cut off").unwrap();
    assert!(out.is_empty());
}
