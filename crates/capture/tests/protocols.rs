//! UDP Kasa discovery and Hi-Flying traffic (TCP control lines, UDP discovery and assist)
//! from synthesized captures, and the JSON lines a script reads.

mod common;

use common::*;
use plugctl_capture::{
    writer::{udp_packet, TcpFlow},
    Content, LinkType, MessageError, Transport,
};
use serde_json::json;

#[test]
fn kasa_udp_broadcast_discovery_pairs_every_answer() {
    let c = addr("127.0.0.1:50000");
    let bcast = addr("127.255.255.255:9999");
    let (d2, d3) = (addr("127.0.0.2:9999"), addr("127.0.0.3:9999"));
    let q = plugctl_proto::kasa::datagram::encode(SYSINFO_REQ.as_bytes());
    let a = |alias: &str| {
        plugctl_proto::kasa::datagram::encode(
            format!(r#"{{"system":{{"get_sysinfo":{{"alias":"{alias}"}}}}}}"#).as_bytes(),
        )
    };
    let p = vec![
        udp_packet(c, bcast, &q).unwrap(),
        udp_packet(d3, c, &a("three")).unwrap(),
        udp_packet(d2, c, &a("two")).unwrap(),
        udp_packet(c, d2, &q).unwrap(),
        udp_packet(c, addr("127.0.0.4:9999"), &q).unwrap(),
        udp_packet(d2, c, &a("two again")).unwrap(),
        udp_packet(d2, c, b"\x00\x01garbage").unwrap(),
    ];
    let d = decode(&capture(Format::Pcap, LinkType::ETHERNET, &p));
    let view: Vec<_> = d
        .exchanges
        .iter()
        .map(|e| {
            (e.transport, e.server, e.request.as_ref().map(|r| r.packet), e.reply.as_ref().map(|r| r.packet))
        })
        .collect();
    let k = Transport::KasaUdp;
    assert_eq!(
        view,
        vec![
            (k, d3, Some(1), Some(2)),
            (k, d2, Some(1), Some(3)),
            (k, d2, Some(4), Some(6)),
            (k, addr("127.0.0.4:9999"), Some(5), None),
            (k, d2, None, Some(7)),
        ]
    );
    assert_eq!(json(&d.exchanges[0].request), json!({"system":{"get_sysinfo":{}}}));
    assert_eq!(json(&d.exchanges[1].reply), json!({"system":{"get_sysinfo":{"alias":"two"}}}));
    assert!(matches!(d.exchanges[4].reply.as_ref().unwrap().content.error(), Some(MessageError::NotJson(_))));
}

#[test]
fn hf_control_lines_and_udp_assist_are_text() {
    let c = addr("127.0.0.1:50001");
    let plug = addr("127.0.0.5:8899");
    let mut f = TcpFlow::new(c, plug, 77, 88);
    let mut p = f.handshake().unwrap();
    p.push(f.segment(true, b"AT+YZSWITCH=1,ON,201808101512\r\n").unwrap());
    p.extend(f.send(false, b"+ok\r\n", 2).unwrap());
    p.push(f.segment(true, b"AT+YZOUT\r\n").unwrap());
    p.push(f.segment(false, b"+ok=1,231.2,0.3,60.5,50.0,0\r\n").unwrap());
    let (assist, plug_udp) = (addr("127.0.0.1:50002"), addr("127.0.0.5:48899"));
    p.push(udp_packet(assist, addr("127.255.255.255:48899"), b"YZ-RECOSCAN").unwrap());
    p.push(udp_packet(plug_udp, assist, b"127.0.0.5,ACCF23000001,1234567890,1,1").unwrap());
    p.push(udp_packet(assist, plug_udp, b"HF-A11ASSISTHREAD").unwrap());
    p.push(udp_packet(plug_udp, assist, b"127.0.0.5,ACCF23000001,HF-LPB100").unwrap());
    p.push(udp_packet(assist, plug_udp, b"+ok").unwrap());
    p.push(udp_packet(assist, plug_udp, b"AT+WSSSID=Home Net\r").unwrap());
    p.push(udp_packet(plug_udp, assist, b"+ok\r\n\r\n").unwrap());
    for format in FORMATS {
        let d = decode(&capture(format, LinkType::LINUX_SLL2, &p));
        let view: Vec<(Transport, Option<String>, Option<String>)> = d
            .exchanges
            .iter()
            .map(|e| {
                (
                    e.transport,
                    e.request.as_ref().map(|_| text(&e.request)),
                    e.reply.as_ref().map(|_| text(&e.reply)),
                )
            })
            .collect();
        let s = |x: &str| Some(x.to_string());
        assert_eq!(
            view,
            vec![
                (Transport::HfTcp, s("AT+YZSWITCH=1,ON,201808101512"), s("+ok")),
                (Transport::HfTcp, s("AT+YZOUT"), s("+ok=1,231.2,0.3,60.5,50.0,0")),
                (Transport::HfUdp, s("YZ-RECOSCAN"), s("127.0.0.5,ACCF23000001,1234567890,1,1")),
                (Transport::HfUdp, s("HF-A11ASSISTHREAD"), s("127.0.0.5,ACCF23000001,HF-LPB100")),
                (Transport::HfUdp, s("+ok"), None),
                (Transport::HfUdp, s("AT+WSSSID=Home Net"), s("+ok")),
            ]
        );
        assert_eq!(d.exchanges[0].server, plug);
        assert_eq!(d.exchanges[2].server, plug_udp);
        // raw keeps the exact bytes, terminators included
        assert_eq!(d.exchanges[0].reply.as_ref().unwrap().raw, b"+ok\r\n");
    }
}

#[test]
fn json_lines_have_a_stable_shape() {
    let c = addr("127.0.0.1:40000");
    let s = addr("127.0.0.2:9999");
    let mut f = TcpFlow::new(c, s, 1, 2);
    let mut p = f.handshake().unwrap();
    p.push(f.segment(true, &frame(SYSINFO_REQ)).unwrap());
    p.push(f.segment(false, &frame("not json")).unwrap());
    let d = decode(&capture(Format::Pcapng, LinkType::ETHERNET, &p));
    let v = serde_json::to_value(&d.exchanges[0]).unwrap();
    assert_eq!(
        v,
        json!({
            "time": "2024-05-01T12:00:00.003000Z",
            "client": "127.0.0.1:40000",
            "server": "127.0.0.2:9999",
            "transport": "kasa-tcp",
            "request": {
                "packet": 4,
                "time": "2024-05-01T12:00:00.003000Z",
                "json": {"system":{"get_sysinfo":{}}},
                "hex": "0000001dd0f281f88bff9af7d5ef94b6d1b4c09fec95e68fe187e8caf08bf68bf6"
            },
            "reply": {
                "packet": 5,
                "time": "2024-05-01T12:00:00.004000Z",
                "error": "the decrypted payload is not JSON (expected ident at line 1 column 2)",
                "text": "not json",
                "hex": plugctl_capture::hex::encode(&frame("not json")),
            }
        })
    );
    assert!(matches!(d.exchanges[0].reply.as_ref().unwrap().content, Content::Undecodable { .. }));
}
