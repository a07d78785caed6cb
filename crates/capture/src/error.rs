//! Errors about a capture file as a whole. Problems inside a message (bad JSON, missing
//! bytes) are not errors of the file: they are reported per message, see
//! [`MessageError`](crate::MessageError).

/// Why a capture file could not be read (completely).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaptureError {
    /// The input is empty.
    #[error("the file is empty, not a pcap or pcapng capture")]
    Empty,
    /// The input starts with neither a pcap nor a pcapng magic number.
    #[error("not a pcap or pcapng capture (it starts with {start}{hint})")]
    NotACapture {
        /// The first bytes, in hex.
        start: String,
        /// A guess at what the file is instead (starts with `"; "`), or empty.
        hint: String,
    },
    /// The input ends in the middle of the file header, a packet record or a block: the
    /// capture was cut short (a capture tool killed while writing, a partial download).
    #[error("the capture is truncated at byte {offset}: {what} is cut short")]
    Truncated {
        /// Where the incomplete part starts.
        offset: u64,
        /// What is incomplete (`"the pcap file header"`, `"packet record 12"`, …).
        what: String,
    },
    /// The input is recognised but a header or block is invalid.
    #[error("malformed capture at byte {offset}: {detail}")]
    Malformed {
        /// Where the invalid part starts.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
}
