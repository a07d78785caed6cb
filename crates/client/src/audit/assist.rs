//! A small Hi-Flying assist session (hf-protocol.md §1.3) for the audit and for changing the
//! logins it flags: password handshake, `+ok`, then one AT request and one reply at a time,
//! each bounded by the configured timeout and resent on silence.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use plugctl_proto::hf::{
    assist::{AssistReply, AtReply, AtRequest, ASSIST_ACK},
    MAX_DATAGRAM,
};
use tokio::{
    net::UdpSocket,
    time::{timeout_at, Instant},
};

use crate::{
    error::{Error, Op, Result},
    hf::{HfConfig, HfFailure},
};

/// An open session with a plug's assist port.
pub(crate) struct AssistSession {
    sock: UdpSocket,
    addr: SocketAddr,
    cfg: HfConfig,
}

impl AssistSession {
    /// Sends `password` (resent up to `cfg.retries` times) until the plug answers
    /// `ip,MAC,module`, then `+ok`. A plug that never answers is
    /// [`HfFailure::AssistNoAnswer`] (a wrong password gets no answer at all).
    pub(crate) async fn open(ip: IpAddr, cfg: &HfConfig, password: &str) -> Result<(Self, AssistReply)> {
        let addr = SocketAddr::new(ip, cfg.udp_port);
        let local: SocketAddr = match ip {
            IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let sock = UdpSocket::bind(local).await.map_err(|error| Error::Io { addr, op: Op::Bind, error })?;
        sock.connect(addr).await.map_err(|error| Error::Io { addr, op: Op::Connect, error })?;
        let s = Self { sock, addr, cfg: cfg.clone() };
        let mut buf = vec![0u8; MAX_DATAGRAM];
        for _ in 0..=cfg.retries {
            s.send(password.as_bytes()).await?;
            let deadline = Instant::now() + cfg.timeout;
            while let Ok(r) = timeout_at(deadline, s.sock.recv(&mut buf)).await {
                let Ok(n) = r else { continue };
                if let Some(reply) = buf.get(..n).and_then(|b| AssistReply::parse(b).ok()) {
                    s.send(ASSIST_ACK.as_bytes()).await?;
                    // Let an echo of "+ok" (some firmwares) arrive and discard it.
                    tokio::time::sleep(cfg.quiet).await;
                    s.drain();
                    return Ok((s, reply));
                }
            }
        }
        Err(Error::Hf { addr, error: HfFailure::AssistNoAnswer { after: cfg.timeout } })
    }

    async fn send(&self, bytes: &[u8]) -> Result<()> {
        match self.sock.send(bytes).await {
            Ok(_) => Ok(()),
            Err(error) if Error::is_refusal(&error) => Err(Error::Refused { addr: self.addr, error }),
            Err(error) => Err(Error::Io { addr: self.addr, op: Op::Send, error }),
        }
    }

    fn drain(&self) {
        let mut buf = [0u8; 64];
        for _ in 0..1024 {
            if self.sock.try_recv(&mut buf).is_err() {
                break;
            }
        }
    }

    /// Sends `req` and returns the value of its `+ok[=value]` reply (empty for a bare
    /// `+ok`). `+ERR=<n>` is [`HfFailure::Rejected`]; silence after every resend is
    /// [`Error::Timeout`]. `shown` is how the command appears in errors (keys masked).
    pub(crate) async fn exchange(&self, req: &AtRequest, shown: &str) -> Result<String> {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        for _ in 0..=self.cfg.retries {
            self.drain();
            self.send(req.encode().as_bytes()).await?;
            let deadline = Instant::now() + self.cfg.timeout;
            while let Ok(r) = timeout_at(deadline, self.sock.recv(&mut buf)).await {
                let Ok(n) = r else { continue };
                match buf.get(..n).map(AtReply::parse) {
                    Some(Ok(AtReply::Ok(v))) => return Ok(v.unwrap_or_default()),
                    Some(Ok(AtReply::Err(code))) => {
                        let error = HfFailure::Rejected { command: shown.to_string(), code: Some(code) };
                        return Err(Error::Hf { addr: self.addr, error });
                    }
                    _ => continue,
                }
            }
        }
        Err(Error::Timeout { addr: self.addr, op: Op::Reply, after: self.cfg.timeout })
    }

    /// `AT+<verb>`: its value.
    pub(crate) async fn query(&self, verb: &str) -> Result<String> {
        let req = AtRequest::query(verb)
            .map_err(|e| Error::InvalidArgument { addr: self.addr, reason: e.to_string() })?;
        self.exchange(&req, &req.line()).await
    }

    /// `AT+Q`: leaves command mode (best effort: sent once, the reply is not awaited).
    pub(crate) async fn quit(self) {
        if let Ok(req) = AtRequest::query("Q") {
            let _ = self.send(req.encode().as_bytes()).await;
        }
    }
}
