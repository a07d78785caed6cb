//! The TCP transport of one Kasa device: a persistent connection carrying one request at a
//! time, with transparent reconnects and bounded retries (kasa-protocol.md §3).
//!
//! Behaviour, as python-kasa's `XorTransport` + `IotProtocol` but stricter on input:
//! - one connection per device, `TCP_NODELAY`, each request frame written with one write;
//! - one request in flight: a tokio mutex is held for the whole exchange, retries included;
//! - a reply is read as a 4-byte header then exactly the announced payload; an announced
//!   length over `max_frame` fails at once and nothing of that size is allocated;
//! - `timeout` applies separately to connecting and to send + receive;
//! - a connection that already carried a reply and is found closed (EOF or reset before any
//!   reply byte) is re-opened and the request resent once *without* counting as a failed
//!   attempt: old firmware closes after every reply; a *fresh* connection closing without a
//!   reply is an error;
//! - failures that might pass (timeouts, resets, EOF, garbled replies) are retried
//!   `retries` times with doubling back-off; refusals and unreachable hosts fail at once;
//! - after any error the connection is dropped, so a late reply can never be taken for the
//!   answer to the next request; the same holds when a caller drops a request future
//!   mid-exchange (e.g. its own timeout), and when bytes nobody asked for are waiting on a
//!   kept connection.

use std::{io, mem::MaybeUninit, net::SocketAddr};

use plugctl_proto::kasa::{
    cipher,
    frame::{self, HEADER_LEN},
    FrameError, ResponseError,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::Mutex,
    time::timeout_at,
};
use tracing::debug;

use super::config::ClientConfig;
use crate::error::{Error, Op, Result};
use crate::net::{deadline_after, peer_gone};
use crate::stats::{bump, ConnectionStats, Counters};

/// A kept connection.
struct Live {
    stream: TcpStream,
    /// Whether at least one full reply came back on it.
    reused: bool,
    /// Set while an exchange is under way. Still set when the next attempt starts means
    /// the previous request future was dropped mid-exchange (cancelled by the caller): its
    /// reply may still arrive, so the connection cannot be trusted any more.
    busy: bool,
}

/// What the mutex guards: the connection and the reusable buffers.
struct State {
    live: Option<Live>,
    /// The encoded request frame.
    wbuf: Vec<u8>,
    /// The decrypted reply payload.
    rbuf: Vec<u8>,
}

/// Why one attempt failed.
enum AttemptError {
    /// A kept connection turned out to be closed by the peer before any reply byte.
    Stale,
    /// Anything else.
    Failed(Error),
}

impl From<Error> for AttemptError {
    fn from(e: Error) -> Self {
        AttemptError::Failed(e)
    }
}

/// The transport of one device. See the module documentation.
pub(crate) struct Connection {
    addr: SocketAddr,
    cfg: ClientConfig,
    state: Mutex<State>,
    counters: Counters,
}

impl Connection {
    pub(crate) fn new(addr: SocketAddr, cfg: ClientConfig) -> Self {
        Self {
            addr,
            cfg,
            state: Mutex::new(State { live: None, wbuf: Vec::new(), rbuf: Vec::new() }),
            counters: Counters::default(),
        }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub(crate) fn config(&self) -> &ClientConfig {
        &self.cfg
    }

    pub(crate) fn stats(&self) -> ConnectionStats {
        self.counters.snapshot()
    }

    /// Closes the kept connection, if any (after the request in flight, if any).
    pub(crate) async fn close(&self) {
        self.state.lock().await.live = None;
    }

    /// Sends `json` (plaintext request payload) and returns `parse` of the decrypted reply
    /// payload. A `parse` failure counts as a garbled reply: the connection is dropped and,
    /// if [`Error::is_retryable`] says so, the request is retried.
    pub(crate) async fn request<T>(
        &self,
        json: &[u8],
        parse: impl Fn(&[u8]) -> Result<T, ResponseError>,
    ) -> Result<T> {
        if json.len() > self.cfg.max_frame {
            return Err(Error::InvalidArgument {
                addr: self.addr,
                reason: format!(
                    "request of {} bytes exceeds the {}-byte frame cap",
                    json.len(),
                    self.cfg.max_frame
                ),
            });
        }
        bump(&self.counters.requests);
        let mut guard = self.state.lock().await;
        let st = &mut *guard;
        st.wbuf.clear();
        frame::encode_into(json, &mut st.wbuf);

        let mut retry = 0u32;
        let mut resent_after_close = false;
        loop {
            bump(&self.counters.attempts);
            let err = match self.attempt(st).await {
                Ok(()) => match parse(&st.rbuf) {
                    Ok(v) => return Ok(v),
                    Err(e) => Error::from_response(self.addr, e),
                },
                Err(AttemptError::Stale) if !resent_after_close => {
                    resent_after_close = true;
                    bump(&self.counters.reconnects);
                    debug!(addr = %self.addr, "device closed the kept connection; reconnecting");
                    continue;
                }
                Err(AttemptError::Stale) => Error::Closed { addr: self.addr },
                Err(AttemptError::Failed(e)) => e,
            };
            st.live = None;
            if !err.is_retryable() || retry >= self.cfg.retries {
                return Err(match &self.cfg.klap {
                    Some(probe) => super::klap::explain(err, probe).await,
                    None => err,
                });
            }
            let pause = self.cfg.backoff_for(retry);
            debug!(addr = %self.addr, error = %err, retry = retry + 1, ?pause, "retrying");
            tokio::time::sleep(pause).await;
            retry += 1;
            bump(&self.counters.retries);
        }
    }

    /// One exchange: (re)connect if needed, write the frame in `st.wbuf`, read the reply
    /// payload into `st.rbuf` and decrypt it. Drops the connection on failure.
    async fn attempt(&self, st: &mut State) -> Result<(), AttemptError> {
        if let Some(live) = &st.live {
            let usable = if live.busy {
                Err("a cancelled request left it mid-exchange")
            } else {
                still_usable(&live.stream)
            };
            if let Err(why) = usable {
                debug!(addr = %self.addr, why, "kept connection unusable; reconnecting");
                bump(&self.counters.reconnects);
                st.live = None;
            }
        }
        let live = match &mut st.live {
            Some(live) => live,
            none => none.insert(Live { stream: self.connect().await?, reused: false, busy: false }),
        };
        live.busy = true;
        let result = exchange(self.addr, &self.cfg, live, &st.wbuf, &mut st.rbuf).await;
        match result {
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

/// Checks, without blocking or consuming anything, that a kept connection is neither
/// closed by the peer nor holding bytes nobody asked for.
fn still_usable(stream: &TcpStream) -> Result<(), &'static str> {
    let mut probe = [MaybeUninit::<u8>::uninit(); 1];
    match socket2::SockRef::from(stream).peek(&mut probe) {
        Ok(0) => Err("closed by the device"),
        Ok(_) => Err("unsolicited bytes from the device"),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
        Err(_) => Err("socket error"),
    }
}

/// Writes one request frame and reads one reply frame within `cfg.timeout`.
async fn exchange(
    addr: SocketAddr,
    cfg: &ClientConfig,
    live: &mut Live,
    wbuf: &[u8],
    rbuf: &mut Vec<u8>,
) -> Result<(), AttemptError> {
    let deadline = deadline_after(cfg.timeout);
    let timed_out = |op| Error::Timeout { addr, op, after: cfg.timeout };
    let stream = &mut live.stream;

    match timeout_at(deadline, stream.write_all(wbuf)).await {
        Err(_) => return Err(timed_out(Op::Send).into()),
        Ok(Err(e)) if live.reused && peer_gone(&e) => return Err(AttemptError::Stale),
        Ok(Err(error)) => return Err(Error::Io { addr, op: Op::Send, error }.into()),
        Ok(Ok(())) => {}
    }

    let mut header = [0u8; HEADER_LEN];
    let mut have = 0;
    while have < HEADER_LEN {
        match timeout_at(deadline, stream.read(&mut header[have..])).await {
            Err(_) => return Err(timed_out(Op::Reply).into()),
            Ok(Ok(0)) if have == 0 && live.reused => return Err(AttemptError::Stale),
            Ok(Ok(0)) if have == 0 => return Err(Error::Closed { addr }.into()),
            Ok(Ok(0)) => {
                let error = FrameError::Truncated { have, need: HEADER_LEN };
                return Err(Error::Frame { addr, error }.into());
            }
            Ok(Ok(n)) => have += n,
            Ok(Err(e)) if have == 0 && live.reused && peer_gone(&e) => return Err(AttemptError::Stale),
            Ok(Err(error)) => return Err(Error::Io { addr, op: Op::Reply, error }.into()),
        }
    }
    let len = frame::parse_header(header, cfg.max_frame).map_err(|error| Error::Frame { addr, error })?;
    if len == 0 {
        return Err(Error::Frame { addr, error: FrameError::ZeroLength }.into());
    }

    rbuf.clear();
    rbuf.resize(len, 0);
    let mut got = 0;
    while got < len {
        match timeout_at(deadline, stream.read(&mut rbuf[got..])).await {
            Err(_) => return Err(timed_out(Op::Reply).into()),
            Ok(Ok(0)) => {
                let error = FrameError::Truncated { have: HEADER_LEN + got, need: HEADER_LEN + len };
                return Err(Error::Frame { addr, error }.into());
            }
            Ok(Ok(n)) => got += n,
            Ok(Err(error)) => return Err(Error::Io { addr, op: Op::Reply, error }.into()),
        }
    }
    cipher::decrypt_in_place(rbuf);
    Ok(())
}
