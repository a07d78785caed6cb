//! Capture files: legacy pcap (both byte orders, micro- and nanosecond timestamps) and
//! pcapng (several sections and interfaces, both byte orders, any timestamp resolution),
//! parsed with the `pcap-parser` crate into a stream of [`RawPacket`]s.
//!
//! The reader works on a byte slice (the whole file in memory) and borrows packet data from
//! it. It stops at the first error, after yielding every complete packet before it, so a
//! capture cut short still gives its first packets.

use pcap_parser::pcapng::build_ts_resolution;
use pcap_parser::{
    nom, parse_block_be, parse_block_le, parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified,
    parse_pcap_header, parse_sectionheaderblock, Block, LegacyPcapBlock, PcapError, PcapHeader,
};

use crate::{hex, packet::LinkType, time::Timestamp, CaptureError};

/// The container format of a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CaptureFormat {
    /// libpcap's classic format (`.pcap`).
    Pcap,
    /// pcap next generation (`.pcapng`, Wireshark's default).
    Pcapng,
}

/// One captured packet: link-layer bytes as stored in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawPacket<'a> {
    /// 1-based packet number, as Wireshark counts them.
    pub number: u64,
    /// When the packet was captured.
    pub time: Timestamp,
    /// How to read `data`.
    pub link: LinkType,
    /// The captured bytes (possibly fewer than were on the wire, see `orig_len`).
    pub data: &'a [u8],
    /// The packet's length on the wire.
    pub orig_len: u32,
}

/// Magic numbers of legacy pcap files, as their first four bytes appear in the file.
const PCAP_MAGICS: [[u8; 4]; 5] = [
    [0xd4, 0xc3, 0xb2, 0xa1], // little-endian, µs
    [0xa1, 0xb2, 0xc3, 0xd4], // big-endian, µs
    [0x4d, 0x3c, 0xb2, 0xa1], // little-endian, ns
    [0xa1, 0xb2, 0x3c, 0x4d], // big-endian, ns
    [0x34, 0xcd, 0xb2, 0xa1], // little-endian "modified" (Kuznetzov) format
];

/// The pcapng section header block type (a palindrome, so byte order does not matter).
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// What the reader keeps between records.
#[derive(Debug)]
enum State {
    Pcap { header: PcapHeader },
    Pcapng { big_endian: bool, interfaces: Vec<Interface> },
}

/// A pcapng interface description, as far as packets need it.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link: LinkType,
    /// Timestamp units per second; `None` when the block's `if_tsresol` is invalid.
    resolution: Option<u64>,
    /// Seconds added to every timestamp (`if_tsoffset`).
    offset: i64,
}

/// Iterator over the packets of a pcap or pcapng capture held in memory.
#[derive(Debug)]
pub struct CaptureReader<'a> {
    input: &'a [u8],
    rem: &'a [u8],
    format: CaptureFormat,
    state: State,
    number: u64,
    done: bool,
}

impl<'a> CaptureReader<'a> {
    /// Recognises the format and reads the file header (pcap) or first section header
    /// (pcapng).
    pub fn new(input: &'a [u8]) -> Result<Self, CaptureError> {
        let Some(start) = input.get(..4) else {
            if input.is_empty() {
                return Err(CaptureError::Empty);
            }
            if PCAP_MAGICS.iter().chain([&PCAPNG_MAGIC]).any(|m| m.starts_with(input)) {
                return Err(CaptureError::Truncated { offset: 0, what: "the file header".into() });
            }
            return Err(not_a_capture(input));
        };
        if start == PCAPNG_MAGIC {
            return match parse_sectionheaderblock(input) {
                Ok(_) => Ok(Self::with_state(
                    input,
                    CaptureFormat::Pcapng,
                    State::Pcapng { big_endian: false, interfaces: Vec::new() },
                    input,
                )),
                Err(nom::Err::Incomplete(_)) => {
                    Err(CaptureError::Truncated { offset: 0, what: "the pcapng section header".into() })
                }
                Err(_) => Err(CaptureError::Malformed {
                    offset: 0,
                    detail: "invalid pcapng section header (bad byte-order magic or length)".into(),
                }),
            };
        }
        if PCAP_MAGICS.iter().any(|m| m == start) {
            return match parse_pcap_header(input) {
                Ok((rem, header)) => {
                    Ok(Self::with_state(input, CaptureFormat::Pcap, State::Pcap { header }, rem))
                }
                Err(nom::Err::Incomplete(_)) => {
                    Err(CaptureError::Truncated { offset: 0, what: "the pcap file header".into() })
                }
                Err(_) => Err(CaptureError::Malformed {
                    offset: 0,
                    detail: "this pcap variant is not supported".into(),
                }),
            };
        }
        Err(not_a_capture(input))
    }

    fn with_state(input: &'a [u8], format: CaptureFormat, state: State, rem: &'a [u8]) -> Self {
        CaptureReader { input, rem, format, state, number: 0, done: false }
    }

    /// The container format.
    pub fn format(&self) -> CaptureFormat {
        self.format
    }

    /// Byte offset of the next record.
    fn offset(&self) -> u64 {
        (self.input.len() - self.rem.len()) as u64
    }

    fn next_pcap(&mut self, header: &PcapHeader) -> Option<Result<RawPacket<'a>, CaptureError>> {
        if self.rem.is_empty() {
            return None;
        }
        let parse = if header.is_modified_format() {
            parse_pcap_frame_modified
        } else if header.is_bigendian() {
            parse_pcap_frame_be
        } else {
            parse_pcap_frame
        };
        let offset = self.offset();
        let number = self.number + 1;
        match parse(self.rem) {
            Ok((rem, block)) => {
                self.rem = rem;
                self.number = number;
                Some(Ok(legacy_packet(header, &block, number)))
            }
            Err(nom::Err::Incomplete(_)) => {
                Some(Err(CaptureError::Truncated { offset, what: format!("packet record {number}") }))
            }
            Err(e) => Some(Err(CaptureError::Malformed {
                offset,
                detail: format!("invalid packet record {number}: {}", describe(&e)),
            })),
        }
    }

    fn next_pcapng(&mut self) -> Option<Result<RawPacket<'a>, CaptureError>> {
        loop {
            if self.rem.is_empty() {
                return None;
            }
            let offset = self.offset();
            let State::Pcapng { big_endian, interfaces } = &mut self.state else { return None };
            if let Some(len) = short_block_len(self.rem, *big_endian) {
                return Some(Err(CaptureError::Malformed {
                    offset,
                    detail: format!("pcapng block length {len} is shorter than a block's 12-byte frame"),
                }));
            }
            let parse = if *big_endian { parse_block_be } else { parse_block_le };
            let block = match parse(self.rem) {
                Ok((rem, block)) => {
                    self.rem = rem;
                    block
                }
                Err(nom::Err::Incomplete(_)) => {
                    return Some(Err(CaptureError::Truncated { offset, what: "a pcapng block".into() }))
                }
                Err(e) => {
                    return Some(Err(CaptureError::Malformed {
                        offset,
                        detail: format!("invalid pcapng block: {}", describe(&e)),
                    }))
                }
            };
            match block {
                Block::SectionHeader(shb) => {
                    *big_endian = shb.big_endian();
                    interfaces.clear();
                }
                Block::InterfaceDescription(idb) => interfaces.push(Interface {
                    link: LinkType(idb.linktype.0 as u32 & 0xffff),
                    resolution: build_ts_resolution(idb.if_tsresol),
                    offset: idb.if_tsoffset,
                }),
                Block::EnhancedPacket(epb) => {
                    let number = self.number + 1;
                    let Some(iface) = usize::try_from(epb.if_id).ok().and_then(|i| interfaces.get(i)) else {
                        return Some(Err(CaptureError::Malformed {
                            offset,
                            detail: format!(
                                "packet {number} refers to interface {} which no interface block describes",
                                epb.if_id
                            ),
                        }));
                    };
                    let Some(resolution) = iface.resolution else {
                        return Some(Err(CaptureError::Malformed {
                            offset,
                            detail: format!("interface {} has an invalid timestamp resolution", epb.if_id),
                        }));
                    };
                    let units = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                    let time = ng_time(units, resolution, iface.offset);
                    self.number = number;
                    return Some(Ok(RawPacket {
                        number,
                        time,
                        link: iface.link,
                        data: cut(epb.data, epb.caplen),
                        orig_len: epb.origlen,
                    }));
                }
                Block::SimplePacket(spb) => {
                    let number = self.number + 1;
                    let Some(iface) = interfaces.first() else {
                        return Some(Err(CaptureError::Malformed {
                            offset,
                            detail: format!("packet {number} comes before any interface block"),
                        }));
                    };
                    self.number = number;
                    return Some(Ok(RawPacket {
                        number,
                        time: Timestamp::EPOCH,
                        link: iface.link,
                        data: cut(spb.data, spb.origlen),
                        orig_len: spb.origlen,
                    }));
                }
                _ => {}
            }
        }
    }
}

impl<'a> Iterator for CaptureReader<'a> {
    type Item = Result<RawPacket<'a>, CaptureError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = match &self.state {
            State::Pcap { header } => {
                let header = header.clone();
                self.next_pcap(&header)
            }
            State::Pcapng { .. } => self.next_pcapng(),
        };
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        item
    }
}

/// A legacy record as a packet.
fn legacy_packet<'a>(header: &PcapHeader, block: &LegacyPcapBlock<'a>, number: u64) -> RawPacket<'a> {
    let frac = if header.is_nanosecond_precision() {
        u64::from(block.ts_usec)
    } else {
        u64::from(block.ts_usec) * 1000
    };
    let secs = i64::from(block.ts_sec) + i64::from(header.thiszone);
    RawPacket {
        number,
        time: Timestamp::new(secs, frac),
        link: LinkType(header.network.0 as u32 & 0xffff),
        data: block.data,
        orig_len: block.origlen,
    }
}

/// Packet data without the block's padding: the first `len` bytes.
/// The total length field of the pcapng block at the start of `rem`, if it is below 12 (type,
/// length and trailing length alone take 12 bytes). `pcap-parser` 0.17 computes
/// `length - 12` unchecked for blocks it does not know (an overflow panic in builds with
/// overflow checks, a bogus "truncated" otherwise), so such blocks are rejected here first.
/// Section headers are left to the parser: their length is in their own byte order, which
/// may differ from the current section's, and their parser checks it.
fn short_block_len(rem: &[u8], big_endian: bool) -> Option<u32> {
    let (head, _) = rem.split_first_chunk::<8>()?;
    if head[..4] == PCAPNG_MAGIC {
        return None;
    }
    let len = [head[4], head[5], head[6], head[7]];
    let len = if big_endian { u32::from_be_bytes(len) } else { u32::from_le_bytes(len) };
    (len < 12).then_some(len)
}

fn cut(data: &[u8], len: u32) -> &[u8] {
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    &data[..data.len().min(len)]
}

/// A pcapng timestamp: `units` at `resolution` units per second, plus `offset` seconds.
fn ng_time(units: u64, resolution: u64, offset: i64) -> Timestamp {
    let resolution = u128::from(resolution.max(1));
    let units = u128::from(units);
    let secs = (units / resolution) as i128 + i128::from(offset);
    let nanos = (units % resolution) * 1_000_000_000 / resolution;
    Timestamp::from_nanos(secs.saturating_mul(1_000_000_000).saturating_add(nanos as i128))
}

/// A short description of a parser error (without dumping the input).
fn describe(e: &nom::Err<PcapError<&[u8]>>) -> String {
    match e {
        nom::Err::Incomplete(_) => "incomplete".into(),
        nom::Err::Error(e) | nom::Err::Failure(e) => match e {
            PcapError::NomError(_, kind) | PcapError::OwnedNomError(_, kind) => {
                format!("{} check failed", kind.description())
            }
            other => other.to_string(),
        },
    }
}

/// The error for an unrecognised file, with a guess at what it is.
fn not_a_capture(input: &[u8]) -> CaptureError {
    let start = hex::encode(&input[..input.len().min(4)]);
    let hint = if input.starts_with(&[0x1f, 0x8b]) {
        "; it looks gzip-compressed: decompress it first"
    } else if input.iter().take(64).all(|b| b.is_ascii_hexdigit() || b.is_ascii_whitespace() || *b == b':') {
        "; it looks like hex text: pass it as `plugctl decode HEX`"
    } else if input.iter().take(64).all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace()) {
        "; it looks like text"
    } else {
        ""
    };
    CaptureError::NotACapture { start, hint: hint.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_nothing_in_garbage() {
        assert_eq!(CaptureReader::new(b"").unwrap_err(), CaptureError::Empty);
        assert!(matches!(CaptureReader::new(b"\xd4\xc3").unwrap_err(), CaptureError::Truncated { .. }));
        assert!(matches!(CaptureReader::new(b"hi").unwrap_err(), CaptureError::NotACapture { .. }));
        let e = CaptureReader::new(b"0000001dd0f2").unwrap_err();
        assert!(e.to_string().contains("plugctl decode HEX"), "{e}");
        let e = CaptureReader::new(b"\x1f\x8b\x08\x00").unwrap_err();
        assert!(e.to_string().contains("gzip"), "{e}");
        let e = CaptureReader::new(b"\xd4\xc3\xb2\xa1\x02\x00").unwrap_err();
        assert!(matches!(e, CaptureError::Truncated { offset: 0, .. }), "{e}");
    }

    #[test]
    fn pcapng_time_honours_resolution_and_offset() {
        assert_eq!(ng_time(1_500_000, 1_000_000, 0), Timestamp::new(1, 500_000_000));
        assert_eq!(ng_time(3, 2, 10), Timestamp::new(11, 500_000_000));
        assert_eq!(ng_time(1_000_000_001, 1_000_000_000, -1), Timestamp::new(0, 1));
        assert_eq!(ng_time(u64::MAX, 1, i64::MAX).secs(), i64::MAX);
    }

    /// Found by the `pcap` fuzz target: a block after the section header announcing a total
    /// length of 11 made `pcap-parser` subtract 12 from it and panic on the overflow.
    #[test]
    fn pcapng_block_shorter_than_its_frame_is_malformed() {
        let mut file = Vec::new();
        file.extend_from_slice(&PCAPNG_MAGIC);
        file.extend_from_slice(&28u32.to_le_bytes());
        file.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
        file.extend_from_slice(&[1, 0, 0, 0]); // version 1.0
        file.extend_from_slice(&u64::MAX.to_le_bytes()); // section length unknown
        file.extend_from_slice(&28u32.to_le_bytes());
        for len in [0u32, 8, 11] {
            let mut bad = file.clone();
            bad.extend_from_slice(&0x8000_0001u32.to_le_bytes()); // a custom block type
            bad.extend_from_slice(&len.to_le_bytes());
            bad.extend_from_slice(&[0; 12]);
            let mut reader = CaptureReader::new(&bad).unwrap();
            let err = reader.next().unwrap().unwrap_err();
            assert!(matches!(err, CaptureError::Malformed { offset: 28, .. }), "{err}");
            assert!(err.to_string().contains(&format!("block length {len}")), "{err}");
        }
    }
}
