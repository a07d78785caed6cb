//! TCP reassembly and exchange pairing of `plugctl decode`, driven with well-formed capture
//! files whose *traffic* the fuzzer chooses: segments in any order, overlapping,
//! retransmitted or missing, with SYN/FIN/RST, on the Kasa and Hi-Flying ports, plus UDP
//! datagrams. (Random bytes rarely get through the pcap and IP headers; this target starts
//! behind them.)
//!
//! Input: a sequence of records `[kind, seq_hi, seq_lo, len, payload…]`: `kind` bit 0 =
//! sent by the client, bits 1–4 = SYN/FIN/RST/PSH, bit 5 = UDP, bits 6–7 = port (9999, 8899,
//! 48899, 9998); the sequence number is the side's initial one plus `seq`.
//!
//! Checks: no panic; every written packet is read back (no `stopped`, packet count equal);
//! on the protocol ports every packet is matched; the result serialises to JSON.

#![no_main]

use std::net::SocketAddr;

use libfuzzer_sys::fuzz_target;
use plugctl_capture::writer::{link_frame, tcp_packet, udp_packet, PcapWriter, PcapngWriter, TcpFlags};
use plugctl_capture::{decode_capture, LinkType, Ports, Timestamp};

const PORTS: [u16; 4] = [9999, 8899, 48899, 9998];
const CLIENT_ISN: u32 = 0xFFFF_FF00;
const SERVER_ISN: u32 = 1_000;

fuzz_target!(|data: &[u8]| {
    let Some((&format, mut rest)) = data.split_first() else { return };
    let link = if format & 1 == 0 { LinkType::RAW } else { LinkType::ETHERNET };
    let mut packets = Vec::new();
    let mut on_protocol_ports = 0u64;
    while let [kind, hi, lo, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (payload, next) = tail.split_at(n);
        rest = next;
        let port = PORTS[usize::from(kind >> 6)];
        let client: SocketAddr = ([127, 0, 0, 2], 50_000).into();
        let server: SocketAddr = ([127, 0, 0, 3], port).into();
        let from_client = kind & 1 == 1;
        let (src, dst) = if from_client { (client, server) } else { (server, client) };
        let offset = u32::from(u16::from_be_bytes([*hi, *lo]));
        let ip = if kind & 0x20 != 0 {
            udp_packet(src, dst, payload)
        } else {
            let flags =
                TcpFlags { syn: kind & 2 != 0, fin: kind & 4 != 0, rst: kind & 8 != 0, psh: kind & 16 != 0 };
            let (seq, ack) = if from_client {
                (CLIENT_ISN.wrapping_add(offset), SERVER_ISN)
            } else {
                (SERVER_ISN.wrapping_add(offset), CLIENT_ISN)
            };
            tcp_packet(src, dst, seq, (!flags.syn || !from_client).then_some(ack), flags, payload)
        };
        let Ok(ip) = ip else { return };
        let Ok(frame) = link_frame(link, &ip) else { return };
        let udp = kind & 0x20 != 0;
        if port != 9998 && (!udp || port != 8899) && (udp || port != 48899) {
            on_protocol_ports += 1;
        }
        packets.push(frame);
    }
    let file = if format & 2 == 0 {
        let mut w = PcapWriter::new(link);
        for (i, p) in packets.iter().enumerate() {
            w.packet(Timestamp::new(1_700_000_000 + i as i64, 0), p);
        }
        w.into_bytes()
    } else {
        let mut w = PcapngWriter::new();
        let iface = w.interface(link);
        for (i, p) in packets.iter().enumerate() {
            w.packet(iface, Timestamp::new(1_700_000_000, i as u64 * 1_000), p);
        }
        w.into_bytes()
    };

    let d = decode_capture(&file, &Ports::default()).expect("our own capture opens");
    assert!(d.stopped.is_none(), "stopped: {:?}", d.stopped);
    assert_eq!(d.stats.packets, packets.len() as u64);
    assert_eq!(d.stats.matched, on_protocol_ports, "{:?}", d.stats);
    serde_json::to_string(&d.exchanges).expect("exchanges serialise");
});
