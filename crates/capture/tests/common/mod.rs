//! Helpers shared by the capture tests: synthesized conversations written as pcap/pcapng.
#![allow(dead_code)]

use std::net::SocketAddr;

use plugctl_capture::{
    decode_capture,
    writer::{link_frame, PcapWriter, PcapngWriter},
    Content, Decoded, LinkType, Message, Ports, Timestamp,
};
use serde_json::Value;

/// Container formats under test.
pub const FORMATS: [Format; 2] = [Format::Pcap, Format::Pcapng];

/// Link types under test.
pub const LINKS: [LinkType; 6] = [
    LinkType::ETHERNET,
    LinkType::NULL,
    LinkType::LINUX_SLL,
    LinkType::LINUX_SLL2,
    LinkType::RAW,
    LinkType::LOOP,
];

/// Which writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pcap,
    Pcapng,
}

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Time of the i-th packet: 2024-05-01T12:00:00Z plus i milliseconds.
pub fn at(i: usize) -> Timestamp {
    Timestamp::new(1_714_564_800, i as u64 * 1_000_000)
}

/// A capture of IP packets, one millisecond apart.
pub fn capture(format: Format, link: LinkType, ip_packets: &[Vec<u8>]) -> Vec<u8> {
    match format {
        Format::Pcap => {
            let mut w = PcapWriter::new(link);
            for (i, p) in ip_packets.iter().enumerate() {
                w.packet(at(i), &link_frame(link, p).unwrap());
            }
            w.into_bytes()
        }
        Format::Pcapng => {
            let mut w = PcapngWriter::new();
            let iface = w.interface(link);
            for (i, p) in ip_packets.iter().enumerate() {
                w.packet(iface, at(i), &link_frame(link, p).unwrap());
            }
            w.into_bytes()
        }
    }
}

/// Decodes with the default ports; the file must be read completely.
pub fn decode(bytes: &[u8]) -> Decoded {
    let d = decode_capture(bytes, &Ports::default()).expect("a capture");
    assert_eq!(d.stopped, None);
    d
}

/// The JSON of a message (panics with the message if it is not JSON).
pub fn json(m: &Option<Message>) -> Value {
    match m {
        Some(Message { content: Content::Json(v), .. }) => v.clone(),
        other => panic!("not a JSON message: {other:#?}"),
    }
}

/// The text of a message (panics otherwise).
pub fn text(m: &Option<Message>) -> String {
    match m {
        Some(Message { content: Content::Text(t), .. }) => t.clone(),
        other => panic!("not a text message: {other:#?}"),
    }
}

/// The Kasa TCP frame of a JSON text.
pub fn frame(json: &str) -> Vec<u8> {
    plugctl_proto::kasa::frame::encode(json.as_bytes())
}

pub const SYSINFO_REQ: &str = r#"{"system":{"get_sysinfo":{}}}"#;

/// A sysinfo reply long enough to be split into several segments.
pub fn sysinfo_reply() -> String {
    format!(
        r#"{{"system":{{"get_sysinfo":{{"sw_ver":"1.5.4 Build 180815 Rel.121440","hw_ver":"2.0","model":"HS110(EU)","alias":"Küche 😽 {}","relay_state":1,"err_code":0}}}}}}"#,
        "x".repeat(300)
    )
}
