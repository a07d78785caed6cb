//! TCP framing (kasa-protocol.md §3): a 4-byte big-endian length, then that many bytes of
//! ciphertext. The header is neither encrypted nor part of the key chain.
//!
//! [`FrameDecoder`] is a sans-I/O reassembler: feed it whatever the socket produced, in any
//! split, and take complete frames out. It never allocates more than the size cap, whatever
//! a peer announces.

use super::{cipher, error::FrameError};

/// Length of the frame header.
pub const HEADER_LEN: usize = 4;

/// Default cap on an announced payload length: 64 KiB, far above any real reply (≈1.6 KB)
/// and python-kasa's 16 KiB request budget.
pub const DEFAULT_MAX_FRAME: usize = 64 * 1024;

/// Encodes a JSON payload as one TCP frame (header + ciphertext) in a single buffer, so it
/// can be written with one `write`.
pub fn encode(json: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + json.len());
    encode_into(json, &mut out);
    out
}

/// Appends the TCP frame of `json` to `out` (reusing its allocation).
pub fn encode_into(json: &[u8], out: &mut Vec<u8>) {
    let len = u32::try_from(json.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    let start = out.len();
    out.extend_from_slice(json);
    cipher::encrypt_in_place(&mut out[start..]);
}

/// Parses a frame header, checking the announced length against `max`.
///
/// A zero length is returned as 0: the 2016 firmware's header (§3.2); callers decide what it
/// means for them.
pub fn parse_header(header: [u8; HEADER_LEN], max: usize) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(header) as usize;
    if len > max {
        return Err(FrameError::TooLarge { announced: len, max });
    }
    Ok(len)
}

/// Decodes one complete frame held in `bytes` (header included). Fails if the frame is
/// truncated, oversized, or followed by extra bytes.
pub fn decode(bytes: &[u8], max: usize) -> Result<Vec<u8>, FrameError> {
    let mut dec = FrameDecoder::new(max);
    dec.push(bytes);
    match dec.next_event()? {
        Some(FrameEvent::Frame(payload)) if dec.buffered() == 0 => Ok(payload),
        Some(FrameEvent::Frame(_)) => Err(FrameError::TrailingBytes(dec.buffered())),
        Some(FrameEvent::Empty) => Err(FrameError::ZeroLength),
        None => Err(dec.finish().err().unwrap_or(FrameError::Truncated { have: 0, need: HEADER_LEN })),
    }
}

/// What [`FrameDecoder::next_event`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameEvent {
    /// A complete frame; the decrypted payload bytes (not necessarily valid JSON).
    Frame(Vec<u8>),
    /// A header announcing length 0 (the 2016 firmware quirk, §3.2). No payload follows.
    Empty,
}

/// Incremental frame reassembler with a size cap.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    max: usize,
    buf: Vec<u8>,
    pos: usize,
}

impl FrameDecoder {
    /// A decoder that rejects announced lengths above `max`.
    pub fn new(max: usize) -> Self {
        Self { max, buf: Vec::new(), pos: 0 }
    }

    /// The size cap.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Appends received bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.pos > 0 && self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 4096 && self.pos * 2 > self.buf.len() {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received but not yet returned as a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// How many more bytes are needed before the next event can be produced (at least 1).
    pub fn needed(&self) -> usize {
        let avail = &self.buf[self.pos..];
        if avail.len() < HEADER_LEN {
            return HEADER_LEN - avail.len();
        }
        let len = u32::from_be_bytes([avail[0], avail[1], avail[2], avail[3]]) as usize;
        (HEADER_LEN + len.min(self.max)).saturating_sub(avail.len()).max(1)
    }

    /// Takes the next complete frame out of the buffer, if there is one.
    ///
    /// An oversized announced length is an error; the decoder is then unusable (the stream has
    /// lost sync) and the connection should be closed.
    pub fn next_event(&mut self) -> Result<Option<FrameEvent>, FrameError> {
        let avail = &self.buf[self.pos..];
        if avail.len() < HEADER_LEN {
            return Ok(None);
        }
        let len = parse_header([avail[0], avail[1], avail[2], avail[3]], self.max)?;
        if len == 0 {
            self.pos += HEADER_LEN;
            return Ok(Some(FrameEvent::Empty));
        }
        if avail.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let mut payload = avail[HEADER_LEN..HEADER_LEN + len].to_vec();
        cipher::decrypt_in_place(&mut payload);
        self.pos += HEADER_LEN + len;
        Ok(Some(FrameEvent::Frame(payload)))
    }

    /// Call at end of stream: fails if a partial frame is still buffered.
    pub fn finish(&self) -> Result<(), FrameError> {
        let have = self.buffered();
        if have == 0 {
            return Ok(());
        }
        let avail = &self.buf[self.pos..];
        let need = if avail.len() < HEADER_LEN {
            HEADER_LEN
        } else {
            HEADER_LEN + u32::from_be_bytes([avail[0], avail[1], avail[2], avail[3]]) as usize
        };
        Err(FrameError::Truncated { have, need })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// kasa-protocol.md §2.2: the complete 33-byte request frame.
    #[test]
    fn get_sysinfo_frame_vector() {
        let want = hex("00 00 00 1d d0 f2 81 f8 8b ff 9a f7 d5 ef 94 b6 d1 b4 c0 9f
             ec 95 e6 8f e1 87 e8 ca f0 8b f6 8b f6");
        assert_eq!(encode(br#"{"system":{"get_sysinfo":{}}}"#), want);
        assert_eq!(decode(&want, DEFAULT_MAX_FRAME).unwrap(), br#"{"system":{"get_sysinfo":{}}}"#);
    }

    /// §2.2: the `null` params variant.
    #[test]
    fn null_params_vector() {
        let want = hex("00 00 00 1f d0 f2 81 f8 8b ff 9a f7 d5 ef 94 b6 d1 b4 c0 9f ec 95 e6 8f e1 87 e8 ca
             f0 9e eb 87 eb 96 eb");
        assert_eq!(encode(br#"{"system":{"get_sysinfo":null}}"#), want);
    }

    /// §2.2: the reply example.
    #[test]
    fn reply_vector() {
        let want = hex("00 00 00 2d d0 f2 81 f8 8b ff 9a f7 d5 ef 94 b6 c5 a0 d4 8b f9 9c f0 91 e8 b7 c4 b0
             d1 a5 c0 e2 d8 a3 81 e4 96 e4 bb d8 b7 d3 b6 94 ae 9e e3 9e e3");
        let plain = br#"{"system":{"set_relay_state":{"err_code":0}}}"#;
        assert_eq!(encode(plain), want);
        assert_eq!(decode(&want, DEFAULT_MAX_FRAME).unwrap(), plain);
    }

    #[test]
    fn oversized_prefix_is_rejected_without_allocating() {
        let mut dec = FrameDecoder::new(DEFAULT_MAX_FRAME);
        dec.push(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
        let err = dec.next_event().unwrap_err();
        assert_eq!(err, FrameError::TooLarge { announced: u32::MAX as usize, max: DEFAULT_MAX_FRAME });
        assert!(err.to_string().contains("4294967295"), "{err}");
        // "GET " as a length (HTTP on port 9999, §13 row 23)
        let mut dec = FrameDecoder::new(DEFAULT_MAX_FRAME);
        dec.push(b"GET / HTTP/1.1\r\n");
        assert!(matches!(dec.next_event(), Err(FrameError::TooLarge { .. })));
        assert!(dec.needed() <= DEFAULT_MAX_FRAME + HEADER_LEN);
    }

    #[test]
    fn zero_length_header_is_an_empty_event() {
        let mut dec = FrameDecoder::new(DEFAULT_MAX_FRAME);
        dec.push(&[0, 0, 0, 0]);
        dec.push(&encode(b"{}"));
        assert_eq!(dec.next_event().unwrap(), Some(FrameEvent::Empty));
        assert_eq!(dec.next_event().unwrap(), Some(FrameEvent::Frame(b"{}".to_vec())));
        assert_eq!(dec.next_event().unwrap(), None);
        assert_eq!(decode(&[0, 0, 0, 0], 10), Err(FrameError::ZeroLength));
    }

    #[test]
    fn truncated_frame_is_reported_at_end_of_stream() {
        let f = encode(br#"{"system":{}}"#);
        let mut dec = FrameDecoder::new(DEFAULT_MAX_FRAME);
        dec.push(&f[..f.len() - 3]);
        assert_eq!(dec.next_event().unwrap(), None);
        assert_eq!(dec.needed(), 3);
        assert_eq!(dec.finish(), Err(FrameError::Truncated { have: f.len() - 3, need: f.len() }));
        assert!(matches!(decode(&f[..2], 100), Err(FrameError::Truncated { .. })));
    }

    #[test]
    fn pipelined_frames_come_out_in_order() {
        let mut bytes = encode(b"{\"a\":1}");
        bytes.extend(encode(b"{\"b\":2}"));
        bytes.extend(&encode(b"{\"c\":3}")[..5]);
        let mut dec = FrameDecoder::new(DEFAULT_MAX_FRAME);
        dec.push(&bytes);
        assert_eq!(dec.next_event().unwrap(), Some(FrameEvent::Frame(b"{\"a\":1}".to_vec())));
        assert_eq!(dec.next_event().unwrap(), Some(FrameEvent::Frame(b"{\"b\":2}".to_vec())));
        assert_eq!(dec.next_event().unwrap(), None);
        assert!(dec.finish().is_err());
    }
}
