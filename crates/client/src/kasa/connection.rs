//! The TCP transport of one Kasa device: a persistent connection carrying one request at a
//! time, with transparent reconnects and bounded retries (kasa-protocol.md §3).
//!
//! Behaviour, as python-kasa's `XorTransport` + `IotProtocol` but stricter on input:
//! - one connection per device, `TCP_NODELAY`, each request frame written with one write;
//! - one request in flight: a tokio mutex is held for the whole exchange, retries included;
//! - a reply is read header and payload together (one `read` of up to 2 KiB, then exactly
//!   the rest of the announced payload); an announced length over `max_frame` fails at once
//!   and nothing of that size is allocated; bytes read past the frame are unsolicited and
//!   the connection is not reused after that reply;
//! - `timeout` applies separately to connecting and to send + receive;
//! - a connection that already carried a reply and is found closed (EOF or reset before any
//!   reply byte) is re-opened and the request resent once *without* counting as a failed
//!   attempt: old firmware closes after every reply; a *fresh* connection closing without a
//!   reply is an error;
//! - failures that might pass (timeouts, resets, EOF, garbled replies) are retried
//!   `retries` times with doubling back-off; refusals and unreachable hosts fail at once;
//! - a reply must answer every module and method the request asked for (a device answers
//!   each, if only with an error code); one that does not is a reply to another request and
//!   fails as [`Error::Reply`] with [`ResponseError::Missing`], retried like a garbled reply;
//! - after any error the connection is dropped, so a late reply can never be taken for the
//!   answer to the next request; the same holds when a caller drops a request future
//!   mid-exchange (e.g. its own timeout), and when bytes nobody asked for are waiting on a
//!   kept connection.
//!
//! Cost per request on a kept connection: 3 syscalls (write, wait, read) in the usual case;
//! no task spawned, no allocation in the transport itself (the buffers are kept), one timer.

use std::{
    io,
    net::SocketAddr,
    task::{Context, Poll, Waker},
};

use plugctl_proto::kasa::{
    cipher,
    frame::{self, HEADER_LEN},
    FrameError, Response, ResponseError,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt, ReadBuf},
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
    /// The last reply came with bytes after it that nobody asked for.
    stray: bool,
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

    /// The same transport (kept connection, buffers and counters) under other settings.
    pub(crate) fn reconfigured(self, cfg: ClientConfig) -> Self {
        Self { cfg, ..self }
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

    /// Sends `json` (plaintext request payload) and returns the reply, parsed. A reply that
    /// does not parse counts as a garbled reply: the connection is dropped and, if
    /// [`Error::is_retryable`] says so, the request is retried.
    pub(crate) async fn request(&self, json: &[u8]) -> Result<Response> {
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

        let asked = echo::Calls::of(json);
        let mut retry = 0u32;
        let mut resent_after_close = false;
        loop {
            bump(&self.counters.attempts);
            // A reply that lacks a module or method asked for answers another request
            // (kasa-protocol.md §5.2: every call is answered, if only with an error code):
            // retried like a garbled reply, on a new connection.
            let mut mismatch = false;
            let err = match self.attempt(st).await {
                Ok(()) => match Response::parse(&st.rbuf) {
                    Err(e) => Error::from_response(self.addr, e),
                    Ok(reply) => match asked.as_ref().and_then(|a| a.unanswered(&reply)) {
                        Some(missing) => {
                            mismatch = true;
                            let error = ResponseError::Missing(format!(
                                "{missing} (the reply answers another request)"
                            ));
                            Error::Reply { addr: self.addr, error }
                        }
                        None => return Ok(reply),
                    },
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
            if !(err.is_retryable() || mismatch) || retry >= self.cfg.retries {
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
            } else if live.stray {
                Err("unsolicited bytes from the device")
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
            none => {
                let stream = self.connect().await?;
                none.insert(Live { stream, reused: false, busy: false, stray: false })
            }
        };
        live.busy = true;
        let result = exchange(self.addr, &self.cfg, live, &st.wbuf, &mut st.rbuf).await;
        match result {
            Ok(surplus) => {
                live.reused = true;
                live.busy = false;
                live.stray = surplus == Surplus::Stray;
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
///
/// Asks tokio's cached readiness first: if nothing was seen arriving since the socket last
/// reported "would block", no syscall is made. Otherwise one `MSG_PEEK` is made; a "would
/// block" answer clears the readiness, so the reply read that follows the request goes
/// straight to waiting instead of trying a read that cannot succeed yet.
fn still_usable(stream: &TcpStream) -> Result<(), &'static str> {
    let mut probe = [0u8; 1];
    let mut probe = ReadBuf::new(&mut probe);
    let mut cx = Context::from_waker(Waker::noop());
    match stream.poll_peek(&mut cx, &mut probe) {
        Poll::Pending => Ok(()),
        Poll::Ready(Ok(0)) => Err("closed by the device"),
        Poll::Ready(Ok(_)) => Err("unsolicited bytes from the device"),
        Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => Ok(()),
        Poll::Ready(Err(_)) => Err("socket error"),
    }
}

/// What a reply read brought besides the frame.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Surplus {
    /// Exactly one frame.
    None,
    /// Bytes after the frame that nobody asked for: the connection must not be reused.
    Stray,
}

/// Bytes read in one go for a reply (header and payload together), before the header says
/// how long the payload is: room for a whole sysinfo of any plug or strip, so a reply
/// usually takes one `read`.
const FIRST_READ: usize = 2048;

/// Writes one request frame and reads one reply frame within `cfg.timeout`, leaving the
/// decrypted payload (alone) in `rbuf`.
///
/// The reply is read into one buffer, header and payload together, as far as the buffer
/// holds: usually a single `read`. One timer guards the whole exchange.
async fn exchange(
    addr: SocketAddr,
    cfg: &ClientConfig,
    live: &mut Live,
    wbuf: &[u8],
    rbuf: &mut Vec<u8>,
) -> Result<Surplus, AttemptError> {
    let mut phase = Op::Send;
    let reused = live.reused;
    let io = send_and_receive(addr, cfg.max_frame, reused, &mut live.stream, wbuf, rbuf, &mut phase);
    match timeout_at(deadline_after(cfg.timeout), io).await {
        Ok(done) => done,
        Err(_) => Err(Error::Timeout { addr, op: phase, after: cfg.timeout }.into()),
    }
}

/// The I/O of [`exchange`], without the timer; `phase` tells a timeout what it interrupted.
async fn send_and_receive(
    addr: SocketAddr,
    max_frame: usize,
    reused: bool,
    stream: &mut TcpStream,
    wbuf: &[u8],
    rbuf: &mut Vec<u8>,
    phase: &mut Op,
) -> Result<Surplus, AttemptError> {
    match stream.write_all(wbuf).await {
        Err(e) if reused && peer_gone(&e) => return Err(AttemptError::Stale),
        Err(error) => return Err(Error::Io { addr, op: Op::Send, error }.into()),
        Ok(()) => {}
    }
    *phase = Op::Reply;

    // Until the header is in, read as much as the buffer holds; after it, exactly the rest
    // of the frame.
    let first = FIRST_READ.min(HEADER_LEN.saturating_add(max_frame));
    if rbuf.len() < first {
        rbuf.resize(first, 0);
    }
    let mut got = 0;
    let mut frame_end = None;
    loop {
        if frame_end.is_none() && got >= HEADER_LEN {
            let header = [rbuf[0], rbuf[1], rbuf[2], rbuf[3]];
            let len = frame::parse_header(header, max_frame).map_err(|error| Error::Frame { addr, error })?;
            if len == 0 {
                return Err(Error::Frame { addr, error: FrameError::ZeroLength }.into());
            }
            if rbuf.len() < HEADER_LEN + len {
                rbuf.resize(HEADER_LEN + len, 0);
            }
            frame_end = Some(HEADER_LEN + len);
        }
        let limit = match frame_end {
            Some(end) if got >= end => break,
            Some(end) => end,
            None => rbuf.len(),
        };
        match stream.read(&mut rbuf[got..limit]).await {
            Ok(0) if got == 0 && reused => return Err(AttemptError::Stale),
            Ok(0) if got == 0 => return Err(Error::Closed { addr }.into()),
            Ok(0) => {
                let need = frame_end.unwrap_or(HEADER_LEN);
                let error = FrameError::Truncated { have: got, need };
                return Err(Error::Frame { addr, error }.into());
            }
            Ok(n) => got += n,
            Err(e) if got == 0 && reused && peer_gone(&e) => return Err(AttemptError::Stale),
            Err(error) => return Err(Error::Io { addr, op: Op::Reply, error }.into()),
        }
    }
    let end = frame_end.unwrap_or(HEADER_LEN);
    let surplus = if got > end { Surplus::Stray } else { Surplus::None };
    // Hand the payload over alone: cut off what follows, move it to the front (the
    // allocation stays for the next reply).
    rbuf.truncate(end);
    rbuf.drain(..HEADER_LEN);
    cipher::decrypt_in_place(rbuf);
    Ok(surplus)
}

/// Checking that a reply answers the request: the module and method names of both, read
/// without building a JSON tree.
mod echo {
    use std::fmt;

    use plugctl_proto::kasa::Response;
    use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

    /// The top-level keys of a JSON object with, for each object value, its keys.
    #[derive(Debug, PartialEq, Eq)]
    pub(super) struct Calls(Vec<(String, Option<Vec<String>>)>);

    impl Calls {
        /// The calls of a request (`context` left out); `None` if it is not a JSON object.
        pub(super) fn of(request: &[u8]) -> Option<Self> {
            let mut calls: Calls = serde_json::from_slice(request).ok()?;
            calls.0.retain(|(module, _)| module != "context");
            Some(calls)
        }

        /// The first `module` or `module.method` of these calls that `reply` does not
        /// answer. A module answered with something other than an object, or with a
        /// module-level `err_code`, counts as answered.
        ///
        /// Runs on every reply, on the tree already parsed: a few map lookups.
        pub(super) fn unanswered(&self, reply: &Response) -> Option<String> {
            let got = reply.as_map();
            for (module, methods) in &self.0 {
                let Some(answer) = got.get(module) else {
                    return Some(format!("module {module}"));
                };
                let (Some(methods), Some(answered)) = (methods, answer.as_object()) else { continue };
                if answered.contains_key("err_code") {
                    continue;
                }
                if let Some(m) = methods.iter().find(|m| !answered.contains_key(m.as_str())) {
                    return Some(format!("{module}.{m}"));
                }
            }
            None
        }
    }

    impl<'de> serde::Deserialize<'de> for Calls {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Top;
            impl<'de> Visitor<'de> for Top {
                type Value = Calls;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Calls, A::Error> {
                    let mut out = Vec::new();
                    while let Some(k) = map.next_key::<String>()? {
                        let Keys(v) = map.next_value()?;
                        out.push((k, v));
                    }
                    Ok(Calls(out))
                }
            }
            d.deserialize_map(Top)
        }
    }

    /// The keys of an object value; `None` for any other value (skipped).
    struct Keys(Option<Vec<String>>);

    impl<'de> serde::Deserialize<'de> for Keys {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(KeysVisitor)
        }
    }

    struct KeysVisitor;

    impl<'de> Visitor<'de> for KeysVisitor {
        type Value = Keys;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
            let mut keys = Vec::new();
            while let Some(k) = map.next_key::<String>()? {
                map.next_value::<IgnoredAny>()?;
                keys.push(k);
            }
            Ok(Keys(Some(keys)))
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Keys, A::Error> {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            Ok(Keys(None))
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Keys, E> {
            Ok(Keys(None))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Keys, E> {
            Ok(Keys(None))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Keys, E> {
            Ok(Keys(None))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Keys, E> {
            Ok(Keys(None))
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Keys, E> {
            Ok(Keys(None))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Keys, E> {
            Ok(Keys(None))
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn calls(s: &str) -> Calls {
            Calls::of(s.as_bytes()).unwrap_or(Calls(Vec::new()))
        }

        fn reply(s: &[u8]) -> Response {
            Response::parse(s).unwrap_or_else(|e| panic!("test reply does not parse: {e}"))
        }

        #[test]
        fn replies_must_answer_every_call() {
            let req = calls(
                r#"{"system":{"get_sysinfo":{}},"emeter":{"get_realtime":{}},"context":{"child_ids":["a"]}}"#,
            );
            assert_eq!(req.0.len(), 2);
            let ok = br#"{"system":{"get_sysinfo":{"relay_state":1,"err_code":0}},"emeter":{"err_code":-1,"err_msg":"module not support"}}"#;
            assert_eq!(req.unanswered(&reply(ok)), None);
            let other = br#"{"time":{"get_time":{"year":2024,"err_code":0}}}"#;
            assert_eq!(req.unanswered(&reply(other)).as_deref(), Some("module system"));
            let wrong_method =
                br#"{"system":{"set_relay_state":{"err_code":0}},"emeter":{"get_realtime":{}}}"#;
            assert_eq!(req.unanswered(&reply(wrong_method)).as_deref(), Some("system.get_sysinfo"));
            // a reply that is not an object fails in Response::parse, before this check
            assert!(Calls::of(b"[]").is_none());
            assert_eq!(calls(r#"{"system":"x"}"#).unanswered(&reply(br#"{"system":{}}"#)), None);
        }

        #[test]
        fn escaped_keys_and_odd_module_answers() {
            let req = calls(r#"{"system":{"get_sysinfo":{}}}"#);
            assert_eq!(req.unanswered(&reply(br#"{"sys\u0074em":{"get_sysinf\u006f":{}}}"#)), None);
            assert_eq!(req.unanswered(&reply(br#"{"system":{"err_code":-1}}"#)), None);
            assert_eq!(req.unanswered(&reply(br#"{"system":[1]}"#)), None);
            let twice =
                calls(r#"{"system":{"get_sysinfo":{}},"emeter":{"get_realtime":{},"get_vgain_igain":{}}}"#);
            let half = br#"{"system":{"get_sysinfo":{}},"emeter":{"get_realtime":{}}}"#;
            assert_eq!(twice.unanswered(&reply(half)).as_deref(), Some("emeter.get_vgain_igain"));
        }
    }
}
