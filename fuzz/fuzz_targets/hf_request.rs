//! The server-side Hi-Flying parsers in `plugctl_proto::hf` that an emulator (or anyone
//! answering plugs' clients) runs on network bytes: the TCP 8899 line reassembler
//! `ControlStream` / `parse_segment`, and the UDP 48899 datagram classifier `classify`.
//!
//! Input: byte 0 picks the line cap, byte 1 seeds how the rest is cut into pieces.
//!
//! Checks: no panic; pushing the stream in pieces then flushing gives the same requests as
//! `parse_segment`-style whole processing; the pending buffer never exceeds the line cap;
//! an `Unknown` request never holds more than the cap; a classified AT verb is upper-case
//! alphanumeric and never empty.

#![no_main]

use libfuzzer_sys::fuzz_target;
use plugctl_fuzz::chunks;
use plugctl_proto::hf::{
    classify, parse_segment, ControlRequest, ControlStream, UdpRequest, DEFAULT_ASSIST_PASSWORD, MAX_LINE,
};

const CAPS: [usize; 4] = [1, 8, 64, MAX_LINE];

fn check(reqs: &[ControlRequest], cap: usize) {
    for r in reqs {
        if let ControlRequest::Unknown(s) = r {
            assert!(s.chars().count() <= cap, "Unknown of {} chars, cap {cap}", s.chars().count());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [sel, seed, stream @ ..] = data else { return };
    let cap = CAPS[usize::from(*sel) % CAPS.len()];

    let mut whole = ControlStream::new(cap);
    let mut want = whole.push(stream);
    want.extend(whole.flush());
    check(&want, cap);

    let mut split = ControlStream::new(cap);
    let mut got = Vec::new();
    for piece in chunks::pieces(stream, *seed, 32) {
        got.extend(split.push(piece));
        assert!(split.pending().len() <= cap, "pending {} > cap {cap}", split.pending().len());
        let _ = split.pending_is_complete();
    }
    got.extend(split.flush());
    assert_eq!(want, got, "whole vs pieces");
    if cap == MAX_LINE {
        assert_eq!(parse_segment(stream), want);
    }

    for password in [DEFAULT_ASSIST_PASSWORD, ""] {
        match classify(stream, password) {
            UdpRequest::At { verb, .. } => {
                assert!(!verb.is_empty());
                assert!(verb.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()), "{verb:?}");
            }
            UdpRequest::AssistPassword(p) => assert_eq!(p, password),
            _ => {}
        }
    }
});
