//! Socket creation with socket2: explicit options, non-blocking, registered with tokio.

use std::{
    io,
    net::{IpAddr, SocketAddr},
};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, UdpSocket};

/// Listen backlog of device listeners.
const BACKLOG: i32 = 128;

/// How often [`bind_pair`] retries when the port the kernel picked for TCP is taken for UDP.
const PICK_ATTEMPTS: usize = 64;

/// A TCP listener on `addr` (SO_REUSEADDR, so a restarted emulator can rebind despite
/// TIME_WAIT; two listeners still cannot share an address).
pub(crate) fn tcp_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(BACKLOG)?;
    TcpListener::from_std(s.into())
}

/// A UDP socket on `addr`, without SO_REUSEADDR (so nobody else can share its port).
pub(crate) fn udp_socket(addr: SocketAddr) -> io::Result<UdpSocket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    UdpSocket::from_std(s.into())
}

/// A UDP socket on a broadcast address (SO_REUSEADDR + SO_BROADCAST), which receives the
/// datagrams sent to that address (design.md, "Broadcast discovery on loopback").
pub(crate) fn broadcast_socket(addr: SocketAddr) -> io::Result<UdpSocket> {
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    s.set_broadcast(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    UdpSocket::from_std(s.into())
}

/// TCP listener and UDP socket on the same `ip:port`; port 0 picks one free for both.
pub(crate) fn bind_pair(ip: IpAddr, port: u16) -> io::Result<(TcpListener, UdpSocket)> {
    if port != 0 {
        let addr = SocketAddr::new(ip, port);
        return Ok((tcp_listener(addr)?, udp_socket(addr)?));
    }
    let mut last = None;
    for _ in 0..PICK_ATTEMPTS {
        let listener = tcp_listener(SocketAddr::new(ip, 0))?;
        let port = listener.local_addr()?.port();
        match udp_socket(SocketAddr::new(ip, port)) {
            Ok(udp) => return Ok((listener, udp)),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::AddrInUse, "no port free for both TCP and UDP")))
}
