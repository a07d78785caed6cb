//! Property tests of the Kasa codecs: round trips over arbitrary UTF-8 JSON, frames split at
//! every boundary, and no panic on arbitrary bytes.

use plugctl_proto::kasa::{cipher, datagram, frame, FrameDecoder, FrameEvent, Response, DEFAULT_MAX_FRAME};
use proptest::prelude::*;
use serde_json::{Map, Value};

/// Arbitrary JSON values with arbitrary Unicode strings (including astral-plane characters).
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e9f64..1e9).prop_map(Value::from),
        ".*".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".*", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn json_object() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(".*", json_value(), 0..6)
        .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>()))
}

proptest! {
    #[test]
    fn cipher_round_trips(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        prop_assert_eq!(cipher::decrypt(&cipher::encrypt(&bytes)), bytes);
    }

    #[test]
    fn tcp_frame_round_trips_arbitrary_json(v in json_object()) {
        let text = v.to_string();
        let f = frame::encode(text.as_bytes());
        prop_assert_eq!(u32::from_be_bytes([f[0], f[1], f[2], f[3]]) as usize, text.len());
        let payload = frame::decode(&f, DEFAULT_MAX_FRAME).unwrap();
        let back = Response::parse(&payload).unwrap().into_value();
        prop_assert_eq!(back, v);
    }

    #[test]
    fn udp_datagram_round_trips_arbitrary_json(v in json_object()) {
        let text = v.to_string();
        let d = datagram::encode(text.as_bytes());
        prop_assert_eq!(d.len(), text.len());
        prop_assert_eq!(Response::parse(&datagram::decode(&d)).unwrap().into_value(), v);
    }

    /// Two frames back to back, fed in two pieces split at every possible boundary.
    #[test]
    fn frames_split_at_every_boundary(a in json_object(), b in json_object()) {
        let (ta, tb) = (a.to_string(), b.to_string());
        let mut stream = frame::encode(ta.as_bytes());
        stream.extend(frame::encode(tb.as_bytes()));
        for cut in 0..=stream.len() {
            let mut dec = FrameDecoder::new(DEFAULT_MAX_FRAME);
            let mut got = Vec::new();
            for piece in [&stream[..cut], &stream[cut..]] {
                dec.push(piece);
                while let Some(ev) = dec.next_event().unwrap() {
                    got.push(ev);
                }
            }
            prop_assert!(dec.finish().is_ok());
            prop_assert_eq!(&got, &vec![
                FrameEvent::Frame(ta.as_bytes().to_vec()),
                FrameEvent::Frame(tb.as_bytes().to_vec()),
            ]);
        }
    }

    /// Byte-at-a-time feeding yields the same frames.
    #[test]
    fn frames_fed_one_byte_at_a_time(a in json_object()) {
        let t = a.to_string();
        let stream = frame::encode(t.as_bytes());
        let mut dec = FrameDecoder::new(DEFAULT_MAX_FRAME);
        let mut got = None;
        for b in &stream {
            dec.push(std::slice::from_ref(b));
            if let Some(ev) = dec.next_event().unwrap() {
                prop_assert!(got.is_none());
                got = Some(ev);
            }
        }
        prop_assert_eq!(got, Some(FrameEvent::Frame(t.into_bytes())));
    }

    /// The decoder never panics and never buffers an oversized frame, whatever arrives.
    #[test]
    fn decoder_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512), max in 0usize..256) {
        let mut dec = FrameDecoder::new(max);
        dec.push(&bytes);
        loop {
            match dec.next_event() {
                Ok(Some(FrameEvent::Frame(p))) => prop_assert!(p.len() <= max),
                Ok(Some(FrameEvent::Empty)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        let _ = dec.finish();
        let _ = frame::decode(&bytes, max);
        let _ = Response::parse(&bytes);
    }
}
