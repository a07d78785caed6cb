//! Kasa TCP framing (`plugctl_proto::kasa::frame`): `FrameDecoder` and `frame::decode`.
//!
//! Input: byte 0 picks the size cap, byte 1 seeds how the rest is cut into pieces, the rest
//! is the byte stream a peer sent.
//!
//! Checks: no panic; the same events (frames, empty headers, errors) come out whether the
//! stream is pushed whole or in pieces; every frame is at most the cap; `needed()` stays in
//! 1..=4+cap; nothing is allocated beyond the cap plus what was pushed; every frame
//! re-encodes to bytes that decode back to it; `frame::decode` agrees with the decoder.

#![no_main]

use libfuzzer_sys::fuzz_target;
use plugctl_fuzz::{alloc, chunks};
use plugctl_proto::kasa::frame::{self, FrameDecoder, FrameEvent, HEADER_LEN};
use plugctl_proto::kasa::{FrameError, DEFAULT_MAX_FRAME};

const CAPS: [usize; 6] = [0, 1, 7, 64, 1500, DEFAULT_MAX_FRAME];

/// Everything the decoder produced for a stream, in order; stops at the first error.
fn drain(dec: &mut FrameDecoder, out: &mut Vec<Result<FrameEvent, FrameError>>) -> bool {
    loop {
        let needed = dec.needed();
        assert!(needed >= 1 && needed <= HEADER_LEN + dec.max(), "needed() = {needed}");
        match dec.next_event() {
            Ok(Some(ev)) => {
                if let FrameEvent::Frame(p) = &ev {
                    assert!(!p.is_empty() && p.len() <= dec.max(), "frame of {} bytes", p.len());
                }
                out.push(Ok(ev));
            }
            Ok(None) => return true,
            Err(e) => {
                out.push(Err(e));
                return false;
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [sel, seed, stream @ ..] = data else { return };
    let max = CAPS[usize::from(*sel) % CAPS.len()];

    // Size cap: decode the stream once, dropping what comes out, and look at the largest
    // allocation the decoder made (its buffer holds at most what was pushed).
    alloc::reset();
    let mut probe = FrameDecoder::new(max);
    probe.push(stream);
    while let Ok(Some(ev)) = probe.next_event() {
        drop(ev);
    }
    let largest = alloc::largest();
    assert!(
        largest <= stream.len().max(max).max(8),
        "allocated {largest} bytes for a {}-byte stream with cap {max}",
        stream.len()
    );
    drop(probe);

    let mut whole = FrameDecoder::new(max);
    whole.push(stream);
    let mut want = Vec::new();
    let whole_ok = drain(&mut whole, &mut want);

    let mut split = FrameDecoder::new(max);
    let mut got = Vec::new();
    let mut split_ok = true;
    for piece in chunks::pieces(stream, *seed, 64) {
        split.push(piece);
        if !drain(&mut split, &mut got) {
            split_ok = false;
            break;
        }
    }
    assert_eq!(want, got, "whole vs pieces");
    assert_eq!(whole_ok, split_ok);
    if whole_ok {
        assert_eq!(whole.buffered(), split.buffered());
        assert_eq!(whole.finish(), split.finish());
    }

    for ev in &want {
        if let Ok(FrameEvent::Frame(p)) = ev {
            let wire = frame::encode(p);
            assert_eq!(wire.len(), HEADER_LEN + p.len());
            assert_eq!(frame::decode(&wire, max).as_ref(), Ok(p));
        }
    }

    let one = frame::decode(stream, max);
    match (&one, want.first()) {
        (Ok(p), Some(Ok(FrameEvent::Frame(q)))) => {
            assert_eq!(p, q);
            assert_eq!(want.len(), 1);
            assert_eq!(whole.buffered(), 0);
        }
        (Ok(_), other) => panic!("frame::decode succeeded but the decoder gave {other:?}"),
        (Err(FrameError::ZeroLength), first) => assert_eq!(first, Some(&Ok(FrameEvent::Empty))),
        (Err(_), _) => {}
    }
});
