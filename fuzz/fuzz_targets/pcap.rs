//! Capture input (`plugctl decode`): pcap and pcapng containers (`plugctl_capture::file`),
//! link layers down to TCP/UDP (`packet`), TCP reassembly (`tcp`), the Kasa and Hi-Flying
//! payload decoders, and the hex reader for pasted messages (`hex`).
//!
//! Checks: no panic and no hang on any file; a file that opens decodes to at most as many
//! matched packets as it holds; the result serialises to JSON (what `--json` prints); the
//! packet numbers the reader hands out count up from 1; pasted hex round-trips.

#![no_main]

use libfuzzer_sys::fuzz_target;
use plugctl_capture::{decode_capture, hex, packet, CaptureReader, LinkType, Ports};

const LINKS: [LinkType; 7] = [
    LinkType::NULL,
    LinkType::ETHERNET,
    LinkType::RAW,
    LinkType::LOOP,
    LinkType::LINUX_SLL,
    LinkType::LINUX_SLL2,
    LinkType::IPV6,
];

fuzz_target!(|data: &[u8]| {
    // The whole file, as `plugctl decode` reads it.
    if let Ok(d) = decode_capture(data, &Ports::default()) {
        let s = &d.stats;
        assert!(s.matched <= s.packets, "{s:?}");
        assert!(s.malformed <= s.packets, "{s:?}");
        serde_json::to_string(&d.exchanges).expect("exchanges serialise");
        serde_json::to_string(&d.stats).expect("stats serialise");
    }
    if let Ok(reader) = CaptureReader::new(data) {
        for (expect, p) in (1..).zip(reader) {
            let Ok(p) = p else { break };
            assert_eq!(p.number, expect);
            let _ = packet::parse(p.link, p.data);
        }
    }
    // The bytes as one link-layer frame of each type (reaches the header parsers directly).
    if let Some((&sel, frame)) = data.split_first() {
        let _ = packet::parse(LINKS[usize::from(sel) % LINKS.len()], frame);
    }
    // Pasted hex.
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(bytes) = hex::parse(text) {
            assert_eq!(hex::parse(&hex::encode(&bytes)), Ok(bytes));
        }
    }
    if !data.is_empty() {
        assert_eq!(hex::parse(&hex::encode(data)).as_deref(), Ok(data));
    }
});
