//! The TCP 8899 control transport of one Hi-Flying plug (hf-protocol.md §1.2).
//!
//! Behaviour:
//! - one connection per device, `TCP_NODELAY`, opened on first use and kept; plugs that keep
//!   it open (the C# client sends 99 commands on one socket) and plugs that close it after
//!   every reply both work: a kept connection found closed before a request, or closing
//!   without a byte of reply, is re-opened and the command resent once, without counting as
//!   a failed attempt;
//! - one command in flight: a tokio mutex is held for the whole exchange, retries included;
//!   each command is written with one write (the plug takes one segment as one command), and
//!   the next is only written after the reply (no pipelining);
//! - a reply is complete at the first line ending after some text, or, for a reply sent
//!   without line ending, after `quiet` of silence, or when the plug closes; its size is
//!   capped at `max_reply`. Bytes that arrive after a complete reply (the captured
//!   `+ok\r\n+error` quirk split over two segments) are read and discarded before the next
//!   command, so they are never taken for its answer;
//! - `timeout` applies separately to connecting and to each write + read;
//! - failures that may pass (timeouts, resets, early close, garbled replies) are retried
//!   `retries` times with doubling back-off; refusals, `+ERROR` and unexpected content fail at
//!   once. After any error, or when a caller drops a request mid-exchange, the connection is
//!   dropped.

use std::{io, net::SocketAddr};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::{Mutex, MutexGuard},
    time::{timeout_at, Instant},
};
use tracing::{debug, trace};

use super::{config::HfConfig, failure::HfFailure};
use crate::error::{Error, Op, Result};
use crate::net::{deadline_after, peer_gone};
use crate::stats::{bump, ConnectionStats, Counters};

/// A kept connection.
struct Live {
    stream: TcpStream,
    /// Whether at least one full reply came back on it.
    reused: bool,
    /// Set during an exchange; still set at the next attempt means the previous request
    /// future was dropped mid-exchange, so a late reply may still arrive.
    busy: bool,
    /// The plug closed it right after its last reply.
    peer_closed: bool,
}

/// What the device mutex guards: the connection and the reply buffer. Held for every
/// exchange with the plug, UDP ones included (one request in flight per device).
pub(crate) struct State {
    live: Option<Live>,
    rbuf: Vec<u8>,
}

/// Why one attempt failed.
enum AttemptError {
    /// A kept connection turned out closed before any reply byte.
    Stale,
    Failed(Error),
}

impl From<Error> for AttemptError {
    fn from(e: Error) -> Self {
        AttemptError::Failed(e)
    }
}

pub(crate) struct Connection {
    addr: SocketAddr,
    cfg: HfConfig,
    state: Mutex<State>,
    counters: Counters,
}

impl Connection {
    pub(crate) fn new(addr: SocketAddr, cfg: HfConfig) -> Self {
        Self {
            addr,
            cfg,
            state: Mutex::new(State { live: None, rbuf: Vec::new() }),
            counters: Counters::default(),
        }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub(crate) fn config(&self) -> &HfConfig {
        &self.cfg
    }

    pub(crate) fn stats(&self) -> ConnectionStats {
        self.counters.snapshot()
    }

    /// Waits for the device to be free and keeps it busy while the guard lives.
    pub(crate) async fn exclusive(&self) -> MutexGuard<'_, State> {
        self.state.lock().await
    }

    /// Closes the kept connection (after the request in flight, if any).
    pub(crate) async fn close(&self) {
        self.state.lock().await.live = None;
    }

    /// Sends `line` (a command with its line ending) and returns `parse` of the reply.
    /// `shown` is the command as error messages quote it.
    pub(crate) async fn request<T>(
        &self,
        line: &str,
        shown: &str,
        parse: impl Fn(&[u8]) -> Result<T, HfFailure>,
    ) -> Result<T> {
        bump(&self.counters.requests);
        let mut guard = self.state.lock().await;
        let st = &mut *guard;
        let mut retry = 0u32;
        let mut resent_after_close = false;
        loop {
            bump(&self.counters.attempts);
            let err = match self.attempt(st, line.as_bytes(), shown).await {
                Ok(()) => match parse(&st.rbuf) {
                    Ok(v) => return Ok(v),
                    Err(error) => Error::Hf { addr: self.addr, error },
                },
                Err(AttemptError::Stale) if !resent_after_close => {
                    resent_after_close = true;
                    bump(&self.counters.reconnects);
                    debug!(addr = %self.addr, "plug closed the kept connection; reconnecting");
                    continue;
                }
                Err(AttemptError::Stale) => Error::Closed { addr: self.addr },
                Err(AttemptError::Failed(e)) => e,
            };
            st.live = None;
            if !err.is_retryable() || retry >= self.cfg.retries {
                return Err(err);
            }
            let pause = self.cfg.backoff_for(retry);
            debug!(addr = %self.addr, error = %err, retry = retry + 1, ?pause, "retrying");
            tokio::time::sleep(pause).await;
            retry += 1;
            bump(&self.counters.retries);
        }
    }

    /// One exchange: (re)connect if needed, write `line`, read one reply into `st.rbuf`.
    async fn attempt(&self, st: &mut State, line: &[u8], shown: &str) -> Result<(), AttemptError> {
        if let Some(live) = &st.live {
            let usable = if live.busy {
                Err("a cancelled request left it mid-exchange")
            } else if live.peer_closed {
                Err("closed by the plug after its last reply")
            } else {
                check_kept(&live.stream)
            };
            if let Err(why) = usable {
                debug!(addr = %self.addr, why, "kept connection unusable; reconnecting");
                bump(&self.counters.reconnects);
                st.live = None;
            }
        }
        let live = match &mut st.live {
            Some(live) => live,
            none => none.insert(Live {
                stream: self.connect().await?,
                reused: false,
                busy: false,
                peer_closed: false,
            }),
        };
        live.busy = true;
        trace!(addr = %self.addr, command = shown, "sending");
        match exchange(self.addr, &self.cfg, live, line, &mut st.rbuf, shown).await {
            Ok(()) => {
                live.reused = true;
                live.busy = false;
                Ok(())
            }
            Err(e) => {
                st.live = None;
                Err(e)
            }
        }
    }

    async fn connect(&self) -> Result<TcpStream> {
        crate::net::connect_tcp(self.addr, self.cfg.timeout, &self.counters).await
    }
}

/// Reads (without blocking) whatever a kept connection holds: bytes nobody asked for are
/// discarded; EOF or an error makes it unusable.
fn check_kept(stream: &TcpStream) -> Result<(), &'static str> {
    let mut buf = [0u8; 256];
    let mut total = 0usize;
    loop {
        match stream.try_read(&mut buf) {
            Ok(0) => return Err("closed by the plug"),
            Ok(n) => {
                let stale = buf.get(..n).unwrap_or_default();
                debug!(bytes = ?String::from_utf8_lossy(stale), "discarding bytes that arrived after the last reply");
                total += n;
                if total > 64 * 1024 {
                    return Err("flooded with unsolicited bytes");
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Err("socket error"),
        }
    }
}

fn is_blank(b: u8) -> bool {
    b == 0 || b.is_ascii_whitespace()
}

/// Whether `buf` holds some text.
fn has_text(buf: &[u8]) -> bool {
    buf.iter().any(|&b| !is_blank(b))
}

/// Whether `buf` holds a line ending after some text.
fn has_complete_line(buf: &[u8]) -> bool {
    buf.iter().position(|&b| !is_blank(b)).is_some_and(|start| {
        buf.get(start..).is_some_and(|rest| rest.iter().any(|&b| b == b'\r' || b == b'\n'))
    })
}

/// Writes one command and reads one reply within `cfg.timeout`.
async fn exchange(
    addr: SocketAddr,
    cfg: &HfConfig,
    live: &mut Live,
    line: &[u8],
    rbuf: &mut Vec<u8>,
    shown: &str,
) -> Result<(), AttemptError> {
    let deadline = deadline_after(cfg.timeout);
    let timed_out = |op| Error::Timeout { addr, op, after: cfg.timeout };
    let stream = &mut live.stream;

    match timeout_at(deadline, stream.write_all(line)).await {
        Err(_) => return Err(timed_out(Op::Send).into()),
        Ok(Err(e)) if live.reused && peer_gone(&e) => return Err(AttemptError::Stale),
        Ok(Err(error)) => return Err(Error::Io { addr, op: Op::Send, error }.into()),
        Ok(Ok(())) => {}
    }

    rbuf.clear();
    let mut chunk = [0u8; 512];
    loop {
        // Text without a line ending: complete after `quiet` of silence.
        let quiet = has_text(rbuf);
        let wait_until =
            if quiet { deadline.min(crate::net::instant_after(Instant::now(), cfg.quiet)) } else { deadline };
        match timeout_at(wait_until, stream.read(&mut chunk)).await {
            Err(_) if quiet => return Ok(()),
            Err(_) => return Err(timed_out(Op::Reply).into()),
            Ok(Ok(0)) if rbuf.is_empty() && live.reused => return Err(AttemptError::Stale),
            Ok(Ok(0)) if !has_text(rbuf) => return Err(Error::Closed { addr }.into()),
            Ok(Ok(0)) => {
                live.peer_closed = true;
                return Ok(());
            }
            Ok(Ok(n)) => {
                rbuf.extend_from_slice(chunk.get(..n).unwrap_or_default());
                if rbuf.len() > cfg.max_reply {
                    let error = HfFailure::ReplyTooLong { command: shown.to_string(), max: cfg.max_reply };
                    return Err(Error::Hf { addr, error }.into());
                }
                if has_complete_line(rbuf) {
                    return Ok(());
                }
            }
            Ok(Err(e)) if rbuf.is_empty() && live.reused && peer_gone(&e) => return Err(AttemptError::Stale),
            Ok(Err(e)) if has_text(rbuf) && peer_gone(&e) => {
                live.peer_closed = true;
                return Ok(());
            }
            Ok(Err(error)) => return Err(Error::Io { addr, op: Op::Reply, error }.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_completion() {
        assert!(!has_text(b"\r\n\0 "));
        assert!(has_text(b"+ok"));
        assert!(!has_complete_line(b"+ok"));
        assert!(!has_complete_line(b"\r\n+ok"));
        assert!(has_complete_line(b"+ok\r"));
        assert!(has_complete_line(b"\r\n+ok=1,2\n"));
        assert!(!has_complete_line(b""));
    }
}
