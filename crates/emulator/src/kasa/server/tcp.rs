//! The TCP server of one device and its per-connection loop.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use plugctl_proto::kasa::{frame, FrameDecoder, FrameEvent};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore},
    task::JoinSet,
};
use tracing::{debug, warn};

use super::{lock, ServerConfig, SharedDevice};

/// Read buffer per connection.
const READ_CHUNK: usize = 4096;

/// Serves `dev` on `listener` until the task is dropped (which also ends its connections).
/// Errors never end the loop: failed accepts are logged and retried.
pub async fn serve_tcp(listener: TcpListener, dev: SharedDevice, cfg: ServerConfig) {
    let cfg = Arc::new(cfg);
    let limit = Arc::new(Semaphore::new(cfg.max_connections.max(1)));
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let now = Instant::now();
                    let (offline, epoch) = {
                        let d = lock(&dev);
                        (d.is_offline(now), d.boot_epoch(now))
                    };
                    if offline {
                        debug!(%peer, "device rebooting; connection closed");
                        continue;
                    }
                    let Ok(permit) = limit.clone().try_acquire_owned() else {
                        debug!(%peer, max = cfg.max_connections, "connection limit reached; closed");
                        continue;
                    };
                    conns.spawn(connection(stream, peer, dev.clone(), cfg.clone(), epoch, permit));
                }
                Err(e) => {
                    warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

/// Why a connection ends (for logs).
#[derive(Debug)]
enum End {
    PeerClosed,
    Timeout,
    Io,
    BadFrame,
    Offline,
    ClosedAfterReply,
}

async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    dev: SharedDevice,
    cfg: Arc<ServerConfig>,
    epoch: u64,
    _permit: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let end = serve_connection(&mut stream, peer, &dev, &cfg, epoch).await;
    debug!(%peer, ?end, "connection ended");
    if matches!(end, End::PeerClosed | End::ClosedAfterReply) {
        let _ = stream.shutdown().await;
    }
}

async fn serve_connection(
    stream: &mut TcpStream,
    peer: SocketAddr,
    dev: &SharedDevice,
    cfg: &ServerConfig,
    epoch: u64,
) -> End {
    let mut dec = FrameDecoder::new(cfg.max_frame);
    let mut buf = vec![0u8; READ_CHUNK];
    let mut reboot_at: Option<Instant> = None;
    loop {
        // Answer every complete frame, in order.
        loop {
            match dec.next_event() {
                Ok(Some(FrameEvent::Frame(payload))) => {
                    let now = Instant::now();
                    let reply = {
                        let mut d = lock(dev);
                        if d.boot_epoch(now) != epoch {
                            return End::Offline;
                        }
                        let reply = d.handle(&payload, now);
                        reboot_at = d.pending_reboot(now);
                        reply
                    };
                    // No reply: offline, or rebooting at once.
                    let Some(reply) = reply else { return End::Offline };
                    if !cfg.response_delay.is_zero() {
                        tokio::time::sleep(cfg.response_delay).await;
                    }
                    if stream.write_all(&frame::encode(&reply)).await.is_err() {
                        return End::Io;
                    }
                    if cfg.close_after_reply {
                        return End::ClosedAfterReply;
                    }
                }
                Ok(Some(FrameEvent::Empty)) => debug!(%peer, "zero-length header ignored"),
                Ok(None) => break,
                Err(e) => {
                    warn!(%peer, error = %e, "bad frame; closing connection");
                    return End::BadFrame;
                }
            }
        }
        let wait = if dec.buffered() > 0 { cfg.frame_timeout } else { cfg.idle_timeout };
        let reboot = async {
            match reboot_at {
                Some(t) => tokio::time::sleep_until(t.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            read = tokio::time::timeout(wait, stream.read(&mut buf)) => match read {
                Err(_) => {
                    debug!(%peer, partial = dec.buffered(), "read timeout");
                    return End::Timeout;
                }
                Ok(Err(_)) => return End::Io,
                Ok(Ok(0)) => {
                    if dec.buffered() > 0 {
                        debug!(%peer, partial = dec.buffered(), "truncated frame at end of stream discarded");
                    }
                    return End::PeerClosed;
                }
                Ok(Ok(n)) => dec.push(buf.get(..n).unwrap_or_default()),
            },
            () = reboot => return End::Offline,
        }
    }
}
