//! One decoded request or reply, and what can be wrong with it.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use crate::{hex, time::Timestamp};

/// Why a message could not be decoded. The message is still reported, with its raw bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// The decrypted Kasa payload is not JSON.
    #[error("the decrypted payload is not JSON ({0})")]
    NotJson(String),
    /// A Kasa TCP frame header announcing length 0 (the 2016 firmware, kasa-protocol.md §3.2).
    #[error("a frame header announcing length 0 (2016 firmware style)")]
    EmptyFrame,
    /// The stream ends inside a Kasa frame.
    #[error("the stream ends inside a frame: {have} of {need} bytes captured")]
    Incomplete {
        /// Bytes captured (header included).
        have: usize,
        /// Bytes the frame needs (header included).
        need: usize,
    },
    /// Some bytes of the message are not in the capture; the rest is shown.
    #[error("{bytes} bytes of this message are missing from the capture")]
    Missing {
        /// How many.
        bytes: u64,
    },
    /// Bytes missing from the capture between messages: whole messages may have been lost.
    #[error("{bytes} bytes are missing from the capture here (whole messages may be lost)")]
    Lost {
        /// How many.
        bytes: u64,
    },
    /// Bytes that do not start a Kasa frame: the stream started mid-message in the capture,
    /// or is not Kasa traffic.
    #[error("{bytes} bytes that do not form Kasa frames (stream out of step, or not Kasa traffic)")]
    OutOfStep {
        /// How many.
        bytes: u64,
    },
    /// A Kasa frame header announcing more than the size cap; the stream cannot be followed
    /// after it.
    #[error("a frame header announces {announced} bytes, more than the {max}-byte cap")]
    TooLarge {
        /// The announced length.
        announced: usize,
        /// The cap.
        max: usize,
    },
    /// Hi-Flying traffic that is not text.
    #[error("binary data where AT text was expected")]
    NotText,
}

/// What a message says.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    /// A Kasa message: the decrypted JSON.
    Json(Value),
    /// A Hi-Flying message: its text lines (joined with `\n`, line terminators removed).
    Text(String),
    /// Something that could not be decoded.
    Undecodable {
        /// Why.
        error: MessageError,
        /// As much of the (decrypted) text as can be shown, if any.
        text: Option<String>,
    },
}

impl Content {
    /// The error, if the message could not be decoded.
    pub fn error(&self) -> Option<&MessageError> {
        match self {
            Content::Undecodable { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// A request or reply found in the capture.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Packet number (1-based) of the packet carrying its first byte.
    pub packet: u64,
    /// Capture time of that packet.
    pub time: Timestamp,
    /// The decoded content.
    pub content: Content,
    /// The bytes as sent (Kasa TCP: header and ciphertext; UDP: the datagram; Hi-Flying TCP:
    /// the line with its terminator). Bytes missing from the capture are zeros here.
    pub raw: Vec<u8>,
}

impl Serialize for Message {
    /// `{"packet":…,"time":…,"json"|"text"|"error"(+"text"):…,"hex":…}`.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("packet", &self.packet)?;
        m.serialize_entry("time", &self.time)?;
        match &self.content {
            Content::Json(v) => m.serialize_entry("json", v)?,
            Content::Text(t) => m.serialize_entry("text", t)?,
            Content::Undecodable { error, text } => {
                m.serialize_entry("error", &error.to_string())?;
                if let Some(t) = text {
                    m.serialize_entry("text", t)?;
                }
            }
        }
        m.serialize_entry("hex", &hex::encode(&self.raw))?;
        m.end()
    }
}

/// Longest text kept for an undecodable message.
const MAX_PREVIEW: usize = 4096;

/// Lossy UTF-8 of `bytes`, shortened to [`MAX_PREVIEW`] characters with `…`.
pub(crate) fn preview(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut chars = text.chars();
    let mut out: String = chars.by_ref().take(MAX_PREVIEW).collect();
    if chars.next().is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_each_kind() {
        let m = |content| Message { packet: 3, time: Timestamp::new(0, 0), content, raw: vec![0xab] };
        let j = serde_json::to_value(m(Content::Json(serde_json::json!({"a":1})))).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"packet":3,"time":"1970-01-01T00:00:00.000000Z","json":{"a":1},"hex":"ab"})
        );
        let t = serde_json::to_value(m(Content::Text("+ok".into()))).unwrap();
        assert_eq!(t["text"], "+ok");
        let e = serde_json::to_value(m(Content::Undecodable {
            error: MessageError::Missing { bytes: 5 },
            text: Some("{\"sys…".into()),
        }))
        .unwrap();
        assert_eq!(e["error"], "5 bytes of this message are missing from the capture");
        assert_eq!(e["text"], "{\"sys…");
    }

    #[test]
    fn preview_is_bounded() {
        assert_eq!(preview(b"abc"), "abc");
        assert_eq!(preview(&[b'x'; 5000]).chars().count(), MAX_PREVIEW + 1);
        assert_eq!(preview(&[0xff]), "\u{fffd}");
    }
}
