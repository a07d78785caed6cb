//! `AT+WSCAN` tables (`plugctl_proto::hf::assist::wscan`): the whole reply datagram or the
//! table alone.
//!
//! Checks: no panic; a decoded table re-encodes (`encode_wscan_reply`) to a datagram that
//! decodes to the same entries; every entry's row parses back to the entry.

#![no_main]

use libfuzzer_sys::fuzz_target;
use plugctl_proto::hf::assist::{encode_wscan_reply, parse_wscan, ScanEntry};

fuzz_target!(|data: &[u8]| {
    let Ok(entries) = parse_wscan(data) else { return };
    for e in &entries {
        let row = e.to_row();
        assert_eq!(ScanEntry::parse_row(&row).as_ref(), Ok(e), "row {row:?}");
    }
    let wire = encode_wscan_reply(&entries);
    assert_eq!(parse_wscan(wire.as_bytes()).as_ref(), Ok(&entries), "wire {wire:?}");
});
