//! Test client helpers: raw tokio sockets plus `plugctl_proto` encoding, loopback only.

#![allow(dead_code)]

use std::{io, net::SocketAddr, path::PathBuf, time::Duration};

use plugctl_emulator::kasa::{self, bind_device, builtin, RunningDevice, ServerConfig};
use plugctl_proto::kasa::{cipher, datagram, frame};
use serde_json::Value;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpStream, UdpSocket},
    time::timeout,
};

/// Guard against hangs; never a measured duration.
pub const GUARD: Duration = Duration::from_secs(10);

/// Starts a built-in device on 127.0.0.1 with a free port.
pub async fn start(profile: &str, cfg: ServerConfig) -> RunningDevice {
    let dev = kasa::shared(builtin(profile).expect("built-in profile").instantiate(0, 1));
    bind_device("127.0.0.1".parse().expect("ip"), 0, dev, cfg).await.expect("bind")
}

/// Reads one reply frame; `Ok(None)` on a clean end of stream before a header.
pub async fn read_frame(s: &mut TcpStream) -> io::Result<Option<Value>> {
    let mut header = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = s.read(&mut header[got..]).await?;
        if n == 0 {
            return if got == 0 { Ok(None) } else { Err(io::ErrorKind::UnexpectedEof.into()) };
        }
        got += n;
    }
    let len = u32::from_be_bytes(header) as usize;
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await?;
    let plain = cipher::decrypt(&body);
    Ok(Some(serde_json::from_slice(&plain).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?))
}

/// Reads one frame with the guard; panics on timeout.
pub async fn recv(s: &mut TcpStream) -> Value {
    timeout(GUARD, read_frame(s)).await.expect("reply within guard").expect("io").expect("a frame")
}

/// Connects with TCP_NODELAY.
pub async fn connect(addr: SocketAddr) -> TcpStream {
    let s = timeout(GUARD, TcpStream::connect(addr)).await.expect("connect within guard").expect("connect");
    s.set_nodelay(true).expect("nodelay");
    s
}

/// Sends one request on a fresh connection and reads the reply.
pub async fn tcp_ask(addr: SocketAddr, req: &str) -> Value {
    let mut s = connect(addr).await;
    s.write_all(&frame::encode(req.as_bytes())).await.expect("write");
    recv(&mut s).await
}

/// True once the peer has closed (EOF or reset) within the guard.
pub async fn closed_by_peer(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    loop {
        match timeout(GUARD, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

/// Sends one datagram from a fresh socket on 127.0.0.1 and returns (reply, source).
pub async fn udp_ask(addr: SocketAddr, req: &[u8]) -> (Value, SocketAddr) {
    let sock = UdpSocket::bind("127.0.0.1:0").await.expect("bind udp");
    sock.send_to(&datagram::encode(req), addr).await.expect("send");
    let mut buf = vec![0u8; 65_536];
    let (n, from) =
        timeout(GUARD, sock.recv_from(&mut buf)).await.expect("reply within guard").expect("recv");
    let v = serde_json::from_slice(&datagram::decode(&buf[..n])).expect("reply is JSON");
    (v, from)
}

/// The fixtures directory: `$PLUGCTL_FIXTURES`, else `../../../shared/fixtures/kasa` from
/// this crate. Panics (the test fails, never skips) if it does not exist.
pub fn fixtures_dir() -> PathBuf {
    let dir = match std::env::var_os("PLUGCTL_FIXTURES") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/kasa"),
    };
    assert!(dir.is_dir(), "fixtures directory {} does not exist (set PLUGCTL_FIXTURES)", dir.display());
    dir
}
