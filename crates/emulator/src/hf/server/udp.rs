//! UDP discovery/assist server (hf-protocol.md §5.3).

use std::{
    io,
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::Arc,
    time::{Duration, Instant},
};

use plugctl_proto::hf::MAX_DATAGRAM;
use tokio::net::UdpSocket;
use tracing::debug;

use super::{lock, Ctx, ReplyCopy, ServerConfig, SharedPlug};
use crate::fault::Action;

/// Serves UDP for `plug` on `socket` until the task is dropped. The socket must be bound to
/// the plug's IPv4 address (replies report it; clients compare it with the source).
pub async fn serve_udp(socket: Arc<UdpSocket>, plug: SharedPlug, cfg: ServerConfig) {
    let ip = match socket.local_addr() {
        Ok(SocketAddr::V4(a)) => *a.ip(),
        _ => Ipv4Addr::UNSPECIFIED,
    };
    run(socket, ip, Ctx::standalone(plug, cfg)).await;
}

pub(crate) async fn run(socket: Arc<UdpSocket>, ip: Ipv4Addr, ctx: Ctx) {
    let own = socket.local_addr().ok();
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    loop {
        let (n, peer) = match socket.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                // ECONNREFUSED left by an ICMP error for an earlier reply is harmless
                debug!(error = %e, "UDP receive error ignored");
                if !matches!(e.kind(), io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset) {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                continue;
            }
        };
        if Some(peer) == own || n > MAX_DATAGRAM {
            continue;
        }
        respond(&ctx, &socket, ip, buf.get(..n).unwrap_or_default(), peer).await;
    }
}

/// Handles one datagram received for the plug on `socket` (its address `ip`) and sends the
/// replies from `socket`.
/// Faults of the configuration apply per datagram (connection-level kinds drop it).
pub(crate) async fn respond(ctx: &Ctx, socket: &UdpSocket, ip: Ipv4Addr, payload: &[u8], peer: SocketAddr) {
    let fault = ctx.cfg.faults.on_request(true);
    if let Some(d) = fault.delay {
        tokio::time::sleep(d).await;
    }
    match fault.action {
        Some(Action::NoReply) => return,
        Some(Action::Reboot) => {
            lock(&ctx.device).begin_reboot();
            ctx.rebooting();
            return;
        }
        _ => {}
    }
    let mut out = lock(&ctx.device).handle_datagram(payload, peer, ip, Instant::now());
    if let Some(reply) = &mut out.reply {
        match fault.action {
            // the answer to another request: a switch's `+ok`
            Some(Action::WrongReply) => *reply = b"+ok".to_vec(),
            Some(Action::Garbage) => *reply = ctx.cfg.faults.garbage(48),
            Some(Action::CloseMidFrame) => reply.truncate(reply.len() / 2),
            _ => {}
        }
    }
    if let Some(reply) = &out.reply {
        send(socket, reply, peer).await;
        if out.discovery {
            if let Some(port) = copy_port(ctx.cfg.reply_copy, socket) {
                if port != peer.port() {
                    send(socket, reply, SocketAddr::new(peer.ip(), port)).await;
                }
            }
        }
    }
    if out.reboot {
        ctx.rebooting();
    }
}

fn copy_port(policy: ReplyCopy, socket: &UdpSocket) -> Option<u16> {
    match policy {
        ReplyCopy::Off => None,
        ReplyCopy::PlugPort => socket.local_addr().ok().map(|a| a.port()),
        ReplyCopy::Port(p) => Some(p),
    }
}

async fn send(socket: &UdpSocket, bytes: &[u8], to: SocketAddr) {
    if to.port() == 0 || matches!(to.ip(), IpAddr::V4(ip) if ip.is_unspecified()) {
        return;
    }
    if let Err(e) = socket.send_to(bytes, to).await {
        debug!(%to, error = %e, "UDP reply not sent");
    }
}
