//! Hi-Flying assist replies on UDP 48899 (`plugctl_proto::hf::assist`): the discovery reply
//! `ip,MAC,module`, AT replies `+ok[=…]` / `+ERR=<n>`, and the Wi-Fi values a client reads
//! back (`WSKEY`, `WMODE`, SSID validation).
//!
//! Checks: no panic; every decoded reply re-encodes to a datagram that decodes to the same
//! reply; a decoded `WSKEY` value re-encodes to itself; `WMODE` round-trips.

#![no_main]

use libfuzzer_sys::fuzz_target;
use plugctl_proto::hf::assist::{validate_ssid, AssistReply, AtReply, WMode, WsKey};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = AssistReply::parse(data) {
        assert_eq!(AssistReply::parse(r.to_wire().as_bytes()).as_ref(), Ok(&r));
    }
    if let Ok(r) = AtReply::parse(data) {
        let wire = r.to_wire();
        assert_eq!(AtReply::parse(wire.as_bytes()).as_ref(), Ok(&r), "wire {wire:?}");
        if let Ok(Some(value)) = r.clone().into_result() {
            if let Ok(key) = WsKey::parse(&value) {
                assert_eq!(WsKey::parse(&key.to_value()).as_ref(), Ok(&key));
            }
            if let Ok(mode) = value.parse::<WMode>() {
                assert_eq!(mode.as_str().parse::<WMode>(), Ok(mode));
            }
            let _ = validate_ssid(&value);
        }
    }
});
