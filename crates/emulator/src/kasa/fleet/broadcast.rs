//! Loopback broadcast discovery for a fleet: one socket bound to the broadcast address and
//! the fleet port receives each discovery datagram once and dispatches it to every device;
//! each device replies **from its own socket** (`127.0.0.N:P`), which is what clients check
//! (python-kasa accepts only replies whose source port is the discovery port, and tells
//! devices apart by source address).

use std::{sync::Arc, time::Duration};

use tokio::net::UdpSocket;
use tracing::{debug, warn};

use crate::kasa::server::{datagram_reply, pace_broadcast, recv_now, ServerConfig, SharedDevice};

/// One fleet member as seen by the dispatcher.
pub(crate) struct Member {
    pub(crate) device: SharedDevice,
    pub(crate) socket: Arc<UdpSocket>,
}

/// Serves broadcast datagrams arriving on `socket` until the task is dropped.
pub(crate) async fn serve_broadcast(socket: UdpSocket, members: Arc<[Member]>, cfg: ServerConfig) {
    loop {
        if let Err(e) = socket.readable().await {
            warn!(error = %e, "broadcast socket failed");
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let (payload, peer) = match recv_now(&socket) {
            Ok(Some(x)) => x,
            Ok(None) => continue,
            Err(e) => {
                debug!(error = %e, "broadcast receive error ignored");
                continue;
            }
        };
        if payload.len() > cfg.max_frame {
            continue;
        }
        if !cfg.response_delay.is_zero() {
            tokio::time::sleep(cfg.response_delay).await;
        }
        debug!(%peer, devices = members.len(), "broadcast request");
        for (i, m) in members.iter().enumerate() {
            if let Some(reply) = datagram_reply(&m.device, &payload) {
                if let Err(e) = m.socket.send_to(&reply, peer).await {
                    debug!(%peer, error = %e, "broadcast reply not sent");
                }
            }
            pace_broadcast(i).await;
        }
    }
}
