//! The TDP datagram of newer firmware's discovery on UDP 20002 (kasa-protocol.md §6): a
//! 16-byte header, then plain JSON. plugctl only uses it to *recognise* KLAP/AES firmware.
//!
//! Header (big-endian): version (2), message type (0), opcode (1 = probe), payload length
//! (u16), flags (0x11), reserved (0), serial (u32), CRC-32 of the whole datagram computed
//! with this field set to `0x5A6B7C8D`.

/// Length of the header.
pub const HEADER_LEN: usize = 16;

/// The value the CRC field holds while the CRC is computed.
const CRC_PLACEHOLDER: u32 = 0x5A6B_7C8D;

/// Opcode of a discovery probe (and its reply).
pub const OPCODE_PROBE: u16 = 1;

/// A decoded TDP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Protocol version (2).
    pub version: u8,
    /// Message type.
    pub msg_type: u8,
    /// Operation.
    pub opcode: u16,
    /// Announced payload length.
    pub length: u16,
    /// Flags (0x11 on probes and replies).
    pub flags: u8,
    /// Serial chosen by the asker and echoed in the reply.
    pub serial: u32,
    /// CRC-32 field as received.
    pub crc: u32,
}

/// Encodes a TDP datagram: header with the given serial (opcode probe, flags 0x11) and
/// `payload`, with the CRC filled in.
pub fn encode(serial: u32, payload: &[u8]) -> Vec<u8> {
    let len = u16::try_from(payload.len()).unwrap_or(u16::MAX);
    let mut d = Vec::with_capacity(HEADER_LEN + payload.len());
    d.extend_from_slice(&[2, 0]);
    d.extend_from_slice(&OPCODE_PROBE.to_be_bytes());
    d.extend_from_slice(&len.to_be_bytes());
    d.extend_from_slice(&[0x11, 0]);
    d.extend_from_slice(&serial.to_be_bytes());
    d.extend_from_slice(&CRC_PLACEHOLDER.to_be_bytes());
    d.extend_from_slice(payload);
    let crc = crc32(&d);
    d[12..16].copy_from_slice(&crc.to_be_bytes());
    d
}

/// Splits a datagram into its header and payload; `None` if it is shorter than a header.
/// Neither the version nor the CRC is checked: clients ignore both, and so do we.
pub fn decode(datagram: &[u8]) -> Option<(Header, &[u8])> {
    let h = datagram.get(..HEADER_LEN)?;
    let be16 = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
    let be32 = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let header = Header {
        version: h[0],
        msg_type: h[1],
        opcode: be16(2),
        length: be16(4),
        flags: h[6],
        serial: be32(8),
        crc: be32(12),
    };
    Some((header, &datagram[HEADER_LEN..]))
}

/// CRC-32 (IEEE 802.3, as zlib's `crc32`).
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn round_trip_and_crc() {
        let d = encode(0x0102_0304, b"{}");
        assert_eq!(d.len(), HEADER_LEN + 2);
        let (h, p) = decode(&d).expect("decodes");
        assert_eq!((h.version, h.opcode, h.length, h.flags, h.serial), (2, 1, 2, 0x11, 0x0102_0304));
        assert_eq!(p, b"{}");
        let mut check = d.clone();
        check[12..16].copy_from_slice(&CRC_PLACEHOLDER.to_be_bytes());
        assert_eq!(crc32(&check), h.crc);
        assert!(decode(&d[..15]).is_none());
        assert_eq!(decode(&d[..16]).map(|(_, p)| p.len()), Some(0));
    }
}
