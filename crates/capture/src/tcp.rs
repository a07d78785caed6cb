//! TCP stream reassembly, per connection and direction.
//!
//! Segments are collected as they come and put in order when the capture has been read
//! (the whole capture is at hand, so nothing has to be guessed early):
//! - sequence numbers are unwrapped (streams may cross 2³²) relative to the SYN, or, for a
//!   connection whose start was not captured, to the lowest sequence number seen;
//! - segments are sorted by sequence number (stable, so the first captured copy wins);
//! - retransmissions and duplicates (everything already delivered) are dropped and counted,
//!   overlaps are trimmed;
//! - a hole becomes a [`StreamEvent::Gap`] with its length, so the layer above knows
//!   exactly which bytes are missing;
//! - a new SYN on a 4-tuple that was used before starts a new connection.
//!
//! Memory is what the captured payloads take; every loop is bounded by the number of
//! segments, so no input makes this hang.

use std::{collections::HashMap, net::SocketAddr};

use crate::{packet::TcpSegment, time::Timestamp};

/// One piece of a reassembled byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// Bytes, in stream order, from one captured segment.
    Data {
        /// Packet number of the segment.
        packet: u64,
        /// Capture time of the segment.
        time: Timestamp,
        /// The bytes not delivered before.
        bytes: Vec<u8>,
    },
    /// Bytes the capture does not hold (lost by the capture or cut by its snap length).
    Gap {
        /// Packet number of the segment after the hole (or of the last one).
        packet: u64,
        /// Capture time of that segment.
        time: Timestamp,
        /// How many bytes are missing.
        len: u64,
    },
}

impl StreamEvent {
    /// Packet number of the event.
    pub fn packet(&self) -> u64 {
        match self {
            StreamEvent::Data { packet, .. } | StreamEvent::Gap { packet, .. } => *packet,
        }
    }
}

/// How one direction of a connection ended in the capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StreamEnd {
    /// The capture ends while the direction is still open.
    #[default]
    Open,
    /// FIN seen.
    Fin,
    /// RST seen.
    Reset,
}

/// One direction of a reassembled connection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Direction {
    /// The stream, in order.
    pub events: Vec<StreamEvent>,
    /// How it ended.
    pub end: StreamEnd,
    /// Whether the capture holds the SYN, so the stream is known to start at its first
    /// byte (without it, the first captured byte may be in the middle of a message).
    pub syn_seen: bool,
}

/// Counters about the quality of the reassembled streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct ReassemblyStats {
    /// Segments whose bytes had all been delivered already (retransmissions, duplicates).
    pub retransmitted: u64,
    /// Segments that partly overlapped bytes delivered already (trimmed).
    pub overlapping: u64,
    /// Holes in the streams.
    pub gaps: u64,
    /// Bytes missing in those holes.
    pub gap_bytes: u64,
}

impl ReassemblyStats {
    /// Adds `other` to `self`.
    pub fn add(&mut self, other: &ReassemblyStats) {
        self.retransmitted += other.retransmitted;
        self.overlapping += other.overlapping;
        self.gaps += other.gaps;
        self.gap_bytes += other.gap_bytes;
    }
}

/// A reassembled TCP connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpConnection<T> {
    /// The caller's tag for the connection (what protocol it carries).
    pub tag: T,
    /// The side that opened the connection (sent the SYN), or else the side the caller did
    /// not name as server.
    pub client: SocketAddr,
    /// The other side.
    pub server: SocketAddr,
    /// Packet number of the first packet seen.
    pub first_packet: u64,
    /// Capture time of the first packet seen.
    pub first_time: Timestamp,
    /// Client → server.
    pub to_server: Direction,
    /// Server → client.
    pub to_client: Direction,
    /// Retransmissions, overlaps and holes of both directions.
    pub stats: ReassemblyStats,
}

/// A segment kept for reassembly.
#[derive(Debug, Clone)]
struct Seg {
    /// Sequence number of the first payload byte.
    seq: u32,
    data: Vec<u8>,
    /// Announced bytes after `data` the capture does not hold.
    missing: u32,
    packet: u64,
    time: Timestamp,
}

/// One direction while collecting.
#[derive(Debug, Clone, Default)]
struct Half {
    syn_seq: Option<u32>,
    fin_seq: Option<u32>,
    rst: bool,
    segs: Vec<Seg>,
}

impl Half {
    fn used(&self) -> bool {
        !self.segs.is_empty() || self.fin_seq.is_some() || self.rst
    }
}

/// A connection while collecting; `halves[0]` is what `a` sent.
#[derive(Debug, Clone)]
struct Conn<T> {
    tag: T,
    a: SocketAddr,
    b: SocketAddr,
    /// The server the caller named for the first packet.
    server_hint: SocketAddr,
    /// The SYN (without ACK) sender, if seen.
    syn_client: Option<SocketAddr>,
    halves: [Half; 2],
    first_packet: u64,
    first_time: Timestamp,
}

/// Collects TCP segments and turns them into ordered streams at the end.
#[derive(Debug, Clone)]
pub struct TcpReassembler<T> {
    conns: Vec<Conn<T>>,
    /// Current connection of each (unordered) address pair.
    index: HashMap<(SocketAddr, SocketAddr), usize>,
}

impl<T> Default for TcpReassembler<T> {
    fn default() -> Self {
        TcpReassembler { conns: Vec::new(), index: HashMap::new() }
    }
}

fn pair_key(x: SocketAddr, y: SocketAddr) -> (SocketAddr, SocketAddr) {
    if x <= y {
        (x, y)
    } else {
        (y, x)
    }
}

impl<T: Copy> TcpReassembler<T> {
    /// An empty reassembler.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a captured segment. `server` is the caller's guess of which side serves (by
    /// port) and `tag` what the connection carries; both are taken from the first segment
    /// of a connection. A SYN overrides the guess.
    pub fn push(&mut self, seg: &TcpSegment<'_>, packet: u64, time: Timestamp, server: SocketAddr, tag: T) {
        let key = pair_key(seg.src, seg.dst);
        let opening = seg.syn && !seg.ack;
        let idx = match self.index.get(&key) {
            Some(&i) if !(opening && self.conns[i].is_reused_by(seg)) => i,
            _ => {
                self.conns.push(Conn {
                    tag,
                    a: seg.src,
                    b: seg.dst,
                    server_hint: server,
                    syn_client: None,
                    halves: [Half::default(), Half::default()],
                    first_packet: packet,
                    first_time: time,
                });
                let i = self.conns.len() - 1;
                self.index.insert(key, i);
                i
            }
        };
        let conn = &mut self.conns[idx];
        if opening {
            conn.syn_client = Some(seg.src);
        }
        let half = &mut conn.halves[usize::from(seg.src != conn.a)];
        let mut seq = seg.seq;
        if seg.syn {
            half.syn_seq = Some(seg.seq);
            seq = seq.wrapping_add(1);
        }
        if !seg.payload.is_empty() || seg.missing > 0 {
            half.segs.push(Seg { seq, data: seg.payload.to_vec(), missing: seg.missing, packet, time });
        }
        if seg.fin {
            let len = u32::try_from(seg.payload.len()).unwrap_or(u32::MAX).saturating_add(seg.missing);
            half.fin_seq = Some(seq.wrapping_add(len));
        }
        if seg.rst {
            half.rst = true;
        }
    }

    /// Orders every stream; connections come out in the order they were first seen.
    pub fn finish(self) -> Vec<TcpConnection<T>> {
        self.conns.into_iter().map(Conn::finish).collect()
    }
}

impl<T: Copy> Conn<T> {
    /// Whether an opening SYN from `seg.src` starts a new connection on this 4-tuple
    /// rather than repeating this one's SYN.
    fn is_reused_by(&self, seg: &TcpSegment<'_>) -> bool {
        let half = &self.halves[usize::from(seg.src != self.a)];
        match half.syn_seq {
            Some(s) => s != seg.seq,
            None => self.halves.iter().any(Half::used),
        }
    }

    fn finish(self) -> TcpConnection<T> {
        let client = match self.syn_client {
            Some(c) => c,
            None if self.server_hint == self.a => self.b,
            None => self.a,
        };
        let [ha, hb] = self.halves;
        let (from_client, from_server) = if client == self.a { (ha, hb) } else { (hb, ha) };
        let mut stats = ReassemblyStats::default();
        let to_server = assemble(from_client, &mut stats);
        let to_client = assemble(from_server, &mut stats);
        TcpConnection {
            tag: self.tag,
            server: if client == self.a { self.b } else { self.a },
            client,
            first_packet: self.first_packet,
            first_time: self.first_time,
            to_server,
            to_client,
            stats,
        }
    }
}

/// The 64-bit stream offset congruent to `rel` (mod 2³²) closest to `reference`.
fn unwrap(rel: u32, reference: i64) -> i64 {
    reference + i64::from(rel.wrapping_sub(reference as u32) as i32)
}

/// Puts one direction's segments in order.
fn assemble(half: Half, stats: &mut ReassemblyStats) -> Direction {
    let end = if half.rst {
        StreamEnd::Reset
    } else if half.fin_seq.is_some() {
        StreamEnd::Fin
    } else {
        StreamEnd::Open
    };
    let Some(base) = half.syn_seq.map(|s| s.wrapping_add(1)).or_else(|| half.segs.first().map(|s| s.seq))
    else {
        return Direction { events: Vec::new(), end, syn_seen: half.syn_seq.is_some() };
    };
    // Stream offsets, unwrapped in capture order against the furthest byte seen so far.
    let mut reach = 0i64;
    let mut offsets: Vec<i64> = Vec::with_capacity(half.segs.len());
    for s in &half.segs {
        let off = unwrap(s.seq.wrapping_sub(base), reach);
        reach = reach.max(off + s.data.len() as i64 + i64::from(s.missing));
        offsets.push(off);
    }
    let fin = half.fin_seq.map(|f| unwrap(f.wrapping_sub(base), reach));
    // Without the SYN, the stream starts at the lowest byte captured.
    let shift = if half.syn_seq.is_none() { offsets.iter().copied().min().unwrap_or(0) } else { 0 };
    let mut order: Vec<usize> = (0..half.segs.len()).collect();
    order.sort_by_key(|&i| (offsets[i], i));

    let mut events = Vec::new();
    let mut cursor = 0i64;
    let mut known_end = fin.map_or(0, |f| f - shift);
    let mut last = (0u64, Timestamp::EPOCH);
    for i in order {
        let s = &half.segs[i];
        let start = offsets[i] - shift;
        let captured_end = start + s.data.len() as i64;
        let declared_end = captured_end + i64::from(s.missing);
        known_end = known_end.max(declared_end);
        last = last.max((s.packet, s.time));
        if declared_end <= cursor {
            stats.retransmitted += 1;
            continue;
        }
        if start > cursor {
            let len = (start - cursor) as u64;
            stats.gaps += 1;
            stats.gap_bytes += len;
            events.push(StreamEvent::Gap { packet: s.packet, time: s.time, len });
            cursor = start;
        } else if start < cursor {
            stats.overlapping += 1;
        }
        if captured_end > cursor {
            let from = (cursor - start) as usize;
            events.push(StreamEvent::Data { packet: s.packet, time: s.time, bytes: s.data[from..].to_vec() });
            cursor = captured_end;
        }
    }
    if known_end > cursor {
        let len = (known_end - cursor) as u64;
        stats.gaps += 1;
        stats.gap_bytes += len;
        events.push(StreamEvent::Gap { packet: last.0, time: last.1, len });
    }
    Direction { events, end, syn_seen: half.syn_seq.is_some() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unwrap_crosses_the_32_bit_boundary() {
        assert_eq!(unwrap(5, 0), 5);
        assert_eq!(unwrap(u32::MAX, 0), -1);
        assert_eq!(unwrap(3, (1i64 << 32) - 2), (1i64 << 32) + 3);
        assert_eq!(unwrap(u32::MAX - 1, (1i64 << 32) + 3), (1i64 << 32) - 2);
    }
}
