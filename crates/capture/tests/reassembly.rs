//! TCP reassembly through whole captures: reordered, duplicated, overlapping and missing
//! segments, captures that start mid-connection, sequence wrap-around, 4-tuple reuse, every
//! link type, pcap and pcapng.

mod common;

use common::*;
use plugctl_capture::{
    writer::{tcp_packet, udp_packet, TcpFlags, TcpFlow},
    Content, LinkType, MessageError, Transport,
};
use serde_json::{json, Value};

fn client() -> std::net::SocketAddr {
    addr("127.0.0.1:40000")
}

fn server() -> std::net::SocketAddr {
    addr("127.0.0.2:9999")
}

/// A full Kasa conversation: handshake, request, reply in `mss`-byte segments, FIN, FIN.
fn conversation(client_isn: u32, mss: usize) -> (Vec<Vec<u8>>, String) {
    let reply = sysinfo_reply();
    let mut f = TcpFlow::new(client(), server(), client_isn, 7_000);
    let mut p = f.handshake().unwrap();
    p.push(f.segment(true, &frame(SYSINFO_REQ)).unwrap());
    p.extend(f.send(false, &frame(&reply), mss).unwrap());
    p.push(f.fin(true).unwrap());
    p.push(f.fin(false).unwrap());
    (p, reply)
}

fn expect_one_sysinfo_exchange(d: &plugctl_capture::Decoded, reply: &str) {
    assert_eq!(d.exchanges.len(), 1, "{:#?}", d.exchanges);
    let e = &d.exchanges[0];
    assert_eq!((e.client, e.server, e.transport), (client(), server(), Transport::KasaTcp));
    assert_eq!(json(&e.request), json!({"system":{"get_sysinfo":{}}}));
    assert_eq!(json(&e.reply), serde_json::from_str::<Value>(reply).unwrap());
}

#[test]
fn every_link_type_and_format_decodes_a_split_reply() {
    let (packets, reply) = conversation(1_000, 100);
    for format in FORMATS {
        for link in LINKS {
            let d = decode(&capture(format, link, &packets));
            expect_one_sysinfo_exchange(&d, &reply);
            let e = &d.exchanges[0];
            assert_eq!(e.time, at(3), "{format:?} {link:?}");
            assert_eq!(e.request.as_ref().unwrap().packet, 4);
            assert_eq!(e.reply.as_ref().unwrap().packet, 5);
            assert_eq!(e.reply.as_ref().unwrap().raw, frame(&reply));
            assert_eq!(d.stats.packets, packets.len() as u64);
            assert_eq!(d.stats.tcp_connections, 1);
            assert_eq!(d.stats.reassembly, Default::default());
        }
    }
}

#[test]
fn ipv6_works_too() {
    let (c, s) = (addr("[::1]:40000"), addr("[::1]:9999"));
    let mut f = TcpFlow::new(c, s, 1, 2);
    let mut p = f.handshake().unwrap();
    p.push(f.segment(true, &frame(SYSINFO_REQ)).unwrap());
    p.extend(f.send(false, &frame(r#"{"ok":1}"#), 3).unwrap());
    let d = decode(&capture(Format::Pcapng, LinkType::NULL, &p));
    assert_eq!(d.exchanges.len(), 1);
    assert_eq!((d.exchanges[0].client, d.exchanges[0].server), (c, s));
    assert_eq!(json(&d.exchanges[0].reply), json!({"ok":1}));
}

#[test]
fn reordered_segments_are_put_in_order() {
    let (mut packets, reply) = conversation(1_000, 60);
    // reply segments are packets 4.. (after 3 handshake packets and the request)
    let n = packets.len();
    packets[4..n - 2].reverse();
    packets.swap(1, 2);
    let d = decode(&capture(Format::Pcap, LinkType::ETHERNET, &packets));
    expect_one_sysinfo_exchange(&d, &reply);
    // The reply's first byte came in the last reply packet captured.
    assert_eq!(d.exchanges[0].reply.as_ref().unwrap().packet, (n - 2) as u64);
    assert_eq!(d.stats.reassembly.gaps, 0);
}

#[test]
fn retransmissions_and_duplicates_are_dropped() {
    let (packets, reply) = conversation(1_000, 80);
    let mut dup = Vec::new();
    for (i, p) in packets.iter().enumerate() {
        dup.push(p.clone());
        if (3..packets.len() - 2).contains(&i) {
            dup.push(p.clone());
        }
    }
    dup.push(packets[5].clone()); // a late retransmission
    let d = decode(&capture(Format::Pcapng, LinkType::LINUX_SLL, &dup));
    expect_one_sysinfo_exchange(&d, &reply);
    let reply_segments = packets.len() - 2 - 4;
    assert_eq!(d.stats.reassembly.retransmitted, 1 + reply_segments as u64 + 1);
}

#[test]
fn overlapping_segments_are_trimmed() {
    let reply = frame(&sysinfo_reply());
    let (c, s) = (client(), server());
    let psh = TcpFlags { psh: true, ..TcpFlags::default() };
    let mut f = TcpFlow::new(c, s, 100, 5_000);
    let mut p = f.handshake().unwrap();
    p.push(f.segment(true, &frame(SYSINFO_REQ)).unwrap());
    let base = 5_001u32;
    let ack = Some(101 + frame(SYSINFO_REQ).len() as u32);
    // [0,50) [30,120) [100,len) [10,20): overlaps, including one entirely inside
    for (from, to) in [(0, 50), (30, 120), (100, reply.len()), (10, 20)] {
        p.push(tcp_packet(s, c, base + from as u32, ack, psh, &reply[from..to]).unwrap());
    }
    let d = decode(&capture(Format::Pcap, LinkType::RAW, &p));
    expect_one_sysinfo_exchange(&d, &sysinfo_reply());
    assert_eq!(d.stats.reassembly.overlapping, 2);
    assert_eq!(d.stats.reassembly.retransmitted, 1);
}

#[test]
fn a_missing_segment_is_a_gap_and_the_rest_still_shows() {
    let (mut packets, _) = conversation(1_000, 100);
    let lost = packets.remove(5); // second reply segment
    let d = decode(&capture(Format::Pcapng, LinkType::ETHERNET, &packets));
    assert_eq!(d.exchanges.len(), 1, "{:#?}", d.exchanges);
    let reply = d.exchanges[0].reply.as_ref().unwrap();
    let Content::Undecodable { error, text: Some(text) } = &reply.content else { panic!("{reply:#?}") };
    assert_eq!(error, &MessageError::Missing { bytes: (lost.len() - 40) as u64 });
    assert!(text.starts_with(r#"{"system":{"get_sysinfo":{"sw_ver""#), "{text}");
    assert!(text.contains('…') && text.ends_with(r#""relay_state":1,"err_code":0}}}"#), "{text}");
    assert_eq!(d.stats.reassembly.gaps, 1);
    assert_eq!(d.stats.reassembly.gap_bytes, 100);
}

#[test]
fn a_lost_tail_and_a_lost_request_are_reported_not_hung_on() {
    // The last reply segment and the FIN are missing: the frame is incomplete.
    let (packets, _) = conversation(1_000, 100);
    let cut: Vec<_> = packets[..packets.len() - 3].to_vec();
    let d = decode(&capture(Format::Pcap, LinkType::NULL, &cut));
    let reply = d.exchanges[0].reply.as_ref().unwrap();
    assert!(matches!(reply.content.error(), Some(MessageError::Incomplete { .. })), "{reply:#?}");

    // The request segment is missing: a placeholder request, the reply still decodes.
    let (mut packets, reply) = conversation(1_000, 100);
    packets.remove(3);
    let d = decode(&capture(Format::Pcap, LinkType::NULL, &packets));
    assert_eq!(d.exchanges.len(), 1, "{:#?}", d.exchanges);
    let e = &d.exchanges[0];
    assert!(matches!(e.request.as_ref().unwrap().content.error(), Some(MessageError::Lost { bytes: 33 })));
    assert_eq!(json(&e.reply), serde_json::from_str::<Value>(&reply).unwrap());
}

#[test]
fn a_capture_started_mid_connection_resyncs_on_the_next_frame() {
    let reply = frame(&sysinfo_reply());
    let mut f = TcpFlow::new(client(), server(), 1, 2);
    let _ = f.handshake().unwrap();
    let mut p = Vec::new();
    // first exchange: request and reply, of which the capture only sees the reply's tail
    let _ = f.segment(true, &frame(SYSINFO_REQ)).unwrap();
    let _ = f.segment(false, &reply[..200]).unwrap();
    p.push(f.segment(false, &reply[200..]).unwrap());
    // second exchange, whole
    p.push(f.segment(true, &frame(r#"{"system":{"set_relay_state":{"state":0}}}"#)).unwrap());
    p.push(f.segment(false, &frame(r#"{"system":{"set_relay_state":{"err_code":0}}}"#)).unwrap());
    let d = decode(&capture(Format::Pcapng, LinkType::ETHERNET, &p));
    assert_eq!(d.exchanges.len(), 2, "{:#?}", d.exchanges);
    // The tail is reported as out of step and stands alone (its request was not captured).
    assert!(d.exchanges[0].request.is_none());
    let tail = d.exchanges[0].reply.as_ref().unwrap();
    assert!(matches!(tail.content.error(), Some(MessageError::OutOfStep { .. })), "{tail:#?}");
    assert_eq!(json(&d.exchanges[1].request), json!({"system":{"set_relay_state":{"state":0}}}));
    assert_eq!(json(&d.exchanges[1].reply), json!({"system":{"set_relay_state":{"err_code":0}}}));
}

#[test]
fn sequence_numbers_wrap_around() {
    let (packets, reply) = conversation(u32::MAX - 40, 7);
    let d = decode(&capture(Format::Pcap, LinkType::ETHERNET, &packets));
    expect_one_sysinfo_exchange(&d, &reply);
    // and the server side wrapping too, with the reply segments shuffled
    let mut f = TcpFlow::new(client(), server(), 5, u32::MAX - 100);
    let mut p = f.handshake().unwrap();
    p.push(f.segment(true, &frame(SYSINFO_REQ)).unwrap());
    let mut segs = f.send(false, &frame(&reply), 50).unwrap();
    segs.rotate_left(3);
    p.extend(segs);
    let d = decode(&capture(Format::Pcapng, LinkType::RAW, &p));
    assert_eq!(json(&d.exchanges[0].reply), serde_json::from_str::<Value>(&reply).unwrap());
}

#[test]
fn pipelined_requests_and_several_connections_pair_in_order() {
    let mut p = Vec::new();
    let c2 = addr("127.0.0.1:40001");
    let mut f1 = TcpFlow::new(client(), server(), 10, 20);
    let mut f2 = TcpFlow::new(c2, server(), 30, 40);
    p.extend(f1.handshake().unwrap());
    p.extend(f2.handshake().unwrap());
    p.push(f1.segment(true, &[frame(r#"{"a":1}"#), frame(r#"{"a":2}"#)].concat()).unwrap());
    p.push(f2.segment(true, &frame(r#"{"b":1}"#)).unwrap());
    p.push(f2.segment(false, &frame(r#"{"b":"one"}"#)).unwrap());
    p.push(f1.segment(false, &frame(r#"{"a":"one"}"#)).unwrap());
    p.push(f1.segment(false, &frame(r#"{"a":"two"}"#)).unwrap());
    p.push(f1.segment(true, &frame(r#"{"a":3}"#)).unwrap()); // never answered
    let d = decode(&capture(Format::Pcap, LinkType::ETHERNET, &p));
    let view: Vec<(u16, Value, Option<Value>)> = d
        .exchanges
        .iter()
        .map(|e| (e.client.port(), json(&e.request), e.reply.as_ref().map(|_| json(&e.reply))))
        .collect();
    assert_eq!(
        view,
        vec![
            (40000, json!({"a":1}), Some(json!({"a":"one"}))),
            (40000, json!({"a":2}), Some(json!({"a":"two"}))),
            (40001, json!({"b":1}), Some(json!({"b":"one"}))),
            (40000, json!({"a":3}), None),
        ]
    );
}

#[test]
fn a_reused_four_tuple_is_a_new_connection() {
    let mut p = Vec::new();
    for (i, isn) in [(1, 1_000u32), (2, 900_000)] {
        let mut f = TcpFlow::new(client(), server(), isn, isn + 5);
        p.extend(f.handshake().unwrap());
        p.push(f.segment(true, &frame(&format!(r#"{{"n":{i}}}"#))).unwrap());
        p.push(f.segment(false, &frame(&format!(r#"{{"r":{i}}}"#))).unwrap());
        p.push(f.fin(true).unwrap());
        p.push(f.fin(false).unwrap());
    }
    let d = decode(&capture(Format::Pcapng, LinkType::LINUX_SLL2, &p));
    assert_eq!(d.stats.tcp_connections, 2);
    let got: Vec<(Value, Value)> = d.exchanges.iter().map(|e| (json(&e.request), json(&e.reply))).collect();
    assert_eq!(got, vec![(json!({"n":1}), json!({"r":1})), (json!({"n":2}), json!({"r":2}))]);
}

#[test]
fn snapped_packets_report_missing_bytes() {
    let (packets, _) = conversation(1, 1_000);
    let mut w = plugctl_capture::writer::PcapWriter::new(LinkType::RAW);
    for (i, p) in packets.iter().enumerate() {
        let keep = if i == 4 { p.len() - 50 } else { p.len() };
        w.packet_snapped(at(i), &p[..keep], p.len());
    }
    let d = decode(&w.into_bytes());
    let reply = d.exchanges[0].reply.as_ref().unwrap();
    assert_eq!(reply.content.error(), Some(&MessageError::Missing { bytes: 50 }), "{reply:#?}");
}

#[test]
fn other_ports_and_protocols_are_counted_not_decoded() {
    let (c, s) = (client(), addr("127.0.0.2:80"));
    let p = vec![
        tcp_packet(c, s, 1, None, TcpFlags::default(), b"GET / HTTP/1.1\r\n\r\n").unwrap(),
        udp_packet(c, addr("127.0.0.2:53"), b"dns").unwrap(),
    ];
    let d = decode(&capture(Format::Pcap, LinkType::ETHERNET, &p));
    assert!(d.exchanges.is_empty());
    assert_eq!((d.stats.packets, d.stats.matched, d.stats.other_ports), (2, 0, 2));
}

#[test]
fn port_overrides_pick_other_ports() {
    let s = addr("127.0.0.2:19999");
    let mut f = TcpFlow::new(client(), s, 1, 2);
    let mut p = f.handshake().unwrap();
    p.push(f.segment(true, &frame(SYSINFO_REQ)).unwrap());
    p.push(f.segment(false, &frame(r#"{"ok":1}"#)).unwrap());
    let bytes = capture(Format::Pcap, LinkType::ETHERNET, &p);
    assert!(decode(&bytes).exchanges.is_empty());
    let ports = plugctl_capture::Ports { kasa: vec![19999], ..Default::default() };
    let d = plugctl_capture::decode_capture(&bytes, &ports).unwrap();
    assert_eq!(d.exchanges.len(), 1);
    assert_eq!(d.exchanges[0].server, s);
}
