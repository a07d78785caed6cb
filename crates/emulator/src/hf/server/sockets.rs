//! Socket creation (socket2) and port selection for plugs and fleets.
//!
//! - TCP listeners use SO_REUSEADDR, so a plug can rebind right after a reboot despite
//!   TIME_WAIT (two listeners still cannot share an address).
//! - Plug UDP sockets use SO_REUSEADDR, so that clients on the same host can still bind
//!   `0.0.0.0:48899` themselves (hf-protocol.md §5.3); unicast datagrams go to the most
//!   specific binding, the plug's.
//! - Port 0 means "pick": the port is chosen on the first address without SO_REUSEADDR (so
//!   the kernel only hands out a port nobody holds), then claimed on every address; a clash
//!   retries with another port.

use std::{
    io,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::Arc,
};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::{TcpListener, UdpSocket};

use super::{Ports, StartError};

/// Listen backlog.
const BACKLOG: i32 = 128;

/// Attempts at finding ports free on every address.
const PICK_ATTEMPTS: usize = 32;

/// The sockets of one plug address.
#[derive(Debug)]
pub(crate) struct AddrSockets {
    pub(crate) ip: Ipv4Addr,
    pub(crate) control: TcpListener,
    pub(crate) udp: Arc<UdpSocket>,
    pub(crate) http: Option<TcpListener>,
}

/// Sockets bound for a group of plug addresses.
#[derive(Debug)]
pub(crate) struct Group {
    /// The port numbers in use (none is 0).
    pub(crate) ports: Ports,
    /// One entry per active address, in order.
    pub(crate) sockets: Vec<AddrSockets>,
    /// The broadcast socket, if asked for.
    pub(crate) broadcast: Option<UdpSocket>,
}

fn v4(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(ip), port)
}

fn raw_tcp(addr: SocketAddr, reuse: bool) -> io::Result<Socket> {
    let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(reuse)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    Ok(s)
}

fn raw_udp(addr: SocketAddr, reuse: bool, broadcast: bool) -> io::Result<Socket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(reuse)?;
    s.set_broadcast(broadcast)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    Ok(s)
}

/// A TCP listener on `addr`.
pub(crate) fn tcp_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let s = raw_tcp(addr, true)?;
    s.listen(BACKLOG)?;
    TcpListener::from_std(s.into())
}

/// A plug UDP socket on `addr`. With `exclusive`, first checks that nobody holds the port.
pub(crate) fn udp_socket(addr: SocketAddr, exclusive: bool) -> io::Result<UdpSocket> {
    if exclusive {
        drop(raw_udp(addr, false, false)?);
    }
    UdpSocket::from_std(raw_udp(addr, true, false)?.into())
}

/// A UDP socket on a broadcast address (SO_REUSEADDR + SO_BROADCAST), which receives the
/// datagrams sent there (design.md, "Broadcast discovery on loopback").
pub(crate) fn broadcast_socket(addr: SocketAddr, exclusive: bool) -> io::Result<UdpSocket> {
    if exclusive {
        drop(raw_udp(addr, false, false)?);
    }
    UdpSocket::from_std(raw_udp(addr, true, true)?.into())
}

fn bind_err(what: &'static str, addr: SocketAddr) -> impl FnOnce(io::Error) -> StartError {
    move |source| StartError::Bind { what, addr, source }
}

/// Binds control, UDP and (optionally) HTTP on `ip` with fixed `ports`.
pub(crate) fn bind_addr(ip: Ipv4Addr, ports: Ports, exclusive: bool) -> Result<AddrSockets, StartError> {
    let c = v4(ip, ports.control);
    let u = v4(ip, ports.udp);
    let control = tcp_listener(c).map_err(bind_err("TCP control port", c))?;
    let udp = Arc::new(udp_socket(u, exclusive).map_err(bind_err("UDP port", u))?);
    let http = match ports.http {
        Some(p) => {
            let h = v4(ip, p);
            Some(tcp_listener(h).map_err(bind_err("HTTP port", h))?)
        }
        None => None,
    };
    Ok(AddrSockets { ip, control, udp, http })
}

/// Picks a free TCP port on `ip` (the socket is returned to be held until all picks are done).
fn pick_tcp(ip: Ipv4Addr) -> Result<(Socket, u16), StartError> {
    let addr = v4(ip, 0);
    let s = raw_tcp(addr, false).map_err(bind_err("a free TCP port", addr))?;
    let port = s.local_addr().ok().and_then(|a| a.as_socket()).map_or(0, |a| a.port());
    Ok((s, port))
}

fn pick_udp(ip: Ipv4Addr) -> Result<(Socket, u16), StartError> {
    let addr = v4(ip, 0);
    let s = raw_udp(addr, false, false).map_err(bind_err("a free UDP port", addr))?;
    let port = s.local_addr().ok().and_then(|a| a.as_socket()).map_or(0, |a| a.port());
    Ok((s, port))
}

fn picked(ports: Ports) -> bool {
    ports.control == 0 || ports.udp == 0 || ports.http == Some(0)
}

/// Binds every `active` address (serving sockets), checks that every `standby` address has
/// the same ports free (addresses a plug may move to after a reboot), and binds the
/// broadcast address on the UDP port. Zero ports are picked, free on every address.
pub(crate) fn bind_group(
    active: &[Ipv4Addr],
    standby: &[Ipv4Addr],
    ports: Ports,
    broadcast: Option<Ipv4Addr>,
) -> Result<Group, StartError> {
    if !picked(ports) {
        return bind_on(active, standby, ports, broadcast, false);
    }
    let Some(first) = active.first().or(standby.first()).copied() else {
        return Err(StartError::Empty);
    };
    let mut last = None;
    for _ in 0..PICK_ATTEMPTS {
        let mut held = Vec::new();
        let mut resolved = ports;
        if ports.control == 0 {
            let (s, p) = pick_tcp(first)?;
            held.push(s);
            resolved.control = p;
        }
        if ports.udp == 0 {
            let (s, p) = pick_udp(first)?;
            held.push(s);
            resolved.udp = p;
        }
        if ports.http == Some(0) {
            let (s, p) = pick_tcp(first)?;
            held.push(s);
            resolved.http = Some(p);
        }
        drop(held);
        match bind_on(active, standby, resolved, broadcast, true) {
            Ok(g) => return Ok(g),
            Err(e) if e.is_addr_in_use() => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or(StartError::Empty))
}

fn bind_on(
    active: &[Ipv4Addr],
    standby: &[Ipv4Addr],
    ports: Ports,
    broadcast: Option<Ipv4Addr>,
    exclusive: bool,
) -> Result<Group, StartError> {
    let broadcast = broadcast
        .map(|b| {
            let a = v4(b, ports.udp);
            broadcast_socket(a, exclusive).map_err(bind_err("UDP broadcast port", a))
        })
        .transpose()?;
    let mut sockets = Vec::with_capacity(active.len());
    for ip in active {
        sockets.push(bind_addr(*ip, ports, exclusive)?);
    }
    for ip in standby.iter().filter(|ip| !active.contains(ip)) {
        drop(bind_addr(*ip, ports, exclusive)?);
    }
    Ok(Group { ports, sockets, broadcast })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn picks_ports_free_on_every_address() {
        let a = Ipv4Addr::new(127, 0, 77, 2);
        let b = Ipv4Addr::new(127, 0, 77, 3);
        let g = bind_group(&[a], &[b], Ports::ephemeral(), None).unwrap();
        assert!(g.ports.control != 0 && g.ports.udp != 0 && g.ports.http.is_some_and(|p| p != 0));
        assert_eq!(g.sockets.len(), 1);
        // the standby address was released and is free
        drop(bind_addr(b, g.ports, false).unwrap());
        // a fixed port that is taken is an error naming the address
        let e = bind_group(&[a], &[], g.ports, None).unwrap_err();
        assert!(e.is_addr_in_use(), "{e}");
        assert!(e.to_string().contains("127.0.77.2"), "{e}");
    }
}
