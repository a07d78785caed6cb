//! TCP control server (hf-protocol.md §5.2) and its per-connection loop.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use plugctl_proto::hf::{ControlRequest, ControlStream};
use socket2::SockRef;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore},
    task::JoinSet,
};
use tracing::{debug, warn};

use super::{lock, Ctx, ServerConfig, SharedPlug};
use crate::fault::{Action, ConnFault};

/// Read buffer per connection.
const READ_CHUNK: usize = 1024;

/// Serves the control port of `plug` on `listener` until the task is dropped (which also
/// ends its connections). Errors never end the loop.
pub async fn serve_control(listener: TcpListener, plug: SharedPlug, cfg: ServerConfig) {
    run(listener, Ctx::standalone(plug, cfg)).await;
}

pub(crate) async fn run(listener: TcpListener, ctx: Ctx) {
    let limit = Arc::new(Semaphore::new(ctx.cfg.max_connections.max(1)));
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Ok(permit) = limit.clone().try_acquire_owned() else {
                        debug!(%peer, "connection limit reached; closed");
                        continue;
                    };
                    conns.spawn(connection(stream, peer, ctx.clone(), permit));
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
    Idle,
    Io,
    WriteTimeout,
    Rebooting,
    /// A fault closed it after half a reply.
    Fault,
    /// A `refuse` fault: SO_LINGER 0 is set, dropping the stream sends RST.
    Refused,
}

async fn connection(mut stream: TcpStream, peer: SocketAddr, ctx: Ctx, _permit: OwnedSemaphorePermit) {
    let _ = stream.set_nodelay(true);
    let end = serve_connection(&mut stream, &ctx).await;
    debug!(%peer, ?end, "control connection ended");
    if matches!(end, End::PeerClosed | End::Idle | End::Fault) {
        let _ = stream.shutdown().await;
    }
}

async fn serve_connection(stream: &mut TcpStream, ctx: &Ctx) -> End {
    match ctx.cfg.faults.on_connection() {
        Some(ConnFault::Refuse) => {
            debug!("fault: control connection reset at once");
            // SO_LINGER 0: closing sends RST instead of FIN.
            let _ = SockRef::from(&*stream).set_linger(Some(Duration::ZERO));
            return End::Refused;
        }
        Some(ConnFault::AcceptNoRead) => {
            debug!("fault: control connection accepted, never read");
            let hold = lock(&ctx.device).tcp_timeout().unwrap_or(Duration::from_secs(300));
            ctx.cfg.faults.hold(hold).await;
            return End::Idle;
        }
        None => {}
    }
    let mut lines = ControlStream::default();
    let mut buf = [0u8; READ_CHUNK];
    loop {
        let pending = !lines.pending().is_empty();
        let wait = if pending { Some(ctx.cfg.reassembly_window) } else { lock(&ctx.device).tcp_timeout() };
        let read = match wait {
            Some(w) => tokio::time::timeout(w, stream.read(&mut buf)).await.ok(),
            None => Some(stream.read(&mut buf).await),
        };
        match read {
            // end of the reassembly window: what is pending is one command
            None if pending => {
                if let Some(req) = lines.flush() {
                    if let Err(end) = reply(stream, ctx, &req).await {
                        return end;
                    }
                }
            }
            None => return End::Idle,
            Some(Err(_)) => return End::Io,
            Some(Ok(0)) => {
                if let Some(req) = lines.flush() {
                    let _ = reply(stream, ctx, &req).await;
                }
                return End::PeerClosed;
            }
            Some(Ok(n)) => {
                for req in lines.push(buf.get(..n).unwrap_or_default()) {
                    if let Err(end) = reply(stream, ctx, &req).await {
                        return end;
                    }
                }
                // device semantics: a segment holding a whole command without terminator
                if !lines.pending().is_empty() && lines.pending_is_complete() {
                    if let Some(req) = lines.flush() {
                        if let Err(end) = reply(stream, ctx, &req).await {
                            return end;
                        }
                    }
                }
            }
        }
    }
}

/// Answers one command with one write (or as an injected fault says).
async fn reply(stream: &mut TcpStream, ctx: &Ctx, req: &ControlRequest) -> Result<(), End> {
    let fault = ctx.cfg.faults.on_request(false);
    if let Some(d) = fault.delay {
        tokio::time::sleep(d).await;
    }
    let bytes = match fault.action {
        Some(Action::NoReply) => {
            debug!("fault: command ignored");
            return Ok(());
        }
        Some(Action::Reboot) => {
            debug!("fault: plug reboots");
            lock(&ctx.device).begin_reboot();
            ctx.rebooting();
            return Err(End::Rebooting);
        }
        Some(Action::WrongReply) => {
            // The answer to another command (a switch's `+ok` for a reading, a reading for
            // anything else); this one is not applied.
            if matches!(req, ControlRequest::Measure) {
                b"+ok\r\n".to_vec()
            } else {
                lock(&ctx.device)
                    .handle_control(&ControlRequest::Measure, Instant::now())
                    .ok_or(End::Rebooting)?
            }
        }
        _ => lock(&ctx.device).handle_control(req, Instant::now()).ok_or(End::Rebooting)?,
    };
    if matches!(req, ControlRequest::Delay { .. }) {
        ctx.changed();
    }
    let write = async {
        match fault.action {
            Some(Action::SplitWrites) => {
                for b in &bytes {
                    stream.write_all(std::slice::from_ref(b)).await?;
                }
                Ok(true)
            }
            Some(Action::CloseMidFrame) => {
                // Half the reply, never its line ending.
                let text = bytes.iter().position(|b| *b == b'\r' || *b == b'\n').unwrap_or(bytes.len());
                stream.write_all(bytes.get(..text.div_ceil(2)).unwrap_or_default()).await?;
                Ok(false)
            }
            Some(Action::Garbage) => {
                let mut g = ctx.cfg.faults.garbage(24);
                g.extend_from_slice(b"\r\n");
                stream.write_all(&g).await.map(|()| true)
            }
            Some(Action::HugeLength) => {
                // A reply that never ends: 64 KiB without a line ending.
                for _ in 0..64 {
                    stream.write_all(&ctx.cfg.faults.garbage(1024)).await?;
                }
                Ok(true)
            }
            _ => stream.write_all(&bytes).await.map(|()| true),
        }
    };
    match tokio::time::timeout(ctx.cfg.write_timeout, write).await {
        Ok(Ok(true)) => Ok(()),
        Ok(Ok(false)) => Err(End::Fault),
        Ok(Err(_)) => Err(End::Io),
        Err(_) => Err(End::WriteTimeout),
    }
}
