//! The UDP server of one device.

use std::{
    cell::RefCell,
    io,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use plugctl_proto::kasa::datagram;
use tokio::net::UdpSocket;
use tracing::{debug, warn};

use super::{lock, ServerConfig, SharedDevice};
use crate::fault::Action;

thread_local! {
    /// Receive buffer shared by every UDP server on a worker thread, so idle devices hold no
    /// 64 KiB buffer each.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; 65_536]);
}

/// Serves `dev` on `socket` until the task is dropped: each datagram is decrypted whole,
/// handled, and answered with one datagram from `socket` to the sender. Faults of
/// [`ServerConfig::faults`] apply per datagram (the connection-level kinds drop it).
pub async fn serve_udp(socket: Arc<UdpSocket>, dev: SharedDevice, cfg: ServerConfig) {
    loop {
        if let Err(e) = socket.readable().await {
            warn!(error = %e, "UDP socket failed");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        }
        let (payload, peer) = match recv_now(&socket) {
            Ok(Some(x)) => x,
            Ok(None) => continue,
            Err(e) => {
                // e.g. ECONNREFUSED left by an ICMP error for an earlier reply
                debug!(error = %e, "UDP receive error ignored");
                continue;
            }
        };
        if payload.len() > cfg.max_frame {
            debug!(%peer, len = payload.len(), "oversized datagram ignored");
            continue;
        }
        let Some(reply) = faulty_datagram_reply(&dev, &payload, &cfg).await else { continue };
        if !cfg.response_delay.is_zero() {
            tokio::time::sleep(cfg.response_delay).await;
        }
        if let Err(e) = socket.send_to(&reply, peer).await {
            debug!(%peer, error = %e, "UDP reply not sent");
        }
    }
}

pub(crate) fn recv_now(socket: &UdpSocket) -> io::Result<Option<(Vec<u8>, SocketAddr)>> {
    SCRATCH.with(|cell| {
        let mut buf = cell.borrow_mut();
        match socket.try_recv_from(&mut buf) {
            Ok((n, peer)) => Ok(Some((buf.get(..n).unwrap_or_default().to_vec(), peer))),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    })
}

/// [`datagram_reply`] with the faults of `cfg` applied (sleeping for a `delay` fault): the
/// datagram to send, if any.
pub(crate) async fn faulty_datagram_reply(
    dev: &SharedDevice,
    request: &[u8],
    cfg: &ServerConfig,
) -> Option<Vec<u8>> {
    let fault = cfg.faults.on_request(true);
    if let Some(d) = fault.delay {
        tokio::time::sleep(d).await;
    }
    let mut reply = match fault.action {
        None => return datagram_reply(dev, request),
        Some(Action::NoReply) => return None,
        Some(Action::Reboot) => {
            lock(dev).schedule_reboot(Duration::ZERO, Instant::now());
            return None;
        }
        Some(Action::WrongReply) => {
            let plain = datagram::decode(strip_length_header(request));
            datagram_reply(dev, &datagram::encode(super::tcp::other_request(&plain)))?
        }
        Some(Action::Garbage) => cfg.faults.garbage(64),
        Some(_) => datagram_reply(dev, request)?,
    };
    if fault.action == Some(Action::CloseMidFrame) {
        reply.truncate(reply.len() / 2);
    }
    Some(reply)
}

/// The encrypted reply datagram of `dev` to an encrypted request datagram, or `None` if the
/// device sends nothing or the reply would not fit a datagram.
pub(crate) fn datagram_reply(dev: &SharedDevice, request: &[u8]) -> Option<Vec<u8>> {
    let plain = datagram::decode(strip_length_header(request));
    let reply = lock(dev).handle(&plain, Instant::now())?;
    if reply.len() > datagram::MAX_DATAGRAM {
        debug!(len = reply.len(), "reply too large for a datagram; dropped");
        return None;
    }
    Some(datagram::encode(&reply))
}

/// A client bug sends the TCP frame over UDP (kasa-protocol.md §13 row 18): a 4-byte header
/// equal to the remaining length is dropped. (A real datagram starts with `0xd0`, the
/// ciphertext of `{`, so it never looks like such a header.)
fn strip_length_header(d: &[u8]) -> &[u8] {
    match d {
        [a, b, c, e, rest @ ..]
            if u32::from_be_bytes([*a, *b, *c, *e]) as usize == rest.len() && !rest.is_empty() =>
        {
            rest
        }
        _ => d,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_header_is_stripped_only_when_it_matches() {
        let framed = plugctl_proto::kasa::frame::encode(b"{}");
        assert_eq!(strip_length_header(&framed), &framed[4..]);
        let plain = datagram::encode(b"{}");
        assert_eq!(strip_length_header(&plain), &plain[..]);
        assert_eq!(strip_length_header(&[0, 0, 0, 0]), &[0, 0, 0, 0]);
    }
}
