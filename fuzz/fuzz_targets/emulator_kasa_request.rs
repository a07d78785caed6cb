//! The Kasa emulator's request handling (`plugctl_emulator::kasa::DeviceState::handle`):
//! JSON request parsing and dispatch to every module, with the device's state carried from
//! one request to the next.
//!
//! Input: byte 0 picks a built-in device profile (plug, strip, dimmer, meter plug…); the
//! rest is a sequence of plaintext requests separated by 0xFF (a byte that valid UTF-8 JSON
//! never holds). Requests are handled one simulated second apart.
//!
//! Checks: no panic and no hang; every reply is a JSON object that the client's reply
//! decoder (`Response::parse`) accepts, and that survives the TCP framing round trip.

#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use plugctl_emulator::kasa::{builtin, builtin_names, DeviceState};
use plugctl_fuzz::chunks;
use plugctl_proto::kasa::{frame, Response, DEFAULT_MAX_FRAME};

fn devices() -> &'static [DeviceState] {
    static DEVICES: OnceLock<Vec<DeviceState>> = OnceLock::new();
    DEVICES.get_or_init(|| {
        builtin_names().iter().filter_map(|n| builtin(n)).map(|p| p.instantiate(0, 1)).collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, requests)) = data.split_first() else { return };
    let all = devices();
    let Some(template) = all.get(usize::from(sel) % all.len().max(1)) else { return };
    let mut dev = template.clone();
    let start = Instant::now();
    for (i, req) in chunks::records(requests, 0xFF).enumerate().take(64) {
        let now = start + Duration::from_secs(i as u64);
        let Some(reply) = dev.handle(req, now) else { continue };
        let parsed = Response::parse(&reply);
        assert!(
            parsed.is_ok(),
            "reply {:?} to {:?}: {parsed:?}",
            String::from_utf8_lossy(&reply),
            String::from_utf8_lossy(req)
        );
        if reply.len() <= DEFAULT_MAX_FRAME {
            assert_eq!(frame::decode(&frame::encode(&reply), DEFAULT_MAX_FRAME), Ok(reply));
        }
    }
});
