//! Kasa messages from captured bytes: TCP streams through [`FrameDecoder`], UDP datagrams,
//! and single messages given as bytes (`plugctl decode HEX`).
//!
//! A hole in a TCP stream inside a frame whose header was captured keeps the stream in
//! step: the missing bytes are filled with zeros, and since the autokey cipher only chains
//! each byte to the one before it, everything but the hole and the byte after it still
//! decrypts; the message is reported with the hole marked `…`. A hole between frames, or in
//! a header, loses the framing: decoding resumes at the next segment that starts like a
//! frame (a sane length, then `{` encrypted). So does a stream whose SYN was not captured.

use plugctl_proto::kasa::{
    cipher, datagram,
    error::FrameError,
    frame::{FrameDecoder, FrameEvent, HEADER_LEN},
    DEFAULT_MAX_FRAME,
};
use serde_json::Value;

use crate::{
    message::{preview, Content, Message, MessageError},
    tcp::{Direction, StreamEvent},
    time::Timestamp,
};

/// The first ciphertext byte of every JSON object (`{` under key 0xAB).
const OPEN_BRACE: u8 = b'{' ^ cipher::INITIAL_KEY;

/// Largest number of raw bytes kept for a run of bytes that are not frames.
const MAX_JUNK: usize = 64 * 1024;

/// How one Kasa message is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Framing {
    /// TCP: 4-byte big-endian length, then the ciphertext.
    Tcp,
    /// UDP: the ciphertext alone.
    Udp,
}

/// Decodes a decrypted Kasa payload.
pub fn content_of(payload: &[u8]) -> Content {
    match serde_json::from_slice::<Value>(payload) {
        Ok(v) => Content::Json(v),
        Err(e) => {
            Content::Undecodable { error: MessageError::NotJson(e.to_string()), text: Some(preview(payload)) }
        }
    }
}

/// Guesses how `bytes` were carried: TCP if they split exactly into one or more complete
/// frames (each header equal to the length of the ciphertext after it), UDP otherwise.
pub fn detect_framing(bytes: &[u8]) -> Framing {
    if split_frames(bytes, DEFAULT_MAX_FRAME).is_ok() {
        Framing::Tcp
    } else {
        Framing::Udp
    }
}

/// Decodes bytes that must be complete TCP frames (one, or several back to back), into the
/// content of each.
pub fn decode_frames(bytes: &[u8]) -> Result<Vec<Content>, FrameError> {
    Ok(split_frames(bytes, DEFAULT_MAX_FRAME)?.iter().map(|p| content_of(p)).collect())
}

/// Decodes a UDP datagram.
pub fn decode_datagram(bytes: &[u8]) -> Content {
    content_of(&datagram::decode(bytes))
}

/// Decrypted payloads of complete frames filling `bytes` exactly.
fn split_frames(bytes: &[u8], max: usize) -> Result<Vec<Vec<u8>>, FrameError> {
    let mut dec = FrameDecoder::new(max);
    dec.push(bytes);
    let mut out = Vec::new();
    loop {
        match dec.next_event()? {
            Some(FrameEvent::Frame(p)) => out.push(p),
            Some(FrameEvent::Empty) => return Err(FrameError::ZeroLength),
            None => break,
        }
    }
    dec.finish()?;
    if out.is_empty() {
        return Err(FrameError::Truncated { have: bytes.len(), need: HEADER_LEN });
    }
    Ok(out)
}

/// A UDP datagram as a message; `missing` bytes were cut by the capture.
pub(crate) fn datagram_message(packet: u64, time: Timestamp, payload: &[u8], missing: u32) -> Message {
    let content = if missing > 0 {
        Content::Undecodable {
            error: MessageError::Missing { bytes: u64::from(missing) },
            text: Some(preview(&datagram::decode(payload))),
        }
    } else {
        decode_datagram(payload)
    };
    Message { packet, time, content, raw: payload.to_vec() }
}

/// Every message in one direction of a Kasa TCP connection.
pub(crate) fn stream_messages(dir: &Direction) -> Vec<Message> {
    let mut f = Framer::new(DEFAULT_MAX_FRAME);
    // Without the SYN the first byte captured may be mid-frame: it must look like a start.
    f.resync = !dir.syn_seen;
    for ev in &dir.events {
        match ev {
            StreamEvent::Data { packet, time, bytes } => f.data(*packet, *time, bytes),
            StreamEvent::Gap { packet, time, len } => f.gap(*packet, *time, *len),
        }
    }
    f.finish()
}

/// Bytes that do not form frames, collected until the stream is back in step.
#[derive(Debug)]
struct Junk {
    packet: u64,
    time: Timestamp,
    raw: Vec<u8>,
    total: u64,
    error: Option<MessageError>,
}

/// Frames one direction of a stream.
#[derive(Debug)]
struct Framer {
    max: usize,
    dec: FrameDecoder,
    /// Bytes pushed into `dec` not yet returned as a frame (zeros for holes).
    pending: Vec<u8>,
    /// Where the frame being collected started.
    start: (u64, Timestamp),
    /// Holes in the frame being collected: (offset in the frame, length).
    holes: Vec<(usize, usize)>,
    /// Set after a hole that lost the framing: the next segment must look like a frame start.
    resync: bool,
    junk: Option<Junk>,
    out: Vec<Message>,
}

impl Framer {
    fn new(max: usize) -> Self {
        Framer {
            max,
            dec: FrameDecoder::new(max),
            pending: Vec::new(),
            start: (0, Timestamp::EPOCH),
            holes: Vec::new(),
            resync: false,
            junk: None,
            out: Vec::new(),
        }
    }

    /// Whether `bytes` look like the start of a frame.
    fn looks_like_frame_start(&self, bytes: &[u8]) -> bool {
        let Some(h) = bytes.get(..HEADER_LEN) else { return false };
        let len = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
        len > 0 && len <= self.max && bytes.get(HEADER_LEN).is_none_or(|&b| b == OPEN_BRACE)
    }

    fn data(&mut self, packet: u64, time: Timestamp, bytes: &[u8]) {
        if self.resync || self.junk.is_some() {
            if self.looks_like_frame_start(bytes) {
                self.resync = false;
                self.flush_junk();
            } else {
                self.resync = false;
                self.add_junk(packet, time, bytes, None);
                return;
            }
        }
        if self.pending.is_empty() {
            self.start = (packet, time);
        }
        self.dec.push(bytes);
        self.pending.extend_from_slice(bytes);
        self.drain(packet, time);
    }

    fn gap(&mut self, packet: u64, time: Timestamp, len: u64) {
        if let Some(j) = &mut self.junk {
            j.total = j.total.saturating_add(len);
            return;
        }
        if self.pending.is_empty() {
            self.lost(packet, time, len);
            return;
        }
        if self.pending.len() < HEADER_LEN {
            // The header itself is incomplete: the frame length is unknown.
            let have = self.pending.len() as u64;
            let raw = std::mem::take(&mut self.pending);
            self.reset();
            self.out.push(Message {
                packet: self.start.0,
                time: self.start.1,
                content: Content::Undecodable { error: MessageError::Lost { bytes: len + have }, text: None },
                raw,
            });
            self.resync = true;
            return;
        }
        // Fill the rest of this frame (at most) with zeros and mark the hole.
        let need = self.dec.needed() as u64;
        let fill = len.min(need) as usize;
        self.holes.push((self.pending.len(), fill));
        let zeros = vec![0u8; fill];
        self.dec.push(&zeros);
        self.pending.extend_from_slice(&zeros);
        self.drain(packet, time);
        if len > need {
            self.lost(packet, time, len - need);
        }
    }

    /// A hole between frames: a placeholder message, then look for the next frame start.
    fn lost(&mut self, packet: u64, time: Timestamp, len: u64) {
        self.out.push(Message {
            packet,
            time,
            content: Content::Undecodable { error: MessageError::Lost { bytes: len }, text: None },
            raw: Vec::new(),
        });
        self.resync = true;
    }

    /// Takes complete frames out of the decoder.
    fn drain(&mut self, packet: u64, time: Timestamp) {
        loop {
            match self.dec.next_event() {
                Ok(Some(FrameEvent::Frame(payload))) => {
                    let used = (HEADER_LEN + payload.len()).min(self.pending.len());
                    let raw: Vec<u8> = self.pending.drain(..used).collect();
                    let content = if self.holes.is_empty() {
                        content_of(&payload)
                    } else {
                        holed_content(&payload, &self.holes)
                    };
                    self.out.push(Message { packet: self.start.0, time: self.start.1, content, raw });
                    self.holes.clear();
                    self.start = (packet, time);
                }
                Ok(Some(FrameEvent::Empty)) => {
                    let used = HEADER_LEN.min(self.pending.len());
                    let raw: Vec<u8> = self.pending.drain(..used).collect();
                    self.out.push(Message {
                        packet: self.start.0,
                        time: self.start.1,
                        content: Content::Undecodable { error: MessageError::EmptyFrame, text: None },
                        raw,
                    });
                    self.holes.clear();
                    self.start = (packet, time);
                }
                Ok(None) => break,
                Err(e) => {
                    let error = match e {
                        FrameError::TooLarge { announced, max } => MessageError::TooLarge { announced, max },
                        _ => MessageError::OutOfStep { bytes: self.pending.len() as u64 },
                    };
                    let raw = std::mem::take(&mut self.pending);
                    let (f, t) = self.start;
                    self.reset();
                    self.add_junk(f, t, &raw, Some(error));
                    break;
                }
            }
        }
    }

    fn reset(&mut self) {
        self.dec = FrameDecoder::new(self.max);
        self.pending.clear();
        self.holes.clear();
    }

    fn add_junk(&mut self, packet: u64, time: Timestamp, bytes: &[u8], error: Option<MessageError>) {
        let j = self.junk.get_or_insert_with(|| Junk { packet, time, raw: Vec::new(), total: 0, error });
        let room = MAX_JUNK.saturating_sub(j.raw.len());
        j.raw.extend_from_slice(&bytes[..bytes.len().min(room)]);
        j.total = j.total.saturating_add(bytes.len() as u64);
    }

    fn flush_junk(&mut self) {
        if let Some(j) = self.junk.take() {
            let error = j.error.unwrap_or(MessageError::OutOfStep { bytes: j.total });
            self.out.push(Message {
                packet: j.packet,
                time: j.time,
                content: Content::Undecodable { error, text: None },
                raw: j.raw,
            });
        }
    }

    fn finish(mut self) -> Vec<Message> {
        self.flush_junk();
        if !self.pending.is_empty() {
            let have = self.pending.len();
            let need = match self.dec.finish() {
                Err(FrameError::Truncated { need, .. }) => need,
                _ => have,
            };
            let raw = std::mem::take(&mut self.pending);
            let text = raw.get(HEADER_LEN..).map(|c| preview(&cipher::decrypt(c)));
            let error = if self.holes.is_empty() {
                MessageError::Incomplete { have, need }
            } else {
                let missing: usize = self.holes.iter().map(|h| h.1).sum();
                MessageError::Missing { bytes: (missing + need.saturating_sub(have)) as u64 }
            };
            self.out.push(Message {
                packet: self.start.0,
                time: self.start.1,
                content: Content::Undecodable { error, text },
                raw,
            });
        }
        self.out
    }
}

/// The content of a frame with holes: the error and the text with `…` where bytes are
/// unknown (the hole, and the byte after it, which was decrypted with a missing key byte).
fn holed_content(payload: &[u8], holes: &[(usize, usize)]) -> Content {
    let mut garbled = vec![false; payload.len()];
    let mut missing = 0u64;
    for &(off, len) in holes {
        missing += len as u64;
        let from = off.saturating_sub(HEADER_LEN);
        let to = (off + len + 1).saturating_sub(HEADER_LEN).min(payload.len());
        for g in garbled.iter_mut().take(to).skip(from) {
            *g = true;
        }
    }
    let mut text = String::new();
    let mut run: Vec<u8> = Vec::new();
    let mut i = 0;
    while i < payload.len() {
        if garbled[i] {
            text.push_str(&String::from_utf8_lossy(&run));
            run.clear();
            text.push('…');
            while i < payload.len() && garbled[i] {
                i += 1;
            }
        } else {
            run.push(payload[i]);
            i += 1;
        }
    }
    text.push_str(&String::from_utf8_lossy(&run));
    Content::Undecodable {
        error: MessageError::Missing { bytes: missing },
        text: Some(preview(text.as_bytes())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plugctl_proto::kasa::frame;

    fn data(packet: u64, bytes: &[u8]) -> StreamEvent {
        StreamEvent::Data { packet, time: Timestamp::new(packet as i64, 0), bytes: bytes.to_vec() }
    }

    fn gap(packet: u64, len: u64) -> StreamEvent {
        StreamEvent::Gap { packet, time: Timestamp::new(packet as i64, 0), len }
    }

    fn messages(events: Vec<StreamEvent>) -> Vec<Message> {
        stream_messages(&Direction { events, end: Default::default(), syn_seen: true })
    }

    #[test]
    fn frames_split_anywhere_come_out_whole_with_first_byte_time() {
        let a = frame::encode(br#"{"a":1}"#);
        let b = frame::encode(br#"{"b":2}"#);
        let mut all = a.clone();
        all.extend(&b);
        let out = messages(vec![data(1, &all[..3]), data(2, &all[3..13]), data(3, &all[13..])]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].content, Content::Json(serde_json::json!({"a":1})));
        assert_eq!((out[0].packet, out[1].packet), (1, 2));
        assert_eq!(out[0].raw, a);
        assert_eq!(out[1].raw, b);
    }

    #[test]
    fn a_hole_inside_a_frame_keeps_the_rest_readable() {
        let f = frame::encode(br#"{"system":{"get_sysinfo":{"alias":"kitchen"}}}"#);
        let next = frame::encode(br#"{"b":2}"#);
        let out = messages(vec![data(1, &f[..10]), gap(3, 5), data(2, &f[15..]), data(4, &next)]);
        assert_eq!(out.len(), 2, "{out:#?}");
        let Content::Undecodable { error, text: Some(text) } = &out[0].content else { panic!("{out:#?}") };
        assert_eq!(error, &MessageError::Missing { bytes: 5 });
        assert_eq!(text, r#"{"syst…get_sysinfo":{"alias":"kitchen"}}}"#);
        assert_eq!(out[1].content, Content::Json(serde_json::json!({"b":2})));
    }

    #[test]
    fn a_hole_between_frames_is_reported_and_framing_resumes() {
        let a = frame::encode(br#"{"a":1}"#);
        let b = frame::encode(br#"{"b":2}"#);
        let c = frame::encode(br#"{"c":3}"#);
        // b's first half is lost; its second half is junk; c starts a segment.
        let out = messages(vec![data(1, &a), gap(2, 4), data(3, &b[4..]), data(4, &c)]);
        let kinds: Vec<_> = out.iter().map(|m| m.content.clone()).collect();
        assert_eq!(kinds[0], Content::Json(serde_json::json!({"a":1})));
        assert!(matches!(kinds[1], Content::Undecodable { error: MessageError::Lost { bytes: 4 }, .. }));
        assert!(matches!(kinds[2], Content::Undecodable { error: MessageError::OutOfStep { bytes: 7 }, .. }));
        assert_eq!(kinds[3], Content::Json(serde_json::json!({"c":3})));
    }

    #[test]
    fn oversized_headers_zero_frames_and_truncation() {
        let out = messages(vec![data(1, b"GET / HTTP/1.1\r\n")]);
        assert!(matches!(out[0].content.error(), Some(MessageError::TooLarge { .. })), "{out:#?}");
        let out = messages(vec![data(1, &[0, 0, 0, 0]), data(2, &frame::encode(b"{}"))]);
        assert_eq!(out[0].content.error(), Some(&MessageError::EmptyFrame));
        assert_eq!(out[1].content, Content::Json(serde_json::json!({})));
        let f = frame::encode(br#"{"a":1}"#);
        let out = messages(vec![data(1, &f[..6])]);
        assert_eq!(out[0].content.error(), Some(&MessageError::Incomplete { have: 6, need: 11 }));
    }

    #[test]
    fn framing_is_detected() {
        let f = frame::encode(br#"{"a":1}"#);
        assert_eq!(detect_framing(&f), Framing::Tcp);
        assert_eq!(detect_framing(&[f.clone(), f.clone()].concat()), Framing::Tcp);
        assert_eq!(detect_framing(&f[4..]), Framing::Udp);
        assert_eq!(detect_framing(&f[..6]), Framing::Udp);
        assert_eq!(detect_framing(&[]), Framing::Udp);
        assert!(decode_frames(&[0, 0, 0, 0]).is_err());
        assert!(matches!(decode_datagram(&f[4..]), Content::Json(_)));
        assert!(matches!(decode_datagram(b"plain"), Content::Undecodable { .. }));
    }
}
