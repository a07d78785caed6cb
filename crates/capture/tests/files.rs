//! Capture files: hand-built byte-exact pcap variants, pcapng sections and interfaces,
//! truncated files (cut at every byte) and garbage.

mod common;

use common::*;
use plugctl_capture::{
    decode_capture,
    writer::{link_frame, tcp_packet, PcapngWriter, TcpFlags, TcpFlow},
    CaptureError, CaptureFormat, CaptureReader, LinkType, Ports, Timestamp,
};
use serde_json::json;

/// An IP packet: one TCP segment from 127.0.0.1:40000 to 127.0.0.2:9999 with a Kasa request.
fn request_packet() -> Vec<u8> {
    let psh = TcpFlags { psh: true, ..TcpFlags::default() };
    tcp_packet(addr("127.0.0.1:40000"), addr("127.0.0.2:9999"), 1, Some(1), psh, &frame(SYSINFO_REQ)).unwrap()
}

/// A big-endian, nanosecond legacy pcap written by hand, byte by byte from the format.
#[test]
fn hand_built_big_endian_nanosecond_pcap() {
    let ip = request_packet();
    let mut f = Vec::new();
    f.extend([0xa1, 0xb2, 0x3c, 0x4d]); // magic: big-endian, nanoseconds
    f.extend([0, 2, 0, 4]); // version 2.4
    f.extend([0, 0, 0, 0, 0, 0, 0, 0]); // thiszone, sigfigs
    f.extend(65535u32.to_be_bytes()); // snaplen
    f.extend(101u32.to_be_bytes()); // LINKTYPE_RAW
    f.extend(1_714_564_800u32.to_be_bytes());
    f.extend(123_456_789u32.to_be_bytes()); // nanoseconds
    f.extend((ip.len() as u32).to_be_bytes());
    f.extend((ip.len() as u32).to_be_bytes());
    f.extend(&ip);
    let pkts: Vec<_> = CaptureReader::new(&f).unwrap().collect::<Result<_, _>>().unwrap();
    assert_eq!(pkts.len(), 1);
    assert_eq!(pkts[0].time, Timestamp::new(1_714_564_800, 123_456_789));
    assert_eq!(pkts[0].time.to_string(), "2024-05-01T12:00:00.123456Z");
    assert_eq!(pkts[0].link, LinkType::RAW);
    let d = decode(&f);
    assert_eq!(d.format, CaptureFormat::Pcap);
    assert_eq!(json(&d.exchanges[0].request), json!({"system":{"get_sysinfo":{}}}));
    assert!(d.exchanges[0].reply.is_none());
}

/// A pcapng with two sections; the second has two interfaces of different link types and
/// timestamp resolutions (one without `if_tsresol`, i.e. microseconds).
#[test]
fn pcapng_sections_interfaces_and_resolutions() {
    let ip = request_packet();
    let mut w = PcapngWriter::new();
    let i0 = w.interface(LinkType::ETHERNET);
    w.packet(i0, at(0), &link_frame(LinkType::ETHERNET, &ip).unwrap());
    let mut f = w.into_bytes();
    // second section, by hand
    let block = |kind: u32, body: &[u8]| {
        let total = (body.len() + 12) as u32;
        [&kind.to_le_bytes()[..], &total.to_le_bytes(), body, &total.to_le_bytes()].concat()
    };
    let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    shb.extend([1, 0, 0, 0]);
    shb.extend((-1i64).to_le_bytes());
    f.extend(block(0x0a0d_0d0a, &shb));
    let idb = |link: u16| [&link.to_le_bytes()[..], &[0, 0], &0u32.to_le_bytes()].concat();
    f.extend(block(1, &idb(0))); // interface 0: null loopback, µs
    f.extend(block(1, &idb(113))); // interface 1: Linux cooked
    let epb = |iface: u32, ts: u64, data: &[u8]| {
        let mut b = iface.to_le_bytes().to_vec();
        b.extend(((ts >> 32) as u32).to_le_bytes());
        b.extend((ts as u32).to_le_bytes());
        b.extend((data.len() as u32).to_le_bytes());
        b.extend((data.len() as u32).to_le_bytes());
        b.extend(data);
        b.resize(b.len().next_multiple_of(4), 0);
        b
    };
    let us = 1_714_564_801_000_001u64;
    f.extend(block(6, &epb(1, us, &link_frame(LinkType::LINUX_SLL, &ip).unwrap())));
    f.extend(block(6, &epb(0, us + 1, &link_frame(LinkType::NULL, &ip).unwrap())));
    // a name resolution block and an unknown block are skipped
    f.extend(block(4, &[0, 0, 0, 0]));
    f.extend(block(0x0bad, &[1, 2, 3, 4]));
    let pkts: Vec<_> = CaptureReader::new(&f).unwrap().collect::<Result<_, _>>().unwrap();
    let view: Vec<(u64, LinkType, String)> =
        pkts.iter().map(|p| (p.number, p.link, p.time.to_string())).collect();
    assert_eq!(
        view,
        vec![
            (1, LinkType::ETHERNET, "2024-05-01T12:00:00.000000Z".to_string()),
            (2, LinkType::LINUX_SLL, "2024-05-01T12:00:01.000001Z".to_string()),
            (3, LinkType::NULL, "2024-05-01T12:00:01.000002Z".to_string()),
        ]
    );
    let d = decode(&f);
    assert_eq!(d.format, CaptureFormat::Pcapng);
    // Three copies of the same request on one 4-tuple: one request, two retransmissions.
    assert_eq!(d.exchanges.len(), 1);
    assert_eq!(d.stats.reassembly.retransmitted, 2);

    // A packet on an interface no block describes is a clear error.
    let mut bad = PcapngWriter::new().into_bytes();
    bad.extend(block(6, &epb(3, 0, &ip)));
    let err = CaptureReader::new(&bad).unwrap().next().unwrap().unwrap_err();
    assert!(matches!(&err, CaptureError::Malformed { offset: 28, .. }), "{err}");
    assert!(err.to_string().contains("interface 3"), "{err}");
}

/// Every prefix of a capture: no panic; the file header cut is an error; a cut record stops
/// reading with `Truncated` after the packets before it.
#[test]
fn truncated_at_every_byte() {
    let mut f = TcpFlow::new(addr("127.0.0.1:40000"), addr("127.0.0.2:9999"), 1, 2);
    let mut p = f.handshake().unwrap();
    p.push(f.segment(true, &frame(SYSINFO_REQ)).unwrap());
    p.push(f.segment(false, &frame(r#"{"system":{"get_sysinfo":{"err_code":0}}}"#)).unwrap());
    for format in FORMATS {
        let full = capture(format, LinkType::ETHERNET, &p);
        let boundaries: Vec<usize> =
            (0..=p.len()).map(|k| capture(format, LinkType::ETHERNET, &p[..k]).len()).collect();
        for cut in 0..full.len() {
            match decode_capture(&full[..cut], &Ports::default()) {
                Err(CaptureError::Empty) => assert_eq!(cut, 0),
                Err(CaptureError::Truncated { offset: 0, .. }) => {
                    assert!(cut < boundaries[0], "{format:?} {cut}")
                }
                Err(e) => panic!("{format:?} cut at {cut}: {e}"),
                Ok(d) if boundaries.contains(&cut) => assert_eq!(d.stopped, None, "{format:?} {cut}"),
                // pcapng: between the section header and the interface block
                Ok(d) if format == Format::Pcapng && cut == 28 => assert_eq!(d.stopped, None),
                Ok(d) => {
                    let Some(CaptureError::Truncated { offset, .. }) = d.stopped else {
                        panic!("{format:?} cut at {cut}: {:?}", d.stopped)
                    };
                    assert!(
                        boundaries.contains(&(offset as usize)) || offset == 28,
                        "{format:?} {cut}: {offset}"
                    );
                    let complete = boundaries.iter().filter(|&&b| b <= cut).count().saturating_sub(1);
                    assert_eq!(d.stats.packets as usize, complete, "{format:?} {cut}");
                }
            }
        }
        // Cut inside the last packet: the request before it is still decoded.
        let d = decode_capture(&full[..full.len() - 5], &Ports::default()).unwrap();
        assert!(matches!(d.stopped, Some(CaptureError::Truncated { .. })));
        assert!(d.stopped.as_ref().unwrap().to_string().contains("truncated"));
        assert_eq!(json(&d.exchanges[0].request), json!({"system":{"get_sysinfo":{}}}));
        assert!(d.exchanges[0].reply.is_none());
    }
}

#[test]
fn garbage_is_not_a_capture() {
    for (input, want) in [
        (&b""[..], "empty"),
        (b"hello world, this is text", "looks like text"),
        (b"00 00 00 1d d0 f2 81 f8", "plugctl decode HEX"),
        (b"\x1f\x8b\x08\x00\x00\x00", "gzip"),
        (b"\x00\x01\x02\x03\x04\x05", "not a pcap or pcapng capture (it starts with 00010203)"),
    ] {
        let err = decode_capture(input, &Ports::default()).unwrap_err();
        assert!(err.to_string().contains(want), "{input:?}: {err}");
    }
    // A pcapng magic with a bad byte-order mark is malformed, not truncated.
    let mut f = PcapngWriter::new().into_bytes();
    f[8] = 0;
    assert!(matches!(decode_capture(&f, &Ports::default()), Err(CaptureError::Malformed { .. })));
    // Garbage after a valid pcap header stops reading with an error, never a panic.
    let mut w = plugctl_capture::writer::PcapWriter::new(LinkType::ETHERNET);
    w.packet(at(0), &[1, 2, 3]);
    let mut f = w.into_bytes();
    f.extend([0xff; 40]);
    let d = decode_capture(&f, &Ports::default()).unwrap();
    assert_eq!(d.stats.packets, 1);
    assert!(matches!(d.stopped, Some(CaptureError::Truncated { offset: 43, .. })), "{:?}", d.stopped);
    assert_eq!(d.stats.malformed, 1);
}

#[test]
fn unsupported_link_types_are_counted() {
    let mut w = plugctl_capture::writer::PcapWriter::new(LinkType(147));
    w.packet(at(0), &request_packet());
    let d = decode(&w.into_bytes());
    assert!(d.exchanges.is_empty());
    assert_eq!((d.stats.unsupported_link, d.stats.unsupported_link_types.clone()), (1, vec![147]));
}
