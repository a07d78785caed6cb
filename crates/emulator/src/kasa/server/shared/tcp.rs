//! The shared TCP listener: dispatch each accepted connection to the device it was dialled on.

use std::{
    net::{Ipv4Addr, SocketAddr},
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::{
    net::{TcpListener, TcpStream},
    task::JoinSet,
};
use tracing::{debug, warn};

use super::Members;
use crate::kasa::server::{lock, tcp::connection, ServerConfig};

/// Accepts on `listener` until the task is dropped (which also ends every connection).
/// A connection is served by the member whose address is the connection's local address,
/// with the per-device connection code and limits; other connections are closed at once.
pub(crate) async fn serve_shared_tcp(listener: TcpListener, members: Arc<Members>, cfg: ServerConfig) {
    let cfg = Arc::new(cfg);
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => admit(stream, peer, &members, &cfg, &mut conns),
                Err(e) => {
                    // e.g. EMFILE: back off instead of spinning.
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// Hands `stream` to its device (same checks as a device's own listener), or drops it.
fn admit(
    stream: TcpStream,
    peer: SocketAddr,
    members: &Members,
    cfg: &Arc<ServerConfig>,
    conns: &mut JoinSet<()>,
) {
    let Some(local) = local_v4(&stream) else {
        debug!(%peer, "connection without an IPv4 local address closed");
        return;
    };
    let Some(member) = members.get(local) else {
        debug!(%peer, %local, "connection to an address outside the fleet closed");
        return;
    };
    let now = Instant::now();
    let (offline, epoch) = {
        let d = lock(&member.device);
        (d.is_offline(now), d.boot_epoch(now))
    };
    if offline {
        debug!(%peer, %local, "device rebooting; connection closed");
        return;
    }
    let Ok(permit) = member.slots.clone().try_acquire_owned() else {
        debug!(%peer, %local, max = cfg.max_connections, "connection limit reached; closed");
        return;
    };
    conns.spawn(connection(stream, peer, member.device.clone(), cfg.clone(), epoch, permit));
}

fn local_v4(stream: &TcpStream) -> Option<Ipv4Addr> {
    match stream.local_addr().ok()? {
        SocketAddr::V4(a) => Some(*a.ip()),
        SocketAddr::V6(a) => a.ip().to_ipv4_mapped(),
    }
}
