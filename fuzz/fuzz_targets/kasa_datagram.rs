//! Kasa UDP datagrams: the legacy XOR datagram on port 9999 (`kasa::datagram`), the TDP
//! datagram of KLAP firmware on port 20002 (`kasa::tdp`) and the client's reading of a TDP
//! discovery reply (`plugctl_client::kasa::klap::parse_discovery_reply`), plus the capture
//! crate's datagram decoder (`plugctl decode`).
//!
//! Checks: no panic; `decode(encode(x)) == x` and `encode(decode(x)) == x` (the cipher is a
//! bijection); a TDP header decodes to the bytes it came from, and `tdp::encode` output
//! decodes back to its serial and payload with a correct CRC.

#![no_main]

use libfuzzer_sys::fuzz_target;
use plugctl_proto::kasa::{datagram, tdp};

fuzz_target!(|data: &[u8]| {
    let plain = datagram::decode(data);
    assert_eq!(plain.len(), data.len());
    assert_eq!(datagram::encode(&plain), data);
    assert_eq!(datagram::decode(&datagram::encode(data)), data);

    let _ = plugctl_capture::kasa::decode_datagram(data);
    let _ = plugctl_capture::kasa::content_of(data);
    let _ = plugctl_client::kasa::klap::parse_discovery_reply(data);

    match tdp::decode(data) {
        None => assert!(data.len() < tdp::HEADER_LEN),
        Some((h, payload)) => {
            assert_eq!(payload, &data[tdp::HEADER_LEN..]);
            assert_eq!(h.version, data[0]);
            assert_eq!(h.opcode.to_be_bytes(), data[2..4]);
            assert_eq!(h.length.to_be_bytes(), data[4..6]);
            assert_eq!(h.serial.to_be_bytes(), data[8..12]);
            assert_eq!(h.crc.to_be_bytes(), data[12..16]);
        }
    }

    if let Some((serial, payload)) = data.split_first_chunk::<4>() {
        let serial = u32::from_be_bytes(*serial);
        let wire = tdp::encode(serial, payload);
        let (h, p) = tdp::decode(&wire).expect("an encoded datagram has a header");
        assert_eq!((h.serial, h.opcode, p), (serial, tdp::OPCODE_PROBE, payload));
        let mut zeroed = wire.clone();
        zeroed[12..16].copy_from_slice(&0x5A6B_7C8Du32.to_be_bytes());
        assert_eq!(h.crc, tdp::crc32(&zeroed));
    }
});
