//! [`HfFailure`]: what can go wrong with a Hi-Flying plug beyond sockets and timeouts.
//!
//! It travels inside [`Error::Hf`](crate::Error::Hf), which adds the peer address, so a
//! message reads `127.0.0.2:8899: the plug rejected the command AT+YZOUT (+ERROR)`.
//! Refusals, timeouts, early closes and OS errors use the family-neutral variants of
//! [`Error`](crate::Error).

use std::{fmt, time::Duration};

use plugctl_proto::hf::{
    assist::{wifi::WifiError, wscan::WscanError, AssistReplyError, HfError},
    CommandError, MeasurementError, RecoScanError, ReplyError,
};

use crate::error::human_duration;

/// A Hi-Flying-specific failure; see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HfFailure {
    /// The plug answered `+ERROR` (control channel) or `+ERR=<code>` (either channel).
    /// Never retried: it would answer the same.
    #[error("the plug rejected the command {command} ({})", rejected_reason(.code))]
    Rejected {
        /// The command as sent, without line ending (a Wi-Fi key is masked).
        command: String,
        /// `None` for `+ERROR`, the Hi-Flying code for `+ERR=<n>`.
        code: Option<HfError>,
    },
    /// The reply is not a reply: garbage, empty, or truncated (`+ok=` with nothing after
    /// it). Retried.
    #[error("unreadable reply to {command}: {error}")]
    BadReply {
        /// The command as sent, without line ending.
        command: String,
        /// What was wrong.
        error: ReplyError,
    },
    /// The reply grew past the configured cap without ending. Retried.
    #[error("reply to {command} exceeds {max} bytes")]
    ReplyTooLong {
        /// The command as sent, without line ending.
        command: String,
        /// The cap in force.
        max: usize,
    },
    /// A well-formed `AT+YZOUT` reply that is not a meter reading (wrong field count, a
    /// field that is not a number, `+ok` without a value). Not retried.
    #[error("bad AT+YZOUT reply: {0}")]
    BadMeasurement(MeasurementError),
    /// The plug answered `YZ-RECOSCAN` with a datagram that does not decode. Retried.
    #[error("bad YZ-RECOSCAN reply: {0}")]
    BadScanReply(RecoScanError),
    /// The plug answered the assist password with something other than `ip,MAC,module`.
    /// Retried.
    #[error("bad answer to the assist password: {0}")]
    BadAssistReply(AssistReplyError),
    /// The `AT+WSCAN` table does not decode. Not retried.
    #[error("{0}")]
    BadWscan(WscanError),
    /// A successful AT reply with a value that makes no sense for the command.
    #[error("unexpected reply to {command}: {detail}")]
    UnexpectedValue {
        /// The command as sent.
        command: String,
        /// What was wrong.
        detail: String,
    },
    /// Nothing answered the assist password (all attempts used).
    #[error(
        "no answer to the assist password within {}: the assist password was not accepted, \
         or the plug is not in set-up (AP) mode",
        human_duration(*.after)
    )]
    AssistNoAnswer {
        /// The timeout of each attempt.
        after: Duration,
    },
    /// `AT+WMODE` reports `STA`: the plug has already joined a network.
    #[error("plug is already in STA mode (joined to a network); reset it to AP mode first")]
    AlreadySta,
    /// A Wi-Fi setting read back after writing it differs from what was written; nothing
    /// was committed (no `AT+WMODE=STA`, no `AT+Z`).
    #[error("read-back of {setting} does not match what was set ({detail}); the plug was not switched to STA mode")]
    ReadBackMismatch {
        /// `AT+WSSSID` or `AT+WSKEY`.
        setting: &'static str,
        /// Sent vs read (a key is described by its length only).
        detail: String,
    },
    /// An SSID or key the plug cannot take. Checked before anything is sent.
    #[error("invalid Wi-Fi settings: {0} (nothing was sent)")]
    InvalidWifi(WifiError),
    /// A countdown outside 1..=2000 minutes. Checked before anything is sent.
    #[error("invalid countdown: {0} (nothing was sent)")]
    InvalidCountdown(CommandError),
}

impl HfFailure {
    /// Whether trying again might succeed: garbled or oversized replies and undecodable
    /// datagrams may be transient; rejections, wrong content and caller mistakes are not.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::BadReply { .. }
                | Self::ReplyTooLong { .. }
                | Self::BadScanReply(_)
                | Self::BadAssistReply(_)
        )
    }

    /// Whether the request was refused locally, before anything was sent.
    pub fn is_invalid_argument(&self) -> bool {
        matches!(self, Self::InvalidWifi(_) | Self::InvalidCountdown(_))
    }
}

fn rejected_reason(code: &Option<HfError>) -> String {
    match code {
        None => "+ERROR".to_string(),
        Some(e) => format!("+ERR={}, {}", e.code(), e.meaning()),
    }
}

/// A command line for messages, with the key of `AT+WSKEY=<auth>,<enc>,<key>` masked.
pub(crate) struct Shown<'a>(pub &'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = self.0.trim_end_matches(['\r', '\n']);
        let upper = line.get(..9).map(str::to_ascii_uppercase);
        if upper.as_deref() == Some("AT+WSKEY=") {
            let mut parts = line.splitn(3, ',');
            if let (Some(a), Some(b), Some(key)) = (parts.next(), parts.next(), parts.next()) {
                if !key.is_empty() {
                    return write!(f, "{a},{b},***");
                }
            }
        }
        f.write_str(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        let e = HfFailure::Rejected { command: "AT+YZOUT".into(), code: None };
        assert_eq!(e.to_string(), "the plug rejected the command AT+YZOUT (+ERROR)");
        let e = HfFailure::Rejected { command: "AT+WSKEY".into(), code: Some(HfError::InvalidParameter) };
        assert_eq!(e.to_string(), "the plug rejected the command AT+WSKEY (+ERR=-4, invalid parameter)");
        assert!(!e.is_retryable());
        let e = HfFailure::AssistNoAnswer { after: Duration::from_millis(300) };
        assert!(e.to_string().starts_with("no answer to the assist password within 300 ms"), "{e}");
        assert!(HfFailure::BadReply { command: "x".into(), error: ReplyError::Empty }.is_retryable());
    }

    #[test]
    fn wskey_is_masked() {
        assert_eq!(Shown("AT+WSKEY=WPA2PSK,AES,secret123\r").to_string(), "AT+WSKEY=WPA2PSK,AES,***");
        assert_eq!(Shown("at+wskey=OPEN,NONE").to_string(), "at+wskey=OPEN,NONE");
        assert_eq!(Shown("AT+WSSSID=MyNet\r").to_string(), "AT+WSSSID=MyNet");
        assert_eq!(Shown("AT+YZ").to_string(), "AT+YZ");
        assert_eq!(Shown("AT+WSKEé").to_string(), "AT+WSKEé");
    }
}
