//! Reco discovery replies on UDP 48899 (`plugctl_proto::hf::recoscan`) and the MAC parser
//! they use (`hf::mac`).
//!
//! Checks: no panic; a decoded reply re-encodes to a datagram that decodes to the same
//! reply; a MAC parsed from the reply prints (both spellings) to text that parses back.

#![no_main]

use libfuzzer_sys::fuzz_target;
use plugctl_proto::hf::{Mac, RecoScanReply};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = RecoScanReply::parse(data) {
        let wire = r.to_wire();
        assert_eq!(RecoScanReply::parse(wire.as_bytes()).as_ref(), Ok(&r), "wire {wire:?}");
        assert_eq!(Mac::parse(&r.mac.to_string()), Ok(r.mac));
        assert_eq!(Mac::parse(&r.mac.to_colon_string()), Ok(r.mac));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(mac) = Mac::parse(text) {
            assert_eq!(Mac::parse(&mac.to_string()), Ok(mac));
            assert_eq!(Mac::parse(&mac.to_colon_string()), Ok(mac));
        }
    }
});
