//! Socket and timing helpers shared by the device handles and discovery of both families.

use std::{io, net::SocketAddr, time::Duration};

use socket2::{Domain, Protocol, Socket, Type};

use tokio::{
    net::TcpStream,
    time::{timeout, Instant},
};
use tracing::trace;

use crate::{
    error::{Error, Op, Result},
    stats::{bump, Counters},
};

/// Opens a TCP connection with `TCP_NODELAY` within `limit`, counting attempts and successes.
/// A refusal (ECONNREFUSED, unreachable) is [`Error::Refused`], never retried by callers.
pub(crate) async fn connect_tcp(addr: SocketAddr, limit: Duration, counters: &Counters) -> Result<TcpStream> {
    bump(&counters.connect_attempts);
    trace!(%addr, "connecting");
    let stream = match timeout(limit, TcpStream::connect(addr)).await {
        Err(_) => return Err(Error::Timeout { addr, op: Op::Connect, after: limit }),
        Ok(Err(error)) if Error::is_refusal(&error) => return Err(Error::Refused { addr, error }),
        Ok(Err(error)) => {
            let error = crate::fd_limit::explain_emfile(error);
            return Err(Error::Io { addr, op: Op::Connect, error });
        }
        Ok(Ok(s)) => s,
    };
    stream.set_nodelay(true).map_err(|error| Error::Io { addr, op: Op::Connect, error })?;
    bump(&counters.connections);
    Ok(stream)
}

/// Whether an I/O error means the peer had already dropped the connection.
pub(crate) fn peer_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof
    )
}

/// `now + d`, saturating at a far-future instant instead of overflowing.
pub(crate) fn deadline_after(d: Duration) -> Instant {
    instant_after(Instant::now(), d)
}

/// `start + d`, saturating at a far-future instant instead of overflowing.
pub(crate) fn instant_after(start: Instant, d: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(86_400 * 365 * 30);
    start.checked_add(d.min(FAR)).unwrap_or(start)
}

/// Receive buffer asked for on a broadcast socket: hundreds of plugs answer one discovery
/// broadcast at about the same time, and the default buffer (~200 KiB) drops replies beyond
/// a few hundred. The kernel caps it at `net.core.rmem_max`.
const BROADCAST_RECV_BUFFER: usize = 4 << 20;

/// A non-blocking UDP socket bound to `bind`; with `broadcast`, `SO_BROADCAST` (IPv4) and a
/// large receive buffer (best effort); with `reuse`, `SO_REUSEADDR`.
pub(crate) fn udp_socket(bind: SocketAddr, broadcast: bool, reuse: bool) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(bind), Type::DGRAM, Some(Protocol::UDP))?;
    if broadcast && bind.is_ipv4() {
        socket.set_broadcast(true)?;
    }
    if broadcast {
        let _ = socket.set_recv_buffer_size(BROADCAST_RECV_BUFFER);
    }
    if reuse {
        socket.set_reuse_address(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&bind.into())?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_saturate() {
        let now = Instant::now();
        assert!(instant_after(now, Duration::MAX) > now);
        assert_eq!(instant_after(now, Duration::ZERO), now);
        assert!(peer_gone(&io::ErrorKind::ConnectionReset.into()));
        assert!(!peer_gone(&io::ErrorKind::TimedOut.into()));
    }
}
