//! The two sockets of a shared-socket fleet: TCP and UDP on `0.0.0.0:P`, restricted to the
//! loopback interface, so nothing outside the machine can reach the emulator even though it
//! binds the wildcard address.

use std::{
    io,
    net::{Ipv4Addr, SocketAddr},
};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, UdpSocket};

use super::pktinfo;

/// The interface both sockets are restricted to.
const LOOPBACK_DEVICE: &[u8] = b"lo";

/// Listen backlog: a whole fleet's clients may connect at once (the kernel caps it at
/// `net.core.somaxconn`).
const BACKLOG: i32 = 4096;

/// UDP receive buffer asked for (the kernel caps it at `net.core.rmem_max`).
const UDP_RECV_BUFFER: usize = 1 << 20;

/// How often port 0 is retried when the port picked for TCP is taken for UDP.
const PICK_ATTEMPTS: usize = 64;

/// TCP listener and UDP socket of a shared fleet on port `port` (0 = a port free for both).
pub(crate) fn bind_shared(port: u16) -> io::Result<(TcpListener, UdpSocket)> {
    if port != 0 {
        return Ok((tcp(port)?, udp(port)?));
    }
    let mut last = None;
    for _ in 0..PICK_ATTEMPTS {
        let listener = tcp(0)?;
        let port = listener.local_addr()?.port();
        match udp(port) {
            Ok(u) => return Ok((listener, u)),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::AddrInUse, "no port free for both TCP and UDP")))
}

fn any(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::UNSPECIFIED, port))
}

fn on_loopback(s: &Socket) -> io::Result<()> {
    s.bind_device(Some(LOOPBACK_DEVICE)).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot restrict the shared fleet socket to the loopback interface (SO_BINDTODEVICE lo): {e}"
            ),
        )
    })
}

fn tcp(port: u16) -> io::Result<TcpListener> {
    let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    on_loopback(&s)?;
    s.set_nonblocking(true)?;
    s.bind(&any(port).into()).map_err(|e| bind_error(e, "TCP", port))?;
    s.listen(BACKLOG)?;
    TcpListener::from_std(s.into())
}

fn udp(port: u16) -> io::Result<UdpSocket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    on_loopback(&s)?;
    pktinfo::enable(&s)?;
    // Best effort: a larger buffer only absorbs bursts of requests.
    let _ = s.set_recv_buffer_size(UDP_RECV_BUFFER);
    s.set_nonblocking(true)?;
    s.bind(&any(port).into()).map_err(|e| bind_error(e, "UDP", port))?;
    UdpSocket::from_std(s.into())
}

fn bind_error(e: io::Error, proto: &str, port: u16) -> io::Error {
    io::Error::new(e.kind(), format!("cannot bind {proto} 0.0.0.0:{port} on lo: {e}"))
}
