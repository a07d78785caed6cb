//! Fault injection, shared by both emulator families.
//!
//! A fault is written `KIND[:RATE]` (the `--fault` syntax of `plugctl emulate`): `RATE` in
//! `[0, 1]` is the probability that the fault strikes each request (each accepted
//! connection for the connection-level kinds `refuse` and `accept-no-read`); default 1.
//! Kinds that take a parameter write it as `KIND=VALUE`: `delay=500:0.25` delays a quarter
//! of the replies by 500 ms.
//!
//! | kind | TCP | UDP |
//! |---|---|---|
//! | `delay[=MS]` | reply sent MS ms late (default 2000) | same |
//! | `no-reply` | request read, never answered; the connection stays open | datagram dropped |
//! | `close-mid-frame` | half the reply written, then the connection closed | half the datagram |
//! | `split-writes` | the reply written one byte per write (a correct client copes) | normal |
//! | `garbage` | random bytes instead of the reply (Kasa: in a correct frame) | random datagram |
//! | `bad-length` | Kasa: length prefix announcing half the payload, all of it sent | normal |
//! | `huge-length` | Kasa: prefix `0xFFFFFFF0`, then a few bytes; HF: a 64 KiB reply without line end | normal |
//! | `wrong-reply` | the reply to a *different* request (the request is not applied) | same |
//! | `refuse` | connection accepted, then reset at once (RST, `SO_LINGER` 0) | datagram dropped |
//! | `accept-no-read` | connection accepted, never read nor answered (closed after the idle timeout, or when the fault stops) | datagram dropped |
//! | `reboot` | the device reboots: every connection dropped, silent for its reboot time, back with a fresh boot state | same |
//!
//! `refuse` uses accept + RST rather than closing the listener, so that it works the same in
//! every serving mode (one listener per device, shared listeners of a fleet): with a real
//! listener the kernel completes the handshake before the server sees the connection, so a
//! per-connection refusal cannot be an ICMP/RST to the SYN.
//!
//! Faults are switched at run time through the shared [`Faults`] handle held in each
//! family's `ServerConfig` ([`Faults::set_enabled`], [`Faults::stop_after`]); cloning the
//! handle shares the switch. Decisions come from a seeded RNG, so a run is reproducible for
//! a given seed and request order.

use std::{
    fmt,
    str::FromStr,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc, Mutex, PoisonError,
    },
    time::{Duration, Instant},
};

use rand::{rngs::StdRng, Rng, SeedableRng};

/// Default extra latency of `delay`.
pub const DEFAULT_DELAY: Duration = Duration::from_secs(2);

/// The length prefix `huge-length` announces.
pub const HUGE_LENGTH: u32 = 0xFFFF_FFF0;

/// One kind of fault; see the module documentation for what each does on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FaultKind {
    /// Reply late by this much.
    Delay(Duration),
    /// Never reply.
    NoReply,
    /// Write half the reply, then close.
    CloseMidFrame,
    /// Write the reply one byte per write.
    SplitWrites,
    /// Random bytes instead of the reply.
    Garbage,
    /// A length prefix that does not match the payload (Kasa only).
    BadLength,
    /// An absurd length prefix (Kasa); an endless reply (HF).
    HugeLength,
    /// The reply to a different request.
    WrongReply,
    /// Accept the connection, then reset it at once.
    Refuse,
    /// Accept the connection, then never read nor reply.
    AcceptNoRead,
    /// Reboot the device.
    Reboot,
}

impl FaultKind {
    /// Every kind, with its default parameter, in documentation order.
    pub const ALL: [FaultKind; 11] = [
        FaultKind::Delay(DEFAULT_DELAY),
        FaultKind::NoReply,
        FaultKind::CloseMidFrame,
        FaultKind::SplitWrites,
        FaultKind::Garbage,
        FaultKind::BadLength,
        FaultKind::HugeLength,
        FaultKind::WrongReply,
        FaultKind::Refuse,
        FaultKind::AcceptNoRead,
        FaultKind::Reboot,
    ];

    /// The name as written after `--fault`.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Delay(_) => "delay",
            FaultKind::NoReply => "no-reply",
            FaultKind::CloseMidFrame => "close-mid-frame",
            FaultKind::SplitWrites => "split-writes",
            FaultKind::Garbage => "garbage",
            FaultKind::BadLength => "bad-length",
            FaultKind::HugeLength => "huge-length",
            FaultKind::WrongReply => "wrong-reply",
            FaultKind::Refuse => "refuse",
            FaultKind::AcceptNoRead => "accept-no-read",
            FaultKind::Reboot => "reboot",
        }
    }

    /// Whether the fault is decided once per accepted connection rather than per request.
    pub fn is_connection_level(&self) -> bool {
        matches!(self, FaultKind::Refuse | FaultKind::AcceptNoRead)
    }

    /// Whether the Hi-Flying emulator can inject it (its protocol has no length prefix, so
    /// `bad-length` has no meaning there).
    pub fn applies_to_hf(&self) -> bool {
        !matches!(self, FaultKind::BadLength)
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FaultKind::Delay(d) => write!(f, "delay={}", d.as_millis()),
            k => f.write_str(k.name()),
        }
    }
}

/// A fault and how often it strikes: `KIND[:RATE]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaultSpec {
    /// What happens.
    pub kind: FaultKind,
    /// Probability per request (per connection for connection-level kinds), in `[0, 1]`.
    pub rate: f64,
}

impl FaultSpec {
    /// `kind` on every request.
    pub fn always(kind: FaultKind) -> Self {
        Self { kind, rate: 1.0 }
    }
}

impl fmt::Display for FaultSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rate >= 1.0 {
            write!(f, "{}", self.kind)
        } else {
            write!(f, "{}:{}", self.kind, self.rate)
        }
    }
}

/// Why a `--fault` value does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultParseError {
    /// Not one of the known kinds.
    #[error("unknown fault `{0}`; kinds: {kinds}", kinds = kind_list())]
    UnknownKind(String),
    /// The rate is not a number in `[0, 1]`.
    #[error("fault rate `{0}` is not a number between 0 and 1")]
    BadRate(String),
    /// The kind takes no `=VALUE`, or the value is not a whole number of milliseconds.
    #[error("fault `{kind}`: bad value `{value}` ({why})")]
    BadValue {
        /// The kind.
        kind: String,
        /// The value as written.
        value: String,
        /// What is wrong.
        why: &'static str,
    },
}

fn kind_list() -> String {
    FaultKind::ALL.iter().map(FaultKind::name).collect::<Vec<_>>().join(", ")
}

impl FromStr for FaultSpec {
    type Err = FaultParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (head, rate) = match s.rsplit_once(':') {
            Some((h, r)) => {
                let rate: f64 = r.trim().parse().map_err(|_| FaultParseError::BadRate(r.to_string()))?;
                if !(0.0..=1.0).contains(&rate) {
                    return Err(FaultParseError::BadRate(r.to_string()));
                }
                (h, rate)
            }
            None => (s, 1.0),
        };
        let (name, value) = match head.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (head.trim(), None),
        };
        let lower = name.to_ascii_lowercase();
        let plain = FaultKind::ALL.iter().copied().find(|k| k.name() == lower);
        let kind = match (plain, value) {
            (Some(FaultKind::Delay(_)), Some(v)) => {
                let ms: u64 = v.parse().map_err(|_| FaultParseError::BadValue {
                    kind: lower.clone(),
                    value: v.to_string(),
                    why: "expected whole milliseconds, e.g. delay=1500",
                })?;
                FaultKind::Delay(Duration::from_millis(ms))
            }
            (Some(k), None) => k,
            (Some(_), Some(v)) => {
                return Err(FaultParseError::BadValue {
                    kind: lower,
                    value: v.to_string(),
                    why: "takes no value",
                })
            }
            (None, _) => return Err(FaultParseError::UnknownKind(name.to_string())),
        };
        Ok(Self { kind, rate })
    }
}

/// What a server does with one accepted connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnFault {
    /// Reset it at once.
    Refuse,
    /// Hold it, never reading.
    AcceptNoRead,
}

/// What a server does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct RequestFaults {
    /// Extra latency before the reply (or before the action).
    pub(crate) delay: Option<Duration>,
    /// What replaces the normal reply, if anything.
    pub(crate) action: Option<Action>,
}

/// A per-request fault other than delay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    NoReply,
    CloseMidFrame,
    SplitWrites,
    Garbage,
    BadLength,
    HugeLength,
    WrongReply,
    Reboot,
}

#[derive(Debug)]
struct Inner {
    specs: Vec<FaultSpec>,
    enabled: AtomicBool,
    /// Faults end at this instant, if set.
    until: Mutex<Option<Instant>>,
    rng: Mutex<StdRng>,
    injected: AtomicU64,
}

/// The fault switch of a server configuration: which faults, whether they are active now,
/// and the seeded RNG deciding when they strike. Cloning shares the switch; the default
/// injects nothing and costs nothing.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    inner: Option<Arc<Inner>>,
}

impl PartialEq for Faults {
    /// Two handles are equal when they share one switch (or both inject nothing).
    fn eq(&self, other: &Self) -> bool {
        match (&self.inner, &other.inner) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for Faults {}

impl Faults {
    /// No faults.
    pub fn none() -> Self {
        Self::default()
    }

    /// `specs`, active from now on, decided by an RNG seeded with `seed`. An empty list is
    /// the same as [`Faults::none`].
    pub fn new(specs: Vec<FaultSpec>, seed: u64) -> Self {
        if specs.is_empty() {
            return Self::none();
        }
        Self {
            inner: Some(Arc::new(Inner {
                specs,
                enabled: AtomicBool::new(true),
                until: Mutex::new(None),
                rng: Mutex::new(StdRng::seed_from_u64(seed)),
                injected: AtomicU64::new(0),
            })),
        }
    }

    /// One fault on every request (or connection), seed 0.
    pub fn always(kind: FaultKind) -> Self {
        Self::new(vec![FaultSpec::always(kind)], 0)
    }

    /// The configured faults.
    pub fn specs(&self) -> &[FaultSpec] {
        self.inner.as_deref().map(|i| i.specs.as_slice()).unwrap_or_default()
    }

    /// Turns the faults on or off (on also clears a [`stop_after`](Self::stop_after) limit).
    pub fn set_enabled(&self, on: bool) {
        if let Some(i) = &self.inner {
            if on {
                *i.until.lock().unwrap_or_else(PoisonError::into_inner) = None;
            }
            i.enabled.store(on, Ordering::SeqCst);
        }
    }

    /// Keeps the faults active only for `d` from now.
    pub fn stop_after(&self, d: Duration) {
        if let Some(i) = &self.inner {
            let now = Instant::now();
            *i.until.lock().unwrap_or_else(PoisonError::into_inner) = Some(now.checked_add(d).unwrap_or(now));
        }
    }

    /// Whether faults strike now.
    pub fn is_active(&self) -> bool {
        let Some(i) = &self.inner else { return false };
        if !i.enabled.load(Ordering::SeqCst) {
            return false;
        }
        match *i.until.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(t) => Instant::now() < t,
            None => true,
        }
    }

    /// How many faults have been injected so far.
    pub fn injected(&self) -> u64 {
        self.inner.as_deref().map_or(0, |i| i.injected.load(Ordering::Relaxed))
    }

    /// Rolls the dice for `spec` (with the RNG lock held by the caller).
    fn strikes(rng: &mut StdRng, spec: &FaultSpec) -> bool {
        spec.rate >= 1.0 || (spec.rate > 0.0 && rng.gen_bool(spec.rate))
    }

    fn active_inner(&self) -> Option<&Inner> {
        if self.is_active() {
            self.inner.as_deref()
        } else {
            None
        }
    }

    /// The fault for a newly accepted connection, if any.
    pub(crate) fn on_connection(&self) -> Option<ConnFault> {
        let i = self.active_inner()?;
        let mut rng = i.rng.lock().unwrap_or_else(PoisonError::into_inner);
        for spec in i.specs.iter().filter(|s| s.kind.is_connection_level()) {
            if Self::strikes(&mut rng, spec) {
                i.injected.fetch_add(1, Ordering::Relaxed);
                return Some(match spec.kind {
                    FaultKind::Refuse => ConnFault::Refuse,
                    _ => ConnFault::AcceptNoRead,
                });
            }
        }
        None
    }

    /// The faults for one request (TCP frame or command, or datagram). For datagrams the
    /// connection-level kinds count as `no-reply`.
    pub(crate) fn on_request(&self, datagram: bool) -> RequestFaults {
        let mut out = RequestFaults::default();
        let Some(i) = self.active_inner() else { return out };
        let mut rng = i.rng.lock().unwrap_or_else(PoisonError::into_inner);
        for spec in &i.specs {
            if spec.kind.is_connection_level() && !datagram {
                continue;
            }
            if out.action.is_some() && !matches!(spec.kind, FaultKind::Delay(_)) {
                continue;
            }
            if !Self::strikes(&mut rng, spec) {
                continue;
            }
            i.injected.fetch_add(1, Ordering::Relaxed);
            let action = match spec.kind {
                FaultKind::Delay(d) => {
                    out.delay = Some(out.delay.unwrap_or_default() + d);
                    continue;
                }
                FaultKind::NoReply | FaultKind::Refuse | FaultKind::AcceptNoRead => Action::NoReply,
                FaultKind::CloseMidFrame => Action::CloseMidFrame,
                FaultKind::SplitWrites => Action::SplitWrites,
                FaultKind::Garbage => Action::Garbage,
                FaultKind::BadLength => Action::BadLength,
                FaultKind::HugeLength => Action::HugeLength,
                FaultKind::WrongReply => Action::WrongReply,
                FaultKind::Reboot => Action::Reboot,
            };
            out.action = Some(action);
        }
        out
    }

    /// Waits `max`, or less if the faults are switched off meanwhile (checked every 100 ms):
    /// how long an `accept-no-read` connection is held, so that stalled connections do not
    /// outlive the fault and keep the connection limit full.
    pub(crate) async fn hold(&self, max: Duration) {
        const POLL: Duration = Duration::from_millis(100);
        let end = tokio::time::Instant::now() + max.min(Duration::from_secs(86_400));
        while self.is_active() {
            let now = tokio::time::Instant::now();
            if now >= end {
                return;
            }
            tokio::time::sleep_until(end.min(now + POLL)).await;
        }
    }

    /// `len` random bytes (garbage replies), none of them `{`, `+`, CR or LF, so that they
    /// can never pass for a JSON object, an AT reply or a line ending.
    pub(crate) fn garbage(&self, len: usize) -> Vec<u8> {
        let mut bytes = vec![0u8; len];
        match self.inner.as_deref() {
            Some(i) => i.rng.lock().unwrap_or_else(PoisonError::into_inner).fill(bytes.as_mut_slice()),
            None => rand::thread_rng().fill(bytes.as_mut_slice()),
        }
        for b in &mut bytes {
            if matches!(*b, b'{' | b'+' | b'\r' | b'\n' | b'[' | b'"') || b.is_ascii_digit() {
                *b = b'#';
            }
        }
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kinds_rates_and_values() {
        let s: FaultSpec = "no-reply".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s, FaultSpec { kind: FaultKind::NoReply, rate: 1.0 });
        let s: FaultSpec = "garbage:0.5".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s, FaultSpec { kind: FaultKind::Garbage, rate: 0.5 });
        let s: FaultSpec = "delay=1500:0.25".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s, FaultSpec { kind: FaultKind::Delay(Duration::from_millis(1500)), rate: 0.25 });
        let s: FaultSpec = "delay".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.kind, FaultKind::Delay(DEFAULT_DELAY));
        for k in FaultKind::ALL {
            let back: FaultSpec = k.to_string().parse().unwrap_or_else(|e| panic!("{k}: {e}"));
            assert_eq!(back.kind, k);
        }
        assert_eq!("garbage:0.5".parse::<FaultSpec>().map(|s| s.to_string()), Ok("garbage:0.5".to_string()));
    }

    #[test]
    fn parse_errors_are_clear() {
        let e = "explode".parse::<FaultSpec>().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.starts_with("unknown fault `explode`; kinds: delay, no-reply"), "{e}");
        let e = "garbage:1.5".parse::<FaultSpec>().err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(e, "fault rate `1.5` is not a number between 0 and 1");
        let e = "garbage:x".parse::<FaultSpec>().err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(e, "fault rate `x` is not a number between 0 and 1");
        let e = "delay=soon".parse::<FaultSpec>().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("whole milliseconds"), "{e}");
        let e = "reboot=5".parse::<FaultSpec>().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains("takes no value"), "{e}");
    }

    #[test]
    fn switch_rate_and_seed() {
        let f = Faults::new(vec!["garbage:0.5".parse().unwrap_or_else(|e| panic!("{e}"))], 7);
        let rolls: Vec<bool> = (0..200).map(|_| f.on_request(false).action.is_some()).collect();
        let hits = rolls.iter().filter(|x| **x).count();
        assert!((40..160).contains(&hits), "{hits} of 200");
        assert_eq!(f.injected(), hits as u64);
        // same seed, same decisions
        let g = Faults::new(f.specs().to_vec(), 7);
        let again: Vec<bool> = (0..200).map(|_| g.on_request(false).action.is_some()).collect();
        assert_eq!(rolls, again);
        f.set_enabled(false);
        assert!(!f.is_active());
        assert_eq!(f.on_request(false), RequestFaults::default());
        f.set_enabled(true);
        f.stop_after(Duration::ZERO);
        assert!(!f.is_active());
        assert_eq!(Faults::none().on_connection(), None);
        assert_ne!(f, g);
        assert_eq!(f.clone(), f);
    }

    #[test]
    fn connection_level_kinds() {
        let f = Faults::always(FaultKind::Refuse);
        assert_eq!(f.on_connection(), Some(ConnFault::Refuse));
        assert_eq!(f.on_request(false).action, None);
        assert_eq!(f.on_request(true).action, Some(Action::NoReply));
        let f = Faults::new(
            vec![
                FaultSpec::always(FaultKind::Delay(Duration::from_millis(5))),
                FaultSpec::always(FaultKind::Garbage),
            ],
            1,
        );
        let r = f.on_request(false);
        assert_eq!((r.delay, r.action), (Some(Duration::from_millis(5)), Some(Action::Garbage)));
        assert!(f.garbage(500).iter().all(|b| !matches!(*b, b'{' | b'+' | b'\r' | b'\n')));
    }
}
