//! Helpers shared by the HF emulator tests: plugs on loopback with free ports, and minimal
//! TCP/UDP clients. Every wait has a generous timeout that only guards against hangs.
#![allow(dead_code)]

use std::{
    net::{Ipv4Addr, SocketAddr},
    time::Duration,
};

use plugctl_emulator::hf::{bind_plug, PlugConfig, PlugState, Ports, RunningPlug, ServerConfig};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpStream, UdpSocket},
};

/// Hang guard for every wait.
pub const GUARD: Duration = Duration::from_secs(10);

/// Server settings for tests: a short reboot.
pub fn server_cfg() -> ServerConfig {
    ServerConfig { reboot_time: Duration::from_millis(50), ..ServerConfig::default() }
}

/// A plug on free ports (HTTP included) at the addresses of `cfg`.
pub async fn start(cfg: PlugConfig) -> RunningPlug {
    start_with(cfg, server_cfg()).await
}

/// Same, with explicit server settings.
pub async fn start_with(cfg: PlugConfig, server: ServerConfig) -> RunningPlug {
    let state = PlugState::new(cfg).expect("valid plug config");
    bind_plug(state, Ports::ephemeral(), server).await.expect("plug binds")
}

/// A plug in STA mode on `ip` (its AP fallback on `ip + 100`).
pub fn sta_config(ip: Ipv4Addr) -> PlugConfig {
    let [a, b, c, d] = ip.octets();
    PlugConfig { home_ip: ip, ap_ip: Ipv4Addr::new(a, b, c, d.wrapping_add(100)), ..PlugConfig::default() }
}

/// The control address of `plug` on `ip`.
pub fn control_addr(plug: &RunningPlug, ip: Ipv4Addr) -> SocketAddr {
    SocketAddr::from((ip, plug.ports().control))
}

/// The UDP address of `plug` on `ip`.
pub fn udp_addr(plug: &RunningPlug, ip: Ipv4Addr) -> SocketAddr {
    SocketAddr::from((ip, plug.ports().udp))
}

/// A TCP control client that reads replies line by line.
pub struct Control {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Control {
    pub async fn connect(addr: SocketAddr) -> Self {
        let stream = tokio::time::timeout(GUARD, TcpStream::connect(addr))
            .await
            .expect("connect hang")
            .expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        Self { stream, buf: Vec::new() }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write");
    }

    /// Reads more bytes; panics on EOF or after the guard.
    pub async fn fill(&mut self) {
        let mut chunk = [0u8; 2048];
        let n = tokio::time::timeout(GUARD, self.stream.read(&mut chunk))
            .await
            .expect("no reply (hang)")
            .expect("read");
        assert!(n > 0, "connection closed by the plug; had {:?}", String::from_utf8_lossy(&self.buf));
        self.buf.extend_from_slice(&chunk[..n]);
    }

    /// The next reply line, with its `\r\n`.
    pub async fn line(&mut self) -> String {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..i + 2).collect();
                return String::from_utf8_lossy(&line).into_owned();
            }
            self.fill().await;
        }
    }

    /// Sends `cmd` in one write and returns the reply line.
    pub async fn cmd(&mut self, cmd: &str) -> String {
        self.send(cmd.as_bytes()).await;
        self.line().await
    }

    /// Whatever one read returns (for replies without line ending).
    pub async fn read_once(&mut self) -> String {
        if self.buf.is_empty() {
            self.fill().await;
        }
        String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned()
    }

    /// Whether anything arrives within `wait` (used only to check for silence).
    pub async fn silent_for(&mut self, wait: Duration) -> bool {
        let mut chunk = [0u8; 64];
        tokio::time::timeout(wait, self.stream.read(&mut chunk)).await.is_err() && self.buf.is_empty()
    }
}

/// The 7 YZOUT values of a `+ok=…` line.
pub fn yzout(line: &str) -> [u32; 7] {
    let v = line.trim_end().strip_prefix("+ok=").unwrap_or_else(|| panic!("not a YZOUT reply: {line:?}"));
    let nums: Vec<u32> = v.split(',').map(|f| f.parse().expect("number")).collect();
    nums.try_into().unwrap_or_else(|n| panic!("7 fields expected: {n:?}"))
}

/// A UDP client socket.
pub struct Udp {
    pub sock: UdpSocket,
}

impl Udp {
    pub async fn bind(ip: Ipv4Addr, port: u16) -> Self {
        let sock = UdpSocket::bind((ip, port)).await.expect("bind client UDP");
        Self { sock }
    }

    /// On 127.0.0.1, ephemeral port.
    pub async fn ephemeral() -> Self {
        Self::bind(Ipv4Addr::LOCALHOST, 0).await
    }

    pub fn port(&self) -> u16 {
        self.sock.local_addr().expect("local addr").port()
    }

    pub async fn send(&self, to: SocketAddr, payload: &[u8]) {
        self.sock.send_to(payload, to).await.expect("send");
    }

    /// The next datagram (panics after the guard).
    pub async fn recv(&self) -> (String, SocketAddr) {
        self.try_recv(GUARD).await.expect("no datagram (hang)")
    }

    pub async fn try_recv(&self, wait: Duration) -> Option<(String, SocketAddr)> {
        let mut buf = vec![0u8; 8192];
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.sock.recv_from(&mut buf)).await {
                Err(_) => return None,
                Ok(Ok((n, from))) => return Some((String::from_utf8_lossy(&buf[..n]).into_owned(), from)),
                Ok(Err(_)) => continue, // ICMP errors from earlier sends
            }
        }
    }

    /// Sends and returns the next datagram's text, checking it comes from `to`.
    pub async fn ask(&self, to: SocketAddr, payload: &str) -> String {
        self.send(to, payload.as_bytes()).await;
        let (text, from) = self.recv().await;
        assert_eq!(from, to, "reply to {payload:?} from the wrong address: {text:?}");
        text
    }

    /// Sends `payload` (expected to get no reply), then `probe`; returns the first datagram,
    /// which must be the probe's answer if `payload` was silent (loopback keeps order).
    pub async fn silent_then(&self, to: SocketAddr, payload: &[u8], probe: &str) -> String {
        self.send(to, payload).await;
        self.ask(to, probe).await
    }
}
