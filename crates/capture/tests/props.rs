//! Fuzz-style properties: no input makes the capture reader, the packet parser, the TCP
//! reassembler or the message decoders panic or hang; and any segmentation, reordering and
//! duplication of a Kasa stream decodes to the same messages.

mod common;

use common::*;
use plugctl_capture::{
    decode_capture, hex,
    writer::{tcp_packet, TcpFlags, TcpFlow},
    Decoder, LinkType, Ports, RawPacket, Timestamp,
};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Feeds IP packets straight into a decoder.
fn decode_ip(packets: &[Vec<u8>]) -> Vec<plugctl_capture::Exchange> {
    let mut d = Decoder::new(Ports::default());
    for (i, p) in packets.iter().enumerate() {
        d.push(&RawPacket {
            number: i as u64 + 1,
            time: at(i),
            link: LinkType::RAW,
            data: p,
            orig_len: p.len() as u32,
        });
    }
    d.finish().0
}

/// A valid two-exchange capture to mutate.
fn sample(format: Format) -> Vec<u8> {
    let mut f = TcpFlow::new(addr("127.0.0.1:40000"), addr("127.0.0.2:9999"), 1, 2);
    let mut p = f.handshake().unwrap();
    p.push(f.segment(true, &frame(SYSINFO_REQ)).unwrap());
    p.extend(f.send(false, &frame(&sysinfo_reply()), 90).unwrap());
    p.push(
        plugctl_capture::writer::udp_packet(addr("127.0.0.1:5"), addr("127.0.0.9:48899"), b"YZ-RECOSCAN")
            .unwrap(),
    );
    capture(format, LinkType::ETHERNET, &p)
}

fn any_link() -> impl Strategy<Value = LinkType> {
    prop_oneof![
        Just(LinkType::ETHERNET),
        Just(LinkType::NULL),
        Just(LinkType::LINUX_SLL),
        Just(LinkType::LINUX_SLL2),
        Just(LinkType::RAW),
        (0u32..300).prop_map(LinkType)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = decode_capture(&bytes, &Ports::default());
    }

    #[test]
    fn arbitrary_records_after_a_valid_header_never_panic(
        ng in any::<bool>(),
        tail in prop::collection::vec(any::<u8>(), 0..2048),
    ) {
        let mut f = sample(if ng { Format::Pcapng } else { Format::Pcap });
        f.truncate(if ng { 60 } else { 24 });
        f.extend(tail);
        let _ = decode_capture(&f, &Ports::default());
    }

    #[test]
    fn mutated_captures_never_panic(
        ng in any::<bool>(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..12),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut f = sample(if ng { Format::Pcapng } else { Format::Pcap });
        for (i, b) in flips {
            let i = i.index(f.len());
            f[i] = b;
        }
        let keep = cut.index(f.len() + 1);
        let _ = decode_capture(&f[..keep], &Ports::default());
        let _ = decode_capture(&f, &Ports::default());
    }

    #[test]
    fn arbitrary_link_frames_never_panic(link in any_link(), data in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = plugctl_capture::packet::parse(link, &data);
    }

    /// Random segments (any sequence numbers, flags, payloads, ports) through the whole
    /// pipeline: reassembly, Kasa framing, Hi-Flying lines, UDP pairing.
    #[test]
    fn arbitrary_segments_never_panic(
        segs in prop::collection::vec(
            (any::<bool>(), 0u32..6, prop_oneof![Just(0u32), Just(u32::MAX - 8), any::<u32>()], 0u8..16, prop::collection::vec(any::<u8>(), 0..64), 0usize..3),
            0..40,
        ),
    ) {
        let ports = [9999u16, 8899, 48899];
        let packets: Vec<Vec<u8>> = segs
            .iter()
            .map(|(from_client, seq_off, seq_base, flags, payload, port)| {
                let (c, s) = (addr("127.0.0.1:40000"), std::net::SocketAddr::new([127, 0, 0, 2].into(), ports[*port]));
                let (src, dst) = if *from_client { (c, s) } else { (s, c) };
                let f = TcpFlags { syn: flags & 1 != 0, fin: flags & 2 != 0, rst: flags & 4 != 0, psh: flags & 8 != 0 };
                let seq = seq_base.wrapping_add(seq_off * 16);
                if *port == 2 {
                    plugctl_capture::writer::udp_packet(src, dst, payload).unwrap()
                } else {
                    tcp_packet(src, dst, seq, Some(1), f, payload).unwrap()
                }
            })
            .collect();
        let _ = decode_ip(&packets);
    }

    /// However a Kasa conversation is cut into segments, reordered and duplicated, the
    /// same requests and replies come out.
    #[test]
    fn any_segmentation_order_and_duplication_decodes_the_same(
        mss in 1usize..200,
        isn in any::<u32>(),
        order in prop::collection::vec(any::<prop::sample::Index>(), 0..20),
        dups in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
    ) {
        let exchanges: Vec<(Value, Value)> = vec![
            (json!({"system":{"get_sysinfo":{}}}), serde_json::from_str(&sysinfo_reply()).unwrap()),
            (json!({"system":{"set_relay_state":{"state":1}}}), json!({"system":{"set_relay_state":{"err_code":0}}})),
        ];
        let mut f = TcpFlow::new(addr("127.0.0.1:40000"), addr("127.0.0.2:9999"), isn, isn ^ 0x5555_5555);
        let mut packets = f.handshake().unwrap();
        for (req, rep) in &exchanges {
            packets.extend(f.send(true, &frame(&req.to_string()), mss).unwrap());
            let mut reply = f.send(false, &frame(&rep.to_string()), mss).unwrap();
            // shuffle within the reply (a reply never overtakes its request)
            for (k, i) in order.iter().enumerate() {
                let n = reply.len();
                reply.swap(k % n, i.index(n));
            }
            for i in &dups {
                let d = reply[i.index(reply.len())].clone();
                reply.push(d);
            }
            packets.extend(reply);
        }
        let got: Vec<(Value, Value)> = decode_ip(&packets)
            .iter()
            .map(|e| (json(&e.request), json(&e.reply)))
            .collect();
        prop_assert_eq!(got, exchanges);
    }

    #[test]
    fn hex_never_panics_and_round_trips(s in ".{0,64}", bytes in prop::collection::vec(any::<u8>(), 1..64)) {
        let _ = hex::parse(&s);
        prop_assert_eq!(hex::parse(&hex::encode(&bytes)), Ok(bytes));
    }

    #[test]
    fn single_message_decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = plugctl_capture::kasa::detect_framing(&bytes);
        let _ = plugctl_capture::kasa::decode_frames(&bytes);
        let _ = plugctl_capture::kasa::decode_datagram(&bytes);
        let _ = plugctl_capture::hf::text_content(&bytes);
    }
}

#[test]
fn timestamps_of_any_value_format() {
    for secs in [i64::MIN, -1, 0, 253_402_300_799, 253_402_300_800, i64::MAX] {
        let _ = Timestamp::new(secs, 999_999_999).to_string();
    }
}
