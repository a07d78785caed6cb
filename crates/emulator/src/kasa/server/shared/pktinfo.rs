//! `IP_PKTINFO` on a UDP socket bound to the wildcard address: learn each datagram's
//! destination address, and choose each reply's source address.
//!
//! Receiving: with the `IP_PKTINFO` option on, `recvmsg` returns an `in_pktinfo` control
//! message whose `ipi_addr` is the destination address of the IP header (127.0.0.N for a
//! unicast datagram, 127.255.255.255 for a loopback broadcast).
//!
//! Sending: an `in_pktinfo` control message passed to `sendmsg` with `ipi_spec_dst` set makes
//! the kernel use that (local) address as the source of the datagram; with `ipi_ifindex` 0
//! the route decides the interface (loopback here). The source port is the socket's port.
//!
//! The `nix` crate does the `msghdr`/`cmsghdr` packing, so this crate stays free of
//! `unsafe`.

use std::{
    io::{self, IoSlice, IoSliceMut},
    net::{Ipv4Addr, SocketAddrV4},
    os::fd::{AsFd, AsRawFd},
};

use nix::{
    libc,
    sys::socket::{
        recvmsg, sendmsg, setsockopt, sockopt, ControlMessage, ControlMessageOwned, MsgFlags, SockaddrIn,
    },
};

/// One received datagram.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Received {
    /// Payload length (in the caller's buffer).
    pub(crate) len: usize,
    /// Sender.
    pub(crate) peer: SocketAddrV4,
    /// Destination address of the IP header (`None` if the kernel sent no `IP_PKTINFO`).
    pub(crate) dst: Option<Ipv4Addr>,
}

/// Switches `IP_PKTINFO` on.
pub(crate) fn enable(socket: &impl AsFd) -> io::Result<()> {
    setsockopt(socket, sockopt::Ipv4PacketInfo, &true).map_err(io::Error::from)
}

/// A control-message buffer large enough for one `in_pktinfo` (reuse it between calls).
pub(crate) fn control_buffer() -> Vec<u8> {
    nix::cmsg_space!(libc::in_pktinfo)
}

/// Receives one datagram into `buf` (non-blocking: `WouldBlock` when none is queued).
/// `control` comes from [`control_buffer`].
pub(crate) fn recv(socket: &impl AsRawFd, buf: &mut [u8], control: &mut [u8]) -> io::Result<Received> {
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<SockaddrIn>(socket.as_raw_fd(), &mut iov, Some(control), MsgFlags::empty())?;
    let Some(peer) = msg.address else {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "datagram without an IPv4 sender"));
    };
    let dst = msg.cmsgs().ok().and_then(|mut c| {
        c.find_map(|m| match m {
            ControlMessageOwned::Ipv4PacketInfo(info) => {
                Some(Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr)))
            }
            _ => None,
        })
    });
    Ok(Received { len: msg.bytes, peer: SocketAddrV4::new(peer.ip(), peer.port()), dst })
}

/// Sends `payload` to `to` with source address `from` (a local address; the source port is
/// the socket's). Non-blocking: `WouldBlock` when the send buffer is full.
pub(crate) fn send_from(
    socket: &impl AsRawFd,
    payload: &[u8],
    from: Ipv4Addr,
    to: SocketAddrV4,
) -> io::Result<usize> {
    let info = libc::in_pktinfo {
        ipi_ifindex: 0,
        ipi_spec_dst: libc::in_addr { s_addr: u32::from(from).to_be() },
        ipi_addr: libc::in_addr { s_addr: 0 },
    };
    let to = SockaddrIn::from(to);
    sendmsg(
        socket.as_raw_fd(),
        &[IoSlice::new(payload)],
        &[ControlMessage::Ipv4PacketInfo(&info)],
        MsgFlags::empty(),
        Some(&to),
    )
    .map_err(io::Error::from)
}
