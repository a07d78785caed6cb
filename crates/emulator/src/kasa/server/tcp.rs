//! The TCP server of one device and its per-connection loop.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use plugctl_proto::kasa::{frame, FrameDecoder, FrameEvent};
use socket2::SockRef;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore},
    task::JoinSet,
};
use tracing::{debug, warn};

use super::{lock, ServerConfig, SharedDevice};
use crate::fault::{Action, ConnFault, HUGE_LENGTH};

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
    /// A fault closed it after half a reply.
    Fault,
    /// A `refuse` fault: SO_LINGER 0 is set, dropping the stream sends RST.
    Refused,
}

pub(crate) async fn connection(
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
    if matches!(end, End::PeerClosed | End::ClosedAfterReply | End::Fault) {
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
    match cfg.faults.on_connection() {
        Some(ConnFault::Refuse) => {
            debug!(%peer, "fault: connection reset at once");
            // SO_LINGER 0: closing sends RST instead of FIN.
            let _ = SockRef::from(&*stream).set_linger(Some(Duration::ZERO));
            return End::Refused;
        }
        Some(ConnFault::AcceptNoRead) => {
            debug!(%peer, "fault: connection accepted, never read");
            cfg.faults.hold(cfg.idle_timeout).await;
            return End::Timeout;
        }
        None => {}
    }
    let mut dec = FrameDecoder::new(cfg.max_frame);
    let mut buf = vec![0u8; READ_CHUNK];
    let mut reboot_at: Option<Instant> = None;
    loop {
        // Answer every complete frame, in order.
        loop {
            match dec.next_event() {
                Ok(Some(FrameEvent::Frame(payload))) => {
                    let fault = cfg.faults.on_request(false);
                    if let Some(d) = fault.delay {
                        tokio::time::sleep(d).await;
                    }
                    let now = Instant::now();
                    let reply = {
                        let mut d = lock(dev);
                        if d.boot_epoch(now) != epoch {
                            return End::Offline;
                        }
                        match fault.action {
                            Some(Action::NoReply) => {
                                debug!(%peer, "fault: request ignored");
                                continue;
                            }
                            Some(Action::Reboot) => {
                                debug!(%peer, "fault: device reboots");
                                d.schedule_reboot(Duration::ZERO, now);
                                return End::Offline;
                            }
                            Some(Action::WrongReply) => d.handle(other_request(&payload), now),
                            _ => d.handle(&payload, now),
                        }
                        .inspect(|_| reboot_at = d.pending_reboot(now))
                    };
                    // No reply: offline, or rebooting at once.
                    let Some(reply) = reply else { return End::Offline };
                    if !cfg.response_delay.is_zero() {
                        tokio::time::sleep(cfg.response_delay).await;
                    }
                    match write_reply(stream, &reply, fault.action, cfg).await {
                        Ok(true) => {}
                        Ok(false) => return End::Fault,
                        Err(_) => return End::Io,
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

/// A request other than `payload` whose reply a `wrong-reply` fault sends instead (the
/// original request is not applied): the time when sysinfo was asked for, sysinfo otherwise.
pub(crate) fn other_request(payload: &[u8]) -> &'static [u8] {
    const SYSINFO: &[u8] = br#"{"system":{"get_sysinfo":{}}}"#;
    const TIME: &[u8] = br#"{"time":{"get_time":{}}}"#;
    if payload.windows(b"get_sysinfo".len()).any(|w| w == b"get_sysinfo") {
        TIME
    } else {
        SYSINFO
    }
}

/// Writes the reply frame of `reply` (plaintext JSON) as the fault `action` says. Returns
/// whether the connection stays open.
async fn write_reply(
    stream: &mut TcpStream,
    reply: &[u8],
    action: Option<Action>,
    cfg: &ServerConfig,
) -> std::io::Result<bool> {
    let mut bytes = frame::encode(reply);
    match action {
        Some(Action::SplitWrites) => {
            for b in &bytes {
                stream.write_all(std::slice::from_ref(b)).await?;
            }
            return Ok(true);
        }
        Some(Action::CloseMidFrame) => {
            let half = bytes.get(..bytes.len() / 2).unwrap_or_default();
            stream.write_all(half).await?;
            return Ok(false);
        }
        Some(Action::Garbage) => bytes = frame::encode(&cfg.faults.garbage(reply.len().clamp(16, 256))),
        Some(Action::BadLength) => {
            let short = u32::try_from(bytes.len().saturating_sub(frame::HEADER_LEN) / 2).unwrap_or(u32::MAX);
            if let Some(h) = bytes.get_mut(..frame::HEADER_LEN) {
                h.copy_from_slice(&short.to_be_bytes());
            }
        }
        Some(Action::HugeLength) => {
            bytes = HUGE_LENGTH.to_be_bytes().to_vec();
            bytes.extend_from_slice(&cfg.faults.garbage(16));
        }
        _ => {}
    }
    stream.write_all(&bytes).await?;
    Ok(true)
}
