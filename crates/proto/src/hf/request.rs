//! Server side of TCP 8899 (hf-protocol.md §5.2): turning what a client sent into control
//! requests, for the emulator.
//!
//! Rules (decisions marked \[G\] in hf-protocol.md are made as §5.2 recommends):
//! - lines end at `\r\n`, `\r` or `\n`; a segment without terminator is one command;
//! - NUL, tab and spaces at the ends of a line are stripped, empty lines are skipped (they
//!   get no reply);
//! - `AT+` and the verb are matched ignoring case; arguments are split at `,` and each is
//!   trimmed of spaces/tabs;
//! - the outlet is an integer ≥ 1 (the upper bound is the emulator's outlet count);
//!   `ON`/`OFF` in any case; `AT+YZDELAY` minutes are 1..=2000;
//! - the timestamp is **not** validated: anything (empty, missing, `time`,
//!   `2018AugMon1640`, 14 digits, even text containing commas) is accepted and kept
//!   verbatim; [`ControlRequest::client_time`] reads it when it is 12 or 14 digits;
//! - `AT+YZOUT` takes no arguments (`AT+YZOUT=1` is unknown);
//! - everything else is [`ControlRequest::Unknown`], to be answered `+ERROR`.

use crate::hf::command::{Command, DelayMinutes, Outlet, Timestamp};
use crate::hf::text::{all_digits, preview, strip_prefix_ci, text, trim_field, trim_line};
use crate::hf::MAX_LINE;

/// A decoded control request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ControlRequest {
    /// `AT+YZSWITCH=<outlet>,ON|OFF[,<timestamp>]`.
    Switch {
        /// The outlet (≥ 1; not checked against the device's outlet count).
        outlet: Outlet,
        /// Target state.
        on: bool,
        /// The timestamp argument verbatim; `None` when the client sent none.
        timestamp: Option<String>,
    },
    /// `AT+YZDELAY=<outlet>,ON|OFF,<minutes>[,<timestamp>]`.
    Delay {
        /// The outlet (≥ 1).
        outlet: Outlet,
        /// State to set when the countdown ends.
        on: bool,
        /// The countdown, 1..=2000 minutes.
        minutes: DelayMinutes,
        /// The timestamp argument verbatim; `None` when the client sent none.
        timestamp: Option<String>,
    },
    /// `AT+YZOUT`.
    Measure,
    /// Anything else (the trimmed line, lossily decoded); the device answers `+ERROR`.
    Unknown(String),
}

/// Why a line is not a valid control request (the detail behind
/// [`ControlRequest::Unknown`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Nothing but whitespace.
    #[error("empty command")]
    Empty,
    /// The line does not start with `AT+`.
    #[error("{0:?} is not an AT+ command")]
    NotAt(String),
    /// `AT+<verb>` with a verb this firmware does not have.
    #[error("unknown command AT+{0}")]
    UnknownVerb(String),
    /// Arguments given to a command that takes none.
    #[error("AT+{0} takes no arguments")]
    UnexpectedArgs(&'static str),
    /// Required arguments are missing.
    #[error("AT+{verb} needs {expected}")]
    MissingArgs {
        /// The command.
        verb: &'static str,
        /// Its argument list, for the message.
        expected: &'static str,
    },
    /// The outlet is not an integer ≥ 1.
    #[error("outlet {0:?} is not an integer ≥ 1")]
    Outlet(String),
    /// The state is not `ON` or `OFF`.
    #[error("state {0:?} is not ON or OFF")]
    State(String),
    /// The delay is not an integer in 1..=2000.
    #[error("delay {0:?} is not a whole number of minutes in 1..=2000")]
    Minutes(String),
}

const SWITCH_ARGS: &str = "<outlet>,ON|OFF,<timestamp>";
const DELAY_ARGS: &str = "<outlet>,ON|OFF,<minutes>,<timestamp>";

impl ControlRequest {
    /// Decodes one line (terminator optional); invalid input becomes
    /// [`ControlRequest::Unknown`]. Returns `None` for an empty line.
    pub fn parse_line(line: &str) -> Option<Self> {
        match Self::try_parse_line(line) {
            Ok(req) => Some(req),
            Err(RequestError::Empty) => None,
            Err(_) => Some(Self::Unknown(trim_line(line).to_string())),
        }
    }

    /// Decodes one line, explaining why it is invalid. Never returns
    /// [`ControlRequest::Unknown`].
    pub fn try_parse_line(line: &str) -> Result<Self, RequestError> {
        let line = trim_line(line);
        if line.is_empty() {
            return Err(RequestError::Empty);
        }
        let rest = strip_prefix_ci(line, "AT+").ok_or_else(|| RequestError::NotAt(preview(line)))?;
        let (verb, args) = match rest.split_once('=') {
            Some((verb, args)) => (verb, Some(args)),
            None => (rest, None),
        };
        if verb.eq_ignore_ascii_case("YZOUT") {
            return match args {
                None => Ok(Self::Measure),
                Some(_) => Err(RequestError::UnexpectedArgs("YZOUT")),
            };
        }
        if verb.eq_ignore_ascii_case("YZSWITCH") {
            let missing = || RequestError::MissingArgs { verb: "YZSWITCH", expected: SWITCH_ARGS };
            let mut it = args.ok_or_else(missing)?.splitn(3, ',');
            let outlet = parse_outlet(it.next().unwrap_or_default())?;
            let on = parse_state(it.next().ok_or_else(missing)?)?;
            let timestamp = it.next().map(str::to_string);
            return Ok(Self::Switch { outlet, on, timestamp });
        }
        if verb.eq_ignore_ascii_case("YZDELAY") {
            let missing = || RequestError::MissingArgs { verb: "YZDELAY", expected: DELAY_ARGS };
            let mut it = args.ok_or_else(missing)?.splitn(4, ',');
            let outlet = parse_outlet(it.next().unwrap_or_default())?;
            let on = parse_state(it.next().ok_or_else(missing)?)?;
            let minutes = parse_minutes(it.next().ok_or_else(missing)?)?;
            let timestamp = it.next().map(str::to_string);
            return Ok(Self::Delay { outlet, on, minutes, timestamp });
        }
        Err(RequestError::UnknownVerb(preview(verb)))
    }

    /// The client's timestamp when it is a valid 12- or 14-digit date (§2.2: informational,
    /// an emulator may record it as "last client time").
    pub fn client_time(&self) -> Option<Timestamp> {
        match self {
            Self::Switch { timestamp: Some(t), .. } | Self::Delay { timestamp: Some(t), .. } => {
                Timestamp::parse(trim_field(t)).ok()
            }
            _ => None,
        }
    }
}

impl From<&Command> for ControlRequest {
    /// What the server decodes when a client sends `cmd`.
    fn from(cmd: &Command) -> Self {
        match *cmd {
            Command::Switch { outlet, on, timestamp } => {
                Self::Switch { outlet, on, timestamp: Some(timestamp.to_string()) }
            }
            Command::Measure => Self::Measure,
            Command::Delay { outlet, on, minutes, timestamp } => {
                Self::Delay { outlet, on, minutes, timestamp: Some(timestamp.to_string()) }
            }
        }
    }
}

fn parse_outlet(field: &str) -> Result<Outlet, RequestError> {
    let f = trim_field(field);
    let bad = || RequestError::Outlet(preview(f));
    if !all_digits(f) {
        return Err(bad());
    }
    f.parse::<u16>().ok().and_then(|n| Outlet::new(n).ok()).ok_or_else(bad)
}

fn parse_state(field: &str) -> Result<bool, RequestError> {
    let f = trim_field(field);
    if f.eq_ignore_ascii_case("on") {
        Ok(true)
    } else if f.eq_ignore_ascii_case("off") {
        Ok(false)
    } else {
        Err(RequestError::State(preview(f)))
    }
}

fn parse_minutes(field: &str) -> Result<DelayMinutes, RequestError> {
    let f = trim_field(field);
    let bad = || RequestError::Minutes(preview(f));
    if !all_digits(f) {
        return Err(bad());
    }
    f.parse::<u32>().ok().and_then(|m| DelayMinutes::new(m).ok()).ok_or_else(bad)
}

/// Decodes one received segment with the device's semantics: every line is a command, and
/// a last line without terminator is one too. Empty lines are skipped. Lines longer than
/// [`MAX_LINE`] become [`ControlRequest::Unknown`] (see [`ControlStream`]).
pub fn parse_segment(segment: &[u8]) -> Vec<ControlRequest> {
    let mut stream = ControlStream::new(MAX_LINE);
    let mut out = stream.push(segment);
    out.extend(stream.flush());
    out
}

/// Per-connection line reassembler for TCP 8899 (§5.2 step 2), sans I/O.
///
/// Feed each received chunk to [`push`](Self::push), which returns the requests of the
/// terminated lines. What remains without terminator is [`pending`](Self::pending): the
/// device takes a segment as a whole command, so the emulator should
/// [`flush`](Self::flush) it at once when [`pending_is_complete`](Self::pending_is_complete)
/// (e.g. `AT+YZOUT` sent without newline), and otherwise after a short reassembly window
/// (≈100–200 ms, \[G\]) so that `AT+YZ` | `OUT\r\n` still parses. Time is the caller's
/// business.
///
/// A line longer than the cap yields one [`ControlRequest::Unknown`] holding its first
/// `max_line` bytes; the rest of it, up to the next terminator, is dropped. Memory stays
/// bounded by the cap whatever the peer sends.
#[derive(Debug, Clone)]
pub struct ControlStream {
    buf: Vec<u8>,
    max_line: usize,
    discarding: bool,
}

impl Default for ControlStream {
    fn default() -> Self {
        Self::new(MAX_LINE)
    }
}

impl ControlStream {
    /// A reassembler that caps lines at `max_line` bytes ([`MAX_LINE`] by default).
    pub fn new(max_line: usize) -> Self {
        Self { buf: Vec::new(), max_line: max_line.max(1), discarding: false }
    }

    /// Appends received bytes; returns the requests of the lines they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<ControlRequest> {
        let mut out = Vec::new();
        for &b in bytes {
            if b == b'\r' || b == b'\n' {
                if self.discarding {
                    self.discarding = false;
                } else {
                    out.extend(self.take_line());
                }
            } else if self.discarding {
                // rest of an overlong line
            } else if self.buf.len() >= self.max_line {
                out.push(ControlRequest::Unknown(text(&self.buf).into_owned()));
                self.buf.clear();
                self.discarding = true;
            } else {
                self.buf.push(b);
            }
        }
        out
    }

    /// Bytes received after the last terminator.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    /// Whether the pending bytes already form a valid command (so waiting for more is
    /// pointless).
    pub fn pending_is_complete(&self) -> bool {
        !self.discarding && ControlRequest::try_parse_line(&text(&self.buf)).is_ok()
    }

    /// Takes the pending bytes as one command (end of segment or of the reassembly window).
    /// `None` if nothing but whitespace is pending.
    pub fn flush(&mut self) -> Option<ControlRequest> {
        self.discarding = false;
        self.take_line()
    }

    fn take_line(&mut self) -> Option<ControlRequest> {
        let req = ControlRequest::parse_line(&text(&self.buf));
        self.buf.clear();
        req
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn switch(on: bool, ts: Option<&str>) -> ControlRequest {
        ControlRequest::Switch { outlet: Outlet::FIRST, on, timestamp: ts.map(str::to_string) }
    }

    fn one(s: &str) -> ControlRequest {
        let v = parse_segment(s.as_bytes());
        assert_eq!(v.len(), 1, "{s:?} gave {v:?}");
        v.into_iter().next().unwrap()
    }

    fn unknown(s: &str) -> bool {
        matches!(one(s), ControlRequest::Unknown(_))
    }

    #[test]
    fn reference_vectors() {
        // §5.6, byte-exact
        let sw = b"\x41\x54\x2B\x59\x5A\x53\x57\x49\x54\x43\x48\x3D\x31\x2C\x4F\x4E\x2C\x32\x30\x31\x37\x30\x34\x30\x33\x31\x31\x35\x33\x0D\x0A";
        assert_eq!(parse_segment(sw), vec![switch(true, Some("201704031153"))]);
        assert_eq!(parse_segment(b"\x41\x54\x2B\x59\x5A\x4F\x55\x54\x0D\x0A"), vec![ControlRequest::Measure]);
        let dl = b"\x41\x54\x2B\x59\x5A\x44\x45\x4C\x41\x59\x3D\x31\x2C\x4F\x4E\x2C\x35\x2C\x32\x30\x31\x38\x30\x35\x30\x31\x31\x32\x30\x30\x0D\x0A";
        assert_eq!(
            parse_segment(dl),
            vec![ControlRequest::Delay {
                outlet: Outlet::FIRST,
                on: true,
                minutes: DelayMinutes::new(5).unwrap(),
                timestamp: Some("201805011200".into()),
            }]
        );
        assert_eq!(parse_segment(b"HELLO\r\n"), vec![ControlRequest::Unknown("HELLO".into())]);
        // capture: AT+YZOUT\n
        assert_eq!(parse_segment(b"AT+YZOUT\n"), vec![ControlRequest::Measure]);
    }

    #[test]
    fn terminators_of_real_clients() {
        let want = switch(true, Some("201704031153"));
        for t in ["", "\r\n", "\n", "\r", "\r\t", "\0", "\r\n\0", " ", "\t"] {
            assert_eq!(
                parse_segment(format!("AT+YZSWITCH=1,ON,201704031153{t}").as_bytes()),
                vec![want.clone()],
                "{t:?}"
            );
        }
        // the literal "<CR><LF>" suffix ends up in the (unchecked) timestamp
        assert_eq!(one("AT+YZSWITCH=1,ON,201704031153<CR><LF>"), switch(true, Some("201704031153<CR><LF>")));
    }

    #[test]
    fn states_and_timestamps() {
        for s in ["on", "On", "oN", "ON", " on "] {
            assert_eq!(one(&format!("AT+YZSWITCH=1,{s},201704031153")), switch(true, Some("201704031153")));
        }
        assert_eq!(one("AT+YZSWITCH=1,off,x"), switch(false, Some("x")));
        assert_eq!(one("AT+YZSWITCH=1,ON,"), switch(true, Some("")));
        assert_eq!(one("AT+YZSWITCH=1,ON"), switch(true, None));
        assert_eq!(one("AT+YZSWITCH=1,ON,time"), switch(true, Some("time")));
        assert_eq!(one("AT+YZSWITCH=1,ON,2018AugMon1640"), switch(true, Some("2018AugMon1640")));
        let r = one("AT+YZSWITCH=1,ON,20140712143012");
        assert_eq!(r, switch(true, Some("20140712143012")));
        assert_eq!(r.client_time().unwrap().to_string(), "201407121430");
        assert_eq!(one("AT+YZSWITCH=1,ON,time").client_time(), None);
        assert_eq!(one("AT+YZSWITCH=1,ON").client_time(), None);
        assert_eq!(one("AT+YZSWITCH=1,ON,2017,extra"), switch(true, Some("2017,extra")));
        assert_eq!(one("at+yzswitch=1,ON,1"), switch(true, Some("1")));
        assert!(unknown("AT+YZSWITCH=1,ONN,201704031153"));
        assert!(unknown("AT+YZSWITCH=1,,201704031153"));
        assert!(unknown("AT+YZSWITCH=1"));
        assert!(unknown("AT+YZSWITCH="));
        assert!(unknown("AT+YZSWITCH"));
    }

    #[test]
    fn outlets() {
        let sw = |o: &str| one(&format!("AT+YZSWITCH={o},ON,201704031153"));
        assert_eq!(
            sw("2"),
            ControlRequest::Switch {
                outlet: Outlet::new(2).unwrap(),
                on: true,
                timestamp: Some("201704031153".into())
            }
        );
        assert_eq!(sw("01"), switch(true, Some("201704031153")));
        for bad in ["0", "x", "-1", "", "+1", "1.0", "65536", "１"] {
            assert!(matches!(sw(bad), ControlRequest::Unknown(_)), "{bad}");
        }
        assert_eq!(
            ControlRequest::try_parse_line("AT+YZSWITCH=0,ON,1").unwrap_err().to_string(),
            "outlet \"0\" is not an integer ≥ 1"
        );
    }

    #[test]
    fn delays() {
        let d = |m: &str| ControlRequest::try_parse_line(&format!("AT+YZDELAY=1,ON,{m},201805011200"));
        assert!(matches!(d("1"), Ok(ControlRequest::Delay { .. })));
        assert!(matches!(d("2000"), Ok(ControlRequest::Delay { .. })));
        for bad in ["0", "2001", "-5", "abc", "", "99999999999"] {
            assert!(matches!(d(bad), Err(RequestError::Minutes(_))), "{bad}");
        }
        assert_eq!(
            d("2001").unwrap_err().to_string(),
            "delay \"2001\" is not a whole number of minutes in 1..=2000"
        );
        assert_eq!(
            one("AT+YZDELAY=1,off,5"),
            ControlRequest::Delay {
                outlet: Outlet::FIRST,
                on: false,
                minutes: DelayMinutes::new(5).unwrap(),
                timestamp: None
            }
        );
        assert_eq!(
            ControlRequest::try_parse_line("AT+YZDELAY=1,ON").unwrap_err().to_string(),
            "AT+YZDELAY needs <outlet>,ON|OFF,<minutes>,<timestamp>"
        );
        assert!(unknown("AT+YZDELAY=1"));
        assert!(unknown("AT+YZDELAY"));
    }

    #[test]
    fn measure_variants() {
        assert_eq!(one("AT+YZOUT"), ControlRequest::Measure);
        assert_eq!(one("at+yzout"), ControlRequest::Measure);
        assert_eq!(one("\0AT+YZOUT\0"), ControlRequest::Measure);
        assert_eq!(one("AT+YZOUT=1"), ControlRequest::Unknown("AT+YZOUT=1".into()));
        assert_eq!(ControlRequest::try_parse_line("AT+YZOUT=1"), Err(RequestError::UnexpectedArgs("YZOUT")));
    }

    #[test]
    fn everything_else_is_unknown() {
        for s in [
            "HF-A11ASSISTHREAD",
            "YZ-RECOSCAN",
            "GET / HTTP/1.1",
            "AT+",
            "AT",
            "AT+YZ",
            "AT+YZOUTX",
            "AT + YZOUT",
            "ATYZOUT",
            "AT+VER",
        ] {
            assert!(unknown(s), "{s}");
        }
        assert_eq!(
            ControlRequest::try_parse_line("AT+VER").unwrap_err().to_string(),
            "unknown command AT+VER"
        );
        assert_eq!(
            ControlRequest::try_parse_line("GET / HTTP/1.1").unwrap_err().to_string(),
            "\"GET / HTTP/1.1\" is not an AT+ command"
        );
        // binary noise: one Unknown per line, lossily decoded
        let v = parse_segment(b"\xff\xfe\x00\x01\nAT+\xff");
        assert_eq!(v.len(), 2);
        assert!(v.iter().all(|r| matches!(r, ControlRequest::Unknown(_))));
        // nothing at all, or only terminators: no request, no reply
        assert!(parse_segment(b"").is_empty());
        assert!(parse_segment(b"\r\n\r\n \t\0").is_empty());
        assert_eq!(ControlRequest::parse_line("  "), None);
    }

    #[test]
    fn two_commands_in_one_segment_and_one_split_in_two() {
        assert_eq!(parse_segment(b"AT+YZOUT\r\nAT+YZOUT\r\n"), vec![ControlRequest::Measure; 2]);
        let mut s = ControlStream::default();
        assert!(s.push(b"AT+YZ").is_empty());
        assert_eq!(s.pending(), b"AT+YZ");
        assert!(!s.pending_is_complete());
        assert_eq!(s.push(b"OUT\r\n"), vec![ControlRequest::Measure]);
        assert!(s.pending().is_empty());
        // unterminated but complete: flush at once
        assert!(s.push(b"AT+YZSWITCH=1,ON,201704031153").is_empty());
        assert!(s.pending_is_complete());
        assert_eq!(s.flush(), Some(switch(true, Some("201704031153"))));
        assert_eq!(s.flush(), None);
        // "\r" at the end of one chunk, "\n" at the start of the next: no empty command
        assert_eq!(s.push(b"AT+YZOUT\r"), vec![ControlRequest::Measure]);
        assert!(s.push(b"\n").is_empty());
        // an incomplete command flushed at the end of the window is Unknown
        s.push(b"AT+YZ");
        assert_eq!(s.flush(), Some(ControlRequest::Unknown("AT+YZ".into())));
    }

    #[test]
    fn overlong_lines_are_capped() {
        let mut s = ControlStream::new(16);
        let out = s.push(&[b'A'; 100]);
        assert_eq!(out, vec![ControlRequest::Unknown("A".repeat(16))]);
        assert!(s.pending().is_empty());
        assert!(!s.pending_is_complete());
        assert!(s.push(&[b'B'; 100]).is_empty());
        assert_eq!(s.push(b"\r\nAT+YZOUT\r\n"), vec![ControlRequest::Measure]);
        // >512-byte line through parse_segment
        let mut long = b"AT+YZSWITCH=1,ON,".to_vec();
        long.extend([b'1'; 600]);
        long.extend(b"\r\nAT+YZOUT");
        let v = parse_segment(&long);
        assert_eq!(v.len(), 2);
        assert!(matches!(&v[0], ControlRequest::Unknown(u) if u.len() == MAX_LINE));
        assert_eq!(v[1], ControlRequest::Measure);
        // a line of exactly the cap is fine
        let mut s = ControlStream::new(8);
        assert_eq!(s.push(b"AT+YZOUT\n"), vec![ControlRequest::Measure]);
    }

    fn command() -> impl Strategy<Value = Command> {
        let ts = (0u16..=9999, 1u8..=12, 1u8..=28, 0u8..=23, 0u8..=59)
            .prop_filter_map("valid date", |(y, mo, d, h, mi)| Timestamp::new(y, mo, d, h, mi).ok());
        let outlet = (1u16..=u16::MAX).prop_filter_map("nonzero", |n| Outlet::new(n).ok());
        let minutes = (1u32..=2000).prop_filter_map("in range", |m| DelayMinutes::new(m).ok());
        prop_oneof![
            Just(Command::Measure),
            (outlet.clone(), any::<bool>(), ts.clone()).prop_map(|(outlet, on, timestamp)| Command::Switch {
                outlet,
                on,
                timestamp
            }),
            (outlet, any::<bool>(), minutes, ts).prop_map(|(outlet, on, minutes, timestamp)| {
                Command::Delay { outlet, on, minutes, timestamp }
            }),
        ]
    }

    fn terminator() -> impl Strategy<Value = &'static str> {
        prop_oneof![Just(""), Just("\r\n"), Just("\r"), Just("\n"), Just("\r\t"), Just("\0"), Just(" \r\n")]
    }

    proptest! {
        #[test]
        fn encode_then_parse(cmd in command(), term in terminator(), lower: bool) {
            let mut line = cmd.line();
            if lower {
                line = line.to_lowercase();
            }
            let got = parse_segment(format!("{line}{term}").as_bytes());
            prop_assert_eq!(got, vec![ControlRequest::from(&cmd)]);
        }

        #[test]
        fn any_split_reassembles(cmds in proptest::collection::vec(command(), 1..5), cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 0..4)) {
            let wire: Vec<u8> = cmds.iter().flat_map(|c| c.encode().into_bytes()).collect();
            let mut at: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
            at.sort_unstable();
            let mut s = ControlStream::default();
            let mut got = Vec::new();
            let mut from = 0;
            for to in at.into_iter().chain([wire.len()]) {
                got.extend(s.push(&wire[from..to]));
                from = to;
            }
            got.extend(s.flush());
            prop_assert_eq!(got, cmds.iter().map(ControlRequest::from).collect::<Vec<_>>());
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128), cap in 1usize..40) {
            let _ = parse_segment(&bytes);
            let mut s = ControlStream::new(cap);
            for chunk in bytes.chunks(7) {
                let _ = s.push(chunk);
                let _ = s.pending_is_complete();
            }
            let _ = s.flush();
        }

        #[test]
        fn never_panics_near_valid(s in "(?i)(at\\+yz(switch|delay|out)=?)?[0-9onf,\\-\r\n\t \0é]{0,30}") {
            for r in parse_segment(s.as_bytes()) {
                let _ = r.client_time();
            }
        }
    }
}
