//! The shared UDP socket: unicast datagrams go to the member they were sent to, broadcasts
//! to every member; each reply leaves with its device's address as source.

use std::{
    net::{Ipv4Addr, SocketAddrV4},
    sync::Arc,
};

use tokio::{io::Interest, net::UdpSocket};
use tracing::{debug, warn};

use super::{pktinfo, Members};
use crate::kasa::server::{datagram_reply, pace_broadcast, udp::faulty_datagram_reply, ServerConfig};

/// Largest datagram received (the IPv4 maximum).
const RECV_BUFFER: usize = 65_536;

/// Serves `socket` until the task is dropped. `broadcast` is the address whose datagrams
/// every member answers (none = broadcasts are ignored).
pub(crate) async fn serve_shared_udp(
    socket: UdpSocket,
    members: Arc<Members>,
    broadcast: Option<Ipv4Addr>,
    cfg: ServerConfig,
) {
    let mut buf = vec![0u8; RECV_BUFFER];
    let mut control = pktinfo::control_buffer();
    loop {
        let got =
            socket.async_io(Interest::READABLE, || pktinfo::recv(&socket, &mut buf, &mut control)).await;
        let r = match got {
            Ok(r) => r,
            Err(e) => {
                // e.g. ECONNREFUSED left by an ICMP error for an earlier reply
                debug!(error = %e, "UDP receive error ignored");
                continue;
            }
        };
        if r.len > cfg.max_frame {
            debug!(peer = %r.peer, len = r.len, "oversized datagram ignored");
            continue;
        }
        let Some(payload) = buf.get(..r.len) else { continue };
        let Some(dst) = r.dst else {
            warn!(peer = %r.peer, "datagram without IP_PKTINFO ignored");
            continue;
        };
        if Some(dst) == broadcast {
            // As the per-device broadcast dispatcher (`fleet/broadcast.rs`): no faults.
            if !cfg.response_delay.is_zero() {
                tokio::time::sleep(cfg.response_delay).await;
            }
            for (i, m) in members.all().iter().enumerate() {
                if let Some(reply) = datagram_reply(&m.device, payload) {
                    send(&socket, &reply, m.ip, r.peer).await;
                }
                pace_broadcast(i).await;
            }
            continue;
        }
        let Some(m) = members.get(dst) else {
            debug!(peer = %r.peer, %dst, "datagram to an address outside the fleet ignored");
            continue;
        };
        // Unicast: as a device's own UDP server, with the faults of `cfg`.
        let Some(reply) = faulty_datagram_reply(&m.device, payload, &cfg).await else { continue };
        if !cfg.response_delay.is_zero() {
            tokio::time::sleep(cfg.response_delay).await;
        }
        send(&socket, &reply, m.ip, r.peer).await;
    }
}

/// Sends `reply` to `peer` from `from` (the device's address), waiting while the send
/// buffer is full.
async fn send(socket: &UdpSocket, reply: &[u8], from: Ipv4Addr, peer: SocketAddrV4) {
    let sent = socket.async_io(Interest::WRITABLE, || pktinfo::send_from(socket, reply, from, peer)).await;
    if let Err(e) = sent {
        debug!(%peer, %from, error = %e, "UDP reply not sent");
    }
}
