//! Replies on the TCP 8899 control channel (hf-protocol.md §1.2, §2.1, §2.6):
//! `+ok`, `+ok=<csv>`, `+ERROR`, and the Hi-Flying style `+ERR=<code>`.
//!
//! Decoding is lenient the way working clients are: surrounding whitespace, `\r\n` and NULs
//! are ignored, `+ok`/`+OK`/`+error`/`+ERROR` are matched ignoring case, and when one read
//! returns several lines the **first line wins**. That last rule covers the captured quirk
//! where a switch-OFF was answered `+ok` followed by a second line `+error` in the same read
//! (cfxtby capture, §2.6): it decodes as [`Reply::Ok`], and [`parse_detailed`] hands the
//! extra `+error` line back for logging.

use std::fmt;

use crate::hf::text::{is_prefix_ci, lines, preview, strip_prefix_ci, text, trim_line};

/// Recommended line ending after a reply (§1.2 \[G\]: every known client tolerates it).
pub const REPLY_TERMINATOR: &str = "\r\n";

/// What the captured quirk appends after `+ok` (§2.6): a second, lower-case error line. An
/// emulator may append it to reproduce the capture.
pub const CAPTURED_QUIRK_TRAILER: &str = "\r\n+error";

/// A decoded control reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Reply {
    /// `+ok`: the command was carried out.
    Ok,
    /// `+ok=<value>`: success with a value (the `AT+YZOUT` CSV); the text after `=`.
    OkValue(String),
    /// `+ERROR`: unknown or invalid input.
    Error,
    /// `+ERR=<code>`: a Hi-Flying error code (−1…−5, see
    /// [`HfError`](crate::hf::assist::HfError)).
    Err(i32),
}

/// How an encoded reply ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LineEnding {
    /// `\r\n` after the reply (the recommended default, §1.2 \[G\]).
    #[default]
    CrLf,
    /// Nothing: the bare text, as the captures show it.
    None,
}

/// A control reply that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// Nothing but whitespace (or nothing at all) was received.
    #[error("empty reply")]
    Empty,
    /// The reply stops before it is complete: `+o`, `+ERR`, or a `+ok=`/`+ERR=` with nothing
    /// after the `=`.
    #[error("truncated reply {0:?}")]
    Truncated(String),
    /// `+ERR=` followed by something that is not an integer.
    #[error("reply +ERR= carries a non-numeric error code {0:?}")]
    BadErrorCode(String),
    /// Anything else.
    #[error("unrecognised reply {0:?} (expected +ok, +ok=<value>, +ERROR or +ERR=<code>)")]
    Garbage(String),
}

/// A reply together with the lines that followed it in the same read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedReply {
    /// The reply on the first non-empty line (it wins).
    pub reply: Reply,
    /// The other non-empty lines, trimmed and verbatim (e.g. `+error` in the §2.6 quirk).
    pub extra_lines: Vec<String>,
}

impl Reply {
    /// Decodes what one read returned. The first non-empty line decides; see the module docs.
    pub fn parse(input: &[u8]) -> Result<Self, ReplyError> {
        parse_detailed(input).map(|p| p.reply)
    }

    /// Whether the device reported success (`+ok` or `+ok=…`).
    pub fn is_ok(&self) -> bool {
        matches!(self, Self::Ok | Self::OkValue(_))
    }

    /// The reply text without line ending (`+ok`, `+ok=…`, `+ERROR`, `+ERR=-2`).
    pub fn to_wire(&self) -> String {
        self.to_string()
    }

    /// The reply as an emulator sends it, in one segment.
    pub fn encode(&self, ending: LineEnding) -> String {
        match ending {
            LineEnding::CrLf => format!("{self}{REPLY_TERMINATOR}"),
            LineEnding::None => self.to_string(),
        }
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ok => f.write_str("+ok"),
            Self::OkValue(v) => write!(f, "+ok={v}"),
            Self::Error => f.write_str("+ERROR"),
            Self::Err(code) => write!(f, "+ERR={code}"),
        }
    }
}

/// Decodes what one read returned and keeps the lines after the first.
pub fn parse_detailed(input: &[u8]) -> Result<ParsedReply, ReplyError> {
    let text = text(input);
    let mut non_empty = lines(&text).map(trim_line).filter(|l| !l.is_empty());
    let first = non_empty.next().ok_or(ReplyError::Empty)?;
    let reply = parse_line(first)?;
    Ok(ParsedReply { reply, extra_lines: non_empty.map(str::to_string).collect() })
}

/// Decodes one trimmed, non-empty reply line.
fn parse_line(line: &str) -> Result<Reply, ReplyError> {
    if let Some(rest) = strip_prefix_ci(line, "+ok") {
        return match rest.strip_prefix('=') {
            None if rest.is_empty() => Ok(Reply::Ok),
            Some("") => Err(ReplyError::Truncated(preview(line))),
            Some(value) => Ok(Reply::OkValue(value.to_string())),
            None => Err(ReplyError::Garbage(preview(line))),
        };
    }
    if line.eq_ignore_ascii_case("+error") {
        return Ok(Reply::Error);
    }
    if let Some(code) = strip_prefix_ci(line, "+err=") {
        return parse_err_code(code).map(Reply::Err);
    }
    if is_prefix_ci(line, "+ok") || is_prefix_ci(line, "+error") {
        return Err(ReplyError::Truncated(preview(line)));
    }
    Err(ReplyError::Garbage(preview(line)))
}

/// The integer after `+ERR=` (spaces around it tolerated).
pub(crate) fn parse_err_code(code: &str) -> Result<i32, ReplyError> {
    let code = trim_line(code);
    if code.is_empty() {
        return Err(ReplyError::Truncated("+ERR=".into()));
    }
    code.parse().map_err(|_| ReplyError::BadErrorCode(preview(code)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reference_vectors() {
        // §5.6: 2B 6F 6B 0D 0A
        assert_eq!(Reply::parse(&[0x2B, 0x6F, 0x6B, 0x0D, 0x0A]), Ok(Reply::Ok));
        assert_eq!(Reply::Ok.encode(LineEnding::CrLf).as_bytes(), [0x2B, 0x6F, 0x6B, 0x0D, 0x0A]);
        assert_eq!(Reply::parse(b"+ok"), Ok(Reply::Ok));
        assert_eq!(
            Reply::parse(b"+ok=3,22694,5007,0,0,3548,0\r\n"),
            Ok(Reply::OkValue("3,22694,5007,0,0,3548,0".into()))
        );
        assert_eq!(Reply::parse(b"+ERROR\r\n"), Ok(Reply::Error));
        assert_eq!(Reply::Error.encode(LineEnding::CrLf), "+ERROR\r\n");
        assert_eq!(Reply::Error.encode(LineEnding::None), "+ERROR");
        assert_eq!(Reply::Err(-2).to_wire(), "+ERR=-2");
    }

    #[test]
    fn tolerant_of_case_and_whitespace() {
        for input in [&b"+OK"[..], b"+Ok\r\n", b"  +ok \t\r\n", b"\0+ok\0", b"\r\n+ok\r\n\r\n"] {
            assert_eq!(Reply::parse(input), Ok(Reply::Ok), "{input:?}");
        }
        assert_eq!(Reply::parse(b"+error"), Ok(Reply::Error));
        assert_eq!(Reply::parse(b"+ErRoR\n"), Ok(Reply::Error));
        assert_eq!(Reply::parse(b"+ERR=-3\r\n\r\n"), Ok(Reply::Err(-3)));
        assert_eq!(Reply::parse(b"+err= -1 "), Ok(Reply::Err(-1)));
        assert_eq!(Reply::parse(b"+OK=x"), Ok(Reply::OkValue("x".into())));
    }

    #[test]
    fn captured_quirk_first_line_wins() {
        // §2.6: one read returned "+ok" and "+error"
        let p = parse_detailed(b"+ok\r\n+error").unwrap();
        assert_eq!(p.reply, Reply::Ok);
        assert_eq!(p.extra_lines, vec!["+error".to_string()]);
        assert_eq!(Reply::parse(format!("+ok{CAPTURED_QUIRK_TRAILER}").as_bytes()), Ok(Reply::Ok));
        assert_eq!(
            Reply::parse(b"+ok=1,2,3,4,5,6,7\r\n+error\r\n"),
            Ok(Reply::OkValue("1,2,3,4,5,6,7".into()))
        );
        assert!(parse_detailed(b"+ok").unwrap().extra_lines.is_empty());
    }

    #[test]
    fn malformed_replies() {
        assert_eq!(Reply::parse(b""), Err(ReplyError::Empty));
        assert_eq!(Reply::parse(b" \r\n\0\t"), Err(ReplyError::Empty));
        for t in
            [&b"+"[..], b"+o", b"+O", b"+E", b"+ERR", b"+erro", b"+ok=", b"+ok=\r\n", b"+ERR=", b"+ERR= "]
        {
            assert!(matches!(Reply::parse(t), Err(ReplyError::Truncated(_))), "{t:?}");
        }
        assert_eq!(Reply::parse(b"+ok=").unwrap_err().to_string(), "truncated reply \"+ok=\"");
        for g in
            [&b"HELLO"[..], b"ok", b"+okay", b"+ok =1", b"+ERRORS", b"GET / HTTP/1.1", b"\xff\xfe+ok", b"-ok"]
        {
            assert!(matches!(Reply::parse(g), Err(ReplyError::Garbage(_))), "{g:?}");
        }
        assert_eq!(
            Reply::parse(b"HELLO\r\n").unwrap_err().to_string(),
            "unrecognised reply \"HELLO\" (expected +ok, +ok=<value>, +ERROR or +ERR=<code>)"
        );
        assert_eq!(Reply::parse(b"+ERR=x"), Err(ReplyError::BadErrorCode("x".into())));
        assert_eq!(Reply::parse(b"+ERR=99999999999"), Err(ReplyError::BadErrorCode("99999999999".into())));
        // long garbage is quoted shortened
        let long = Reply::parse(&[b'x'; 10_000]).unwrap_err().to_string();
        assert!(long.len() < 200, "{long}");
    }

    fn reply() -> impl Strategy<Value = Reply> {
        prop_oneof![
            Just(Reply::Ok),
            Just(Reply::Error),
            any::<i32>().prop_map(Reply::Err),
            "[!-~][ -~]{0,40}[!-~]|[!-~]".prop_map(Reply::OkValue),
        ]
    }

    proptest! {
        #[test]
        fn round_trip(r in reply(), crlf: bool, quirk: bool) {
            let mut wire = r.encode(if crlf { LineEnding::CrLf } else { LineEnding::None });
            if quirk {
                wire.push_str(CAPTURED_QUIRK_TRAILER);
            }
            prop_assert_eq!(Reply::parse(wire.as_bytes()), Ok(r));
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse_detailed(&bytes);
        }

        #[test]
        fn never_panics_near_valid(s in "[+oOkKeErR=\\-0-9\r\n \0é]{0,12}") {
            let _ = Reply::parse(s.as_bytes());
        }
    }
}
