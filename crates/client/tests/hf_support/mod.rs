//! Small purpose-built Hi-Flying plugs on loopback for the HF client tests.
//!
//! - [`FakeTcp`]: a control server (TCP) that logs every segment it reads and answers with
//!   whatever a test closure returns (one or more writes, or nothing);
//! - [`FakeUdp`]: a UDP plug bound to `127.0.0.N:P` that logs every datagram and answers per
//!   a test closure, to chosen destinations;
//! - helpers for free ports and hang guards.
//!
//! Everything stays on 127.0.0.0/8 and uses free ports.

#![allow(dead_code)]

use std::{
    future::Future,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use plugctl_client::hf::{HfConfig, Timestamp};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, UdpSocket},
    task::JoinHandle,
};

/// Generous bound on every test, only so that a bug hangs no CI job.
pub const HANG_GUARD: Duration = Duration::from_secs(20);

/// Runs `f` under [`HANG_GUARD`].
pub async fn guard<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(HANG_GUARD, f).await.expect("test hung")
}

/// `127.0.0.n`.
pub fn lo(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, n)
}

/// A UDP port currently free on every loopback address (and the wildcard).
pub fn free_udp_port() -> u16 {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
    s.local_addr().unwrap().port()
}

/// A TCP port on which nothing listens (bound, then released).
pub fn closed_tcp_port(ip: Ipv4Addr) -> u16 {
    let l = std::net::TcpListener::bind((ip, 0)).unwrap();
    l.local_addr().unwrap().port()
}

/// The timestamp of the capture in hf-protocol.md §2.6.
pub fn capture_time() -> Timestamp {
    Timestamp::parse("201704031153").unwrap()
}

/// A config for tests: loopback ports, short timeouts and back-off, fixed timestamp.
pub fn quick(timeout_ms: u64, retries: u32) -> HfConfig {
    HfConfig {
        timeout: Duration::from_millis(timeout_ms),
        retries,
        backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        timestamp: Some(capture_time()),
        listen_reply_port: false,
        ..HfConfig::default()
    }
}

/// What a fake control server writes back for one received segment: each element is one
/// write (with a short pause between); empty = stay silent.
pub type Answer = Vec<Vec<u8>>;

/// A fake TCP control server.
pub struct FakeTcp {
    pub ip: Ipv4Addr,
    pub port: u16,
    /// Every segment read, as text, in order, across connections.
    pub log: Arc<Mutex<Vec<String>>>,
    connections: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Drop for FakeTcp {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeTcp {
    /// Starts a server on `ip:0`. `answer(segment)` decides the reply; with
    /// `close_after_reply` the server closes each connection after its first reply.
    pub async fn start<F>(ip: Ipv4Addr, close_after_reply: bool, answer: F) -> Self
    where
        F: Fn(&str) -> Answer + Send + Sync + 'static,
    {
        let listener = TcpListener::bind((ip, 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let answer = Arc::new(answer);
        let (log2, count) = (log.clone(), connections.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else { return };
                stream.set_nodelay(true).unwrap();
                count.fetch_add(1, Ordering::SeqCst);
                let (log, answer) = (log2.clone(), answer.clone());
                tokio::spawn(async move {
                    let mut buf = [0u8; 2048];
                    loop {
                        let n = match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => n,
                        };
                        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                        log.lock().unwrap().push(text.clone());
                        let writes = answer(&text);
                        for (i, w) in writes.iter().enumerate() {
                            if i > 0 {
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                            if stream.write_all(w).await.is_err() {
                                return;
                            }
                        }
                        if close_after_reply && !writes.is_empty() {
                            return;
                        }
                    }
                });
            }
        });
        Self { ip, port, log, connections, task }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// The segments received so far.
    pub fn received(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// A config pointing at this server.
    pub fn config(&self, timeout_ms: u64, retries: u32) -> HfConfig {
        HfConfig { control_port: self.port, ..quick(timeout_ms, retries) }
    }
}

/// One answer.
pub fn once(bytes: &str) -> Answer {
    vec![bytes.as_bytes().to_vec()]
}

/// A plug's control logic: switch (with a shared relay), measure, delay; `+ERROR` otherwise.
pub fn plug_logic(relay: Arc<AtomicBool>) -> impl Fn(&str) -> Answer + Send + Sync + 'static {
    move |seg: &str| {
        let line = seg.trim_end();
        if let Some(rest) = line.strip_prefix("AT+YZSWITCH=1,") {
            match rest.split(',').next() {
                Some("ON") => relay.store(true, Ordering::SeqCst),
                Some("OFF") => relay.store(false, Ordering::SeqCst),
                _ => return once("+ERROR\r\n"),
            }
            once("+ok\r\n")
        } else if line == "AT+YZOUT" {
            if relay.load(Ordering::SeqCst) {
                once("+ok=8,23678,4999,74,0,22015,0\r\n")
            } else {
                once("+ok=0,23678,4999,0,0,22015,0\r\n")
            }
        } else if line.starts_with("AT+YZDELAY=1,") {
            once("+ok\r\n")
        } else {
            once("+ERROR\r\n")
        }
    }
}

/// Where a fake UDP plug sends a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    /// The request's source address.
    Source,
    /// The request's source IP, this fixed port.
    Fixed(u16),
}

/// What a fake UDP plug answers to one datagram: `(destination, bytes)` pairs.
pub type UdpAnswer = Vec<(Dest, Vec<u8>)>;

/// What a fake UDP plug received: source and bytes of each datagram.
pub type UdpLog = Arc<Mutex<Vec<(SocketAddr, Vec<u8>)>>>;

/// A fake UDP plug on `ip:port`, optionally also listening for broadcasts on
/// `127.255.255.255:port`.
pub struct FakeUdp {
    pub ip: Ipv4Addr,
    pub port: u16,
    /// Every datagram received: source and bytes.
    pub log: UdpLog,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for FakeUdp {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn reuse_socket(addr: SocketAddr) -> UdpSocket {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP)).unwrap();
    s.set_reuse_address(true).unwrap();
    s.set_broadcast(true).unwrap();
    s.set_nonblocking(true).unwrap();
    s.bind(&addr.into()).unwrap();
    UdpSocket::from_std(s.into()).unwrap()
}

impl FakeUdp {
    /// Starts a plug on `ip:port` answering each datagram with `answer(bytes)`; replies are
    /// sent from `ip:port`. With `broadcast`, datagrams to `127.255.255.255:port` are
    /// served too.
    pub async fn start<F>(ip: Ipv4Addr, port: u16, broadcast: bool, answer: F) -> Self
    where
        F: Fn(&[u8]) -> UdpAnswer + Send + Sync + 'static,
    {
        let unicast = Arc::new(reuse_socket(SocketAddr::from((ip, port))));
        let log = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(answer);
        let mut sockets = vec![unicast.clone()];
        if broadcast {
            sockets.push(Arc::new(reuse_socket(SocketAddr::from((Ipv4Addr::new(127, 255, 255, 255), port)))));
        }
        let tasks = sockets
            .into_iter()
            .map(|rx| {
                let (tx, log, answer) = (unicast.clone(), log.clone(), answer.clone());
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    loop {
                        let Ok((n, from)) = rx.recv_from(&mut buf).await else { return };
                        if from == SocketAddr::from((ip, port)) {
                            continue;
                        }
                        log.lock().unwrap().push((from, buf[..n].to_vec()));
                        for (dest, bytes) in answer(&buf[..n]) {
                            let to = match dest {
                                Dest::Source => from,
                                Dest::Fixed(p) => SocketAddr::new(from.ip(), p),
                            };
                            let _ = tx.send_to(&bytes, to).await;
                        }
                    }
                })
            })
            .collect();
        Self { ip, port, log, tasks }
    }

    /// The datagrams received so far, as text.
    pub fn received(&self) -> Vec<String> {
        self.log.lock().unwrap().iter().map(|(_, b)| String::from_utf8_lossy(b).into_owned()).collect()
    }

    /// Waits until at least `n` datagrams were received (under the hang guard).
    pub async fn wait_for(&self, n: usize) -> Vec<String> {
        guard(async {
            loop {
                let got = self.received();
                if got.len() >= n {
                    return got;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
    }

    /// The plug's IP as an `IpAddr`.
    pub fn ip_addr(&self) -> IpAddr {
        IpAddr::V4(self.ip)
    }
}

/// The `YZ-RECOSCAN` reply of plug `n` (IP 127.0.0.n, MAC ACCF2300000n).
pub fn recoscan_reply(n: u8, relay_on: bool) -> Vec<u8> {
    format!("127.0.0.{n},ACCF230000{n:02X},04000229{n},1,{},0", u8::from(relay_on)).into_bytes()
}
