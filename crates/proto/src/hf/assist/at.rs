//! Hi-Flying AT commands over the assist channel (hf-protocol.md §1.3, §3.2): requests
//! `AT+<CMD>[=<args>]\r`, replies `+ok[=<value>]\r\n\r\n` or `+ERR=<code>\r\n\r\n`.

use std::fmt;

use crate::hf::reply::{parse_err_code, ReplyError};
use crate::hf::text::{is_prefix_ci, preview, strip_prefix_ci, text};

/// What an encoded assist AT request ends with (the Orvibo/HF clients send `\r`; modules
/// also accept `\n` and `\r\n`).
pub const AT_TERMINATOR: &str = "\r";

/// What every assist reply ends with.
pub const AT_REPLY_TERMINATOR: &str = "\r\n\r\n";

/// A Hi-Flying error code (HF manuals, §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HfError {
    /// −1: invalid command format.
    InvalidFormat,
    /// −2: invalid command (unknown verb).
    InvalidCommand,
    /// −3: invalid operation symbol.
    InvalidOperator,
    /// −4: invalid parameter.
    InvalidParameter,
    /// −5: operation not permitted.
    NotPermitted,
    /// Any other code.
    Other(i32),
}

impl HfError {
    /// Classifies a code.
    pub fn from_code(code: i32) -> Self {
        match code {
            -1 => Self::InvalidFormat,
            -2 => Self::InvalidCommand,
            -3 => Self::InvalidOperator,
            -4 => Self::InvalidParameter,
            -5 => Self::NotPermitted,
            other => Self::Other(other),
        }
    }

    /// The wire code.
    pub fn code(self) -> i32 {
        match self {
            Self::InvalidFormat => -1,
            Self::InvalidCommand => -2,
            Self::InvalidOperator => -3,
            Self::InvalidParameter => -4,
            Self::NotPermitted => -5,
            Self::Other(code) => code,
        }
    }

    /// The manual's meaning of the code.
    pub fn meaning(self) -> &'static str {
        match self {
            Self::InvalidFormat => "invalid command format",
            Self::InvalidCommand => "invalid command",
            Self::InvalidOperator => "invalid operation symbol",
            Self::InvalidParameter => "invalid parameter",
            Self::NotPermitted => "operation not permitted",
            Self::Other(_) => "unknown error code",
        }
    }
}

impl fmt::Display for HfError {
    /// `+ERR=-4 (invalid parameter)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+ERR={} ({})", self.code(), self.meaning())
    }
}

impl std::error::Error for HfError {}

/// An AT request that cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AtRequestError {
    /// The verb is empty or has characters other than ASCII letters and digits.
    #[error("AT verb {0:?} must be one or more ASCII letters or digits")]
    Verb(String),
    /// The argument contains CR, LF or NUL, which would end or corrupt the command.
    #[error("AT argument {0:?} contains CR, LF or NUL")]
    Arg(String),
}

/// An assist AT request: `AT+<VERB>` (query) or `AT+<VERB>=<arg>` (set).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AtRequest {
    verb: String,
    arg: Option<String>,
}

impl AtRequest {
    /// `AT+<VERB>`; the verb is upper-cased.
    pub fn query(verb: &str) -> Result<Self, AtRequestError> {
        Ok(Self { verb: check_verb(verb)?, arg: None })
    }

    /// `AT+<VERB>=<arg>`; the verb is upper-cased, the argument kept verbatim.
    pub fn set(verb: &str, arg: &str) -> Result<Self, AtRequestError> {
        if arg.contains(['\r', '\n', '\0']) {
            return Err(AtRequestError::Arg(preview(arg)));
        }
        Ok(Self { verb: check_verb(verb)?, arg: Some(arg.to_string()) })
    }

    /// A request from parts the caller has already validated (verb: upper-case
    /// alphanumerics; argument without CR/LF/NUL).
    pub(crate) fn from_parts(verb: &str, arg: Option<String>) -> Self {
        Self { verb: verb.to_string(), arg }
    }

    /// The verb (upper case).
    pub fn verb(&self) -> &str {
        &self.verb
    }

    /// The argument, if any.
    pub fn arg(&self) -> Option<&str> {
        self.arg.as_deref()
    }

    /// The command without terminator.
    pub fn line(&self) -> String {
        self.to_string()
    }

    /// The datagram to send: the command and `\r`.
    pub fn encode(&self) -> String {
        format!("{self}{AT_TERMINATOR}")
    }
}

impl fmt::Display for AtRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.arg {
            Some(arg) => write!(f, "AT+{}={arg}", self.verb),
            None => write!(f, "AT+{}", self.verb),
        }
    }
}

fn check_verb(verb: &str) -> Result<String, AtRequestError> {
    if verb.is_empty() || !verb.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(AtRequestError::Verb(preview(verb)));
    }
    Ok(verb.to_ascii_uppercase())
}

/// A decoded assist AT reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AtReply {
    /// `+ok` (`None`) or `+ok=<value>` (`Some`, possibly empty or multi-line, as in the
    /// `AT+WSCAN` table).
    Ok(Option<String>),
    /// `+ERR=<code>`.
    Err(HfError),
}

impl AtReply {
    /// Decodes a reply datagram. The `\r\n\r\n` terminator is optional (a lost or trimmed
    /// terminator costs nothing); leading whitespace and trailing `\r`, `\n`, NUL are
    /// ignored, `+ok`/`+OK` and `+ERR`/`+err` match ignoring case. The value keeps inner line
    /// breaks and trailing spaces (an SSID may end with one).
    pub fn parse(datagram: &[u8]) -> Result<Self, ReplyError> {
        let text = text(datagram);
        let s = text
            .trim_start_matches(|c: char| c == '\0' || c.is_ascii_whitespace())
            .trim_end_matches(['\r', '\n', '\0']);
        if s.is_empty() {
            return Err(ReplyError::Empty);
        }
        if let Some(rest) = strip_prefix_ci(s, "+ok") {
            return match rest.strip_prefix('=') {
                Some(value) => Ok(Self::Ok(Some(value.to_string()))),
                None if rest.is_empty() => Ok(Self::Ok(None)),
                None => Err(ReplyError::Garbage(preview(s))),
            };
        }
        if let Some(code) = strip_prefix_ci(s, "+err=") {
            return parse_err_code(code).map(|c| Self::Err(HfError::from_code(c)));
        }
        if is_prefix_ci(s, "+err=") || is_prefix_ci(s, "+ok") {
            return Err(ReplyError::Truncated(preview(s)));
        }
        Err(ReplyError::Garbage(preview(s)))
    }

    /// The reply datagram, with the `\r\n\r\n` terminator.
    pub fn to_wire(&self) -> String {
        match self {
            Self::Ok(None) => format!("+ok{AT_REPLY_TERMINATOR}"),
            Self::Ok(Some(v)) => format!("+ok={v}{AT_REPLY_TERMINATOR}"),
            Self::Err(e) => format!("+ERR={}{AT_REPLY_TERMINATOR}", e.code()),
        }
    }

    /// The value on success, the module's error otherwise.
    pub fn into_result(self) -> Result<Option<String>, HfError> {
        match self {
            Self::Ok(v) => Ok(v),
            Self::Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reference_vectors() {
        // §5.6
        let ok = AtReply::Ok(None);
        assert_eq!(ok.to_wire().as_bytes(), [0x2B, 0x6F, 0x6B, 0x0D, 0x0A, 0x0D, 0x0A]);
        assert_eq!(AtReply::parse(b"+ok\r\n\r\n"), Ok(ok));
        let nope = AtReply::Err(HfError::InvalidCommand);
        assert_eq!(
            nope.to_wire().as_bytes(),
            [0x2B, 0x45, 0x52, 0x52, 0x3D, 0x2D, 0x32, 0x0D, 0x0A, 0x0D, 0x0A]
        );
        assert_eq!(AtReply::parse(b"+ERR=-2\r\n\r\n"), Ok(nope));
        // Deye fixture
        assert_eq!(AtReply::parse(b"+ERR=-3\r\n\r\n"), Ok(AtReply::Err(HfError::InvalidOperator)));
        assert_eq!(AtRequest::set("WSSSID", "MyNet").unwrap().encode(), "AT+WSSSID=MyNet\r");
        assert_eq!(AtRequest::query("nope").unwrap().encode(), "AT+NOPE\r");
        assert_eq!(AtRequest::query("Z").unwrap().line(), "AT+Z");
    }

    #[test]
    fn read_back_values_of_3_4() {
        for (wire, value) in [
            ("+ok=4.12.17 (2019-01-09 10:30 1M)\r\n\r\n", "4.12.17 (2019-01-09 10:30 1M)"),
            (
                "+ok=DHCP,192.168.1.59,255.255.255.0,192.168.1.1\r\n\r\n",
                "DHCP,192.168.1.59,255.255.255.0,192.168.1.1",
            ),
            ("+ok=WPA2PSK,AES,secret123\r\n\r\n", "WPA2PSK,AES,secret123"),
            ("+ok=ACCF23XXXXXX\r\n\r\n", "ACCF23XXXXXX"),
            ("+ok=rebooting...\r\n\r\n", "rebooting..."),
            ("+ok=My Net \r\n\r\n", "My Net "),
            ("+OK=300", "300"),
            ("+ok=\r\n\r\n", ""),
        ] {
            assert_eq!(AtReply::parse(wire.as_bytes()), Ok(AtReply::Ok(Some(value.into()))), "{wire:?}");
        }
        let scan =
            "+ok=\r\nCh,SSID,BSSID,Security,Indicator\r\n1,ZJSW,3C:E5:A6:61:B4:41,OPEN/NONE,74\r\n\r\n";
        assert_eq!(
            AtReply::parse(scan.as_bytes()).unwrap().into_result().unwrap().unwrap(),
            "\r\nCh,SSID,BSSID,Security,Indicator\r\n1,ZJSW,3C:E5:A6:61:B4:41,OPEN/NONE,74"
        );
    }

    #[test]
    fn error_codes() {
        for (code, meaning) in [
            (-1, "invalid command format"),
            (-2, "invalid command"),
            (-3, "invalid operation symbol"),
            (-4, "invalid parameter"),
            (-5, "operation not permitted"),
        ] {
            let e = HfError::from_code(code);
            assert_eq!(e.code(), code);
            assert_eq!(e.meaning(), meaning);
        }
        assert_eq!(HfError::from_code(-9), HfError::Other(-9));
        assert_eq!(HfError::InvalidParameter.to_string(), "+ERR=-4 (invalid parameter)");
        assert_eq!(AtReply::parse(b"+ERR=-4").unwrap().into_result(), Err(HfError::InvalidParameter));
    }

    #[test]
    fn malformed() {
        assert_eq!(AtReply::parse(b""), Err(ReplyError::Empty));
        assert_eq!(AtReply::parse(b"\r\n\r\n"), Err(ReplyError::Empty));
        for t in [&b"+ERR="[..], b"+ERR=\r\n\r\n", b"+ER", b"+", b"+o"] {
            assert!(matches!(AtReply::parse(t), Err(ReplyError::Truncated(_))), "{t:?}");
        }
        assert!(matches!(AtReply::parse(b"+ERR=x\r\n\r\n"), Err(ReplyError::BadErrorCode(_))));
        for g in [&b"+ERROR"[..], b"+okay", b"10.10.100.254,ACCF23D78A6C,HF-LPB100", b"\xff"] {
            assert!(matches!(AtReply::parse(g), Err(ReplyError::Garbage(_))), "{g:?}");
        }
        assert_eq!(
            AtRequest::query("W SCAN").unwrap_err().to_string(),
            "AT verb \"W SCAN\" must be one or more ASCII letters or digits"
        );
        assert!(AtRequest::query("").is_err());
        assert_eq!(AtRequest::set("WSSSID", "a\rAT+Z"), Err(AtRequestError::Arg("a\rAT+Z".into())));
    }

    fn reply() -> impl Strategy<Value = AtReply> {
        prop_oneof![
            Just(AtReply::Ok(None)),
            any::<i32>().prop_map(|c| AtReply::Err(HfError::from_code(c))),
            "([^\r\n\0]|\r\n){0,40}[^\r\n\0]|".prop_map(|v| AtReply::Ok(Some(v))),
        ]
    }

    proptest! {
        #[test]
        fn round_trip(r in reply()) {
            prop_assert_eq!(AtReply::parse(r.to_wire().as_bytes()), Ok(r));
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = AtReply::parse(&bytes);
        }

        #[test]
        fn never_panics_near_valid(s in "[+oOkKeErR=\\-0-9\r\n \0é]{0,12}") {
            let _ = AtReply::parse(s.as_bytes());
        }
    }
}
