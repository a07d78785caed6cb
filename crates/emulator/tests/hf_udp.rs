//! UDP 48899 of the HF emulator over real loopback sockets: `YZ-RECOSCAN` discovery with
//! reply addressing, and the Hi-Flying assist protocol (hf-protocol.md §3.1–§3.4, §5.3, §5.6).

mod hf_common;

use std::net::Ipv4Addr;

use hf_common::{sta_config, start, start_with, udp_addr, Udp};
use plugctl_emulator::hf::{AssistMode, PlugConfig, ReplyCopy, ServerConfig, StartMode};
use plugctl_proto::hf::{
    assist::{parse_wscan, AtReply, HfError},
    AssistReply, Mac, RecoScanReply,
};

fn ip(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 20, n)
}

fn mac(s: &str) -> Mac {
    Mac::parse(s).unwrap()
}

#[tokio::test]
async fn reference_vectors() {
    // YZ-RECOSCAN with the node-reco identity
    let cfg = PlugConfig {
        mac: mac("ACCF23484D70"),
        serial: "040002298".into(),
        relay_on: true,
        ..sta_config(ip(2))
    };
    let plug = start(cfg).await;
    let to = udp_addr(&plug, ip(2));
    let c = Udp::ephemeral().await;
    let reply = c.ask(to, "\x59\x5A\x2D\x52\x45\x43\x4F\x53\x43\x41\x4E").await;
    assert_eq!(reply, "127.0.20.2,ACCF23484D70,040002298,1,1,0");
    let parsed = RecoScanReply::parse(reply.as_bytes()).unwrap();
    assert_eq!(parsed.ip, ip(2), "payload IP equals the source address");

    // assist with the Orvibo-capture identity
    let cfg = PlugConfig {
        mac: mac("ACCF23D78A6C"),
        start: StartMode::Ap,
        ap_ip: ip(3),
        home_ip: ip(4),
        ..PlugConfig::default()
    };
    let plug = start(cfg).await;
    let to = udp_addr(&plug, ip(3));
    let pw = [
        0x48, 0x46, 0x2D, 0x41, 0x31, 0x31, 0x41, 0x53, 0x53, 0x49, 0x53, 0x54, 0x48, 0x52, 0x45, 0x41, 0x44,
    ];
    c.send(to, &pw).await;
    let (text, from) = c.recv().await;
    assert_eq!((text.as_str(), from), ("127.0.20.3,ACCF23D78A6C,HF-LPB100", to));
    // "+ok" gets no reply: the next datagram is the WSSSID answer
    let r = c.silent_then(to, b"+ok", "AT+WSSSID=MyNet\r").await;
    assert_eq!(r.as_bytes(), [0x2B, 0x6F, 0x6B, 0x0D, 0x0A, 0x0D, 0x0A]);
    let r = c.ask(to, "AT+NOPE\r").await;
    assert_eq!(r.as_bytes(), [0x2B, 0x45, 0x52, 0x52, 0x3D, 0x2D, 0x32, 0x0D, 0x0A, 0x0D, 0x0A]);
}

#[tokio::test]
async fn recoscan_reply_goes_to_the_source_and_a_copy_to_the_plug_port() {
    let plug = start(sta_config(ip(5))).await;
    let to = udp_addr(&plug, ip(5));
    let port = plug.ports().udp;
    // a Reco client listening on "its 48899" (the plug's port number) on 127.0.0.1
    let listener = Udp::bind(Ipv4Addr::LOCALHOST, port).await;
    let eph = Udp::ephemeral().await;
    let direct = eph.ask(to, "YZ-RECOSCAN").await;
    let (copy, from) = listener.recv().await;
    assert_eq!((copy.as_str(), from), (direct.as_str(), to));
    // sent from the port itself: one reply only (the next datagram answers the probe)
    let first = listener.ask(to, "YZ-RECOSCAN").await;
    assert_eq!(first, direct);
    let probe = listener.ask(to, "HF-A11ASSISTHREAD").await;
    assert!(AssistReply::parse(probe.as_bytes()).is_ok(), "{probe:?}");
    // trailing \0 and \r\n, and 3 back-to-back requests: every copy answered
    for variant in ["YZ-RECOSCAN\0", "YZ-RECOSCAN\r\n"] {
        assert_eq!(eph.ask(to, variant).await, direct);
        assert_eq!(listener.recv().await.0, direct);
    }
    for _ in 0..3 {
        eph.send(to, b"YZ-RECOSCAN").await;
    }
    for _ in 0..3 {
        assert_eq!(eph.recv().await.0, direct);
        assert_eq!(listener.recv().await.0, direct);
    }
}

#[tokio::test]
async fn reply_copy_can_be_disabled() {
    let server = ServerConfig { reply_copy: ReplyCopy::Off, ..hf_common::server_cfg() };
    let plug = start_with(sta_config(ip(6)), server).await;
    let to = udp_addr(&plug, ip(6));
    let listener = Udp::bind(Ipv4Addr::LOCALHOST, plug.ports().udp).await;
    let eph = Udp::ephemeral().await;
    let direct = eph.ask(to, "YZ-RECOSCAN").await;
    // the listener's first datagram is the answer to its own probe, not a copy
    let own = listener.ask(to, "HF-A11ASSISTHREAD").await;
    assert!(AssistReply::parse(own.as_bytes()).is_ok(), "{own:?} (direct was {direct:?})");
}

#[tokio::test]
async fn ignored_datagrams_get_no_reply() {
    let plug = start(sta_config(ip(7))).await;
    let to = udp_addr(&plug, ip(7));
    let c = Udp::ephemeral().await;
    for silent in [
        &b"HF-A11ASSISTHREADX"[..],
        b"HF-A11",
        b"WIFIKIT-214028-READ",
        b"www.usr.cn",
        b"smartlinkfind",
        b"RZ-RECOSCAN",
        b"AT+RECOSCAN",
        b"",
        b"\xff\xfe\x00",
        b"127.0.0.9,ACCF23000001,040000001,1,0,0",
    ] {
        let r = c.silent_then(to, silent, "YZ-RECOSCAN").await;
        assert!(RecoScanReply::parse(r.as_bytes()).is_ok(), "{silent:?} was answered: {r:?}");
    }
}

#[tokio::test]
async fn assist_scan_and_wifi_settings_read_back() {
    let cfg = PlugConfig { start: StartMode::Ap, ap_ip: ip(8), home_ip: ip(9), ..PlugConfig::default() };
    let plug = start(cfg).await;
    let to = udp_addr(&plug, ip(8));
    let c = Udp::ephemeral().await;
    let hello = AssistReply::parse(c.ask(to, "HF-A11ASSISTHREAD").await.as_bytes()).unwrap();
    assert_eq!((hello.ip, hello.mac, hello.module_id.as_str()), (ip(8), plug.mac(), "HF-LPB100"));
    c.send(to, b"+ok").await;
    let at = |r: String| AtReply::parse(r.as_bytes()).unwrap();
    let nets = parse_wscan(c.ask(to, "AT+WSCAN\r").await.as_bytes()).unwrap();
    assert!(nets.len() >= 3);
    let home = nets.iter().find(|n| n.ssid == "HomeNet").expect("HomeNet listed");
    assert_eq!(home.security.to_string(), "WPA2PSK/AES");
    assert!(nets.iter().any(|n| n.ssid.contains(',')), "an SSID with a comma: {nets:?}");
    assert_eq!(at(c.ask(to, "at+wsssid=My Net, 2nd\r").await), AtReply::Ok(None));
    assert_eq!(at(c.ask(to, "AT+WSSSID\n").await), AtReply::Ok(Some("My Net, 2nd".into())));
    assert_eq!(at(c.ask(to, "AT+WSKEY=wpa2psk,aes,secret123\r\n").await), AtReply::Ok(None));
    assert_eq!(at(c.ask(to, "AT+WSKEY\r").await), AtReply::Ok(Some("WPA2PSK,AES,secret123".into())));
    assert_eq!(at(c.ask(to, "AT+WSKEY=OPEN,NONE\r").await), AtReply::Ok(None));
    assert_eq!(at(c.ask(to, "AT+WSKEY=OPEN,NONE,\r").await), AtReply::Ok(None));
    assert_eq!(at(c.ask(to, "AT+WSKEY\r").await), AtReply::Ok(Some("OPEN,NONE".into())));
    let hex = "0123456789abcdef".repeat(4);
    assert_eq!(at(c.ask(to, &format!("AT+WSKEY=WPA2PSK,AES,{hex}\r")).await), AtReply::Ok(None));
    assert_eq!(at(c.ask(to, "AT+WSKEY=WPA2PSK,AES,short\r").await), AtReply::Err(HfError::InvalidParameter));
    assert_eq!(at(c.ask(to, "AT+WMODE\r").await), AtReply::Ok(Some("AP".into())));
    assert_eq!(at(c.ask(to, "AT+WMODE=sta\r").await), AtReply::Ok(None));
    assert_eq!(at(c.ask(to, "AT+WMODE\r").await), AtReply::Ok(Some("STA".into())));
    assert_eq!(at(c.ask(to, "AT+WMODE=MESH\r").await), AtReply::Err(HfError::InvalidParameter));
    let mac = at(c.ask(to, "AT+WSMAC\r").await).into_result().unwrap().unwrap();
    assert_eq!(mac, plug.mac().to_string());
    assert_eq!(at(c.ask(to, "AT+WEBU\r").await), AtReply::Ok(Some("ADMIN,ADMIN".into())));
    assert_eq!(at(c.ask(to, "AT+\r").await), AtReply::Err(HfError::InvalidFormat));
    // multi-line datagram: first line only (no reboot)
    assert!(at(c.ask(to, "AT+VER\rAT+Z\r").await).into_result().is_ok());
    assert_eq!(at(c.ask(to, "AT+Q\r").await), AtReply::Ok(None));
    assert!(plug.status().online);
}

#[tokio::test]
async fn wrong_password_and_strict_sessions() {
    let cfg = PlugConfig { assist_mode: AssistMode::Strict, ..sta_config(ip(10)) };
    let plug = start(cfg).await;
    let to = udp_addr(&plug, ip(10));
    let c = Udp::ephemeral().await;
    // wrong password: silence; AT before the handshake: silence
    let r = c.silent_then(to, b"HF-A11ASSISTHREAX", "YZ-RECOSCAN").await;
    assert!(RecoScanReply::parse(r.as_bytes()).is_ok());
    let r = c.silent_then(to, b"AT+VER\r", "YZ-RECOSCAN").await;
    assert!(RecoScanReply::parse(r.as_bytes()).is_ok(), "strict: AT ignored before the handshake");
    c.ask(to, "HF-A11ASSISTHREAD").await;
    c.send(to, b"+ok").await;
    assert!(AtReply::parse(c.ask(to, "AT+VER\r").await.as_bytes()).unwrap().into_result().is_ok());
    // another peer is not in the session
    let other = Udp::ephemeral().await;
    let r = other.silent_then(to, b"AT+VER\r", "YZ-RECOSCAN").await;
    assert!(RecoScanReply::parse(r.as_bytes()).is_ok());
}
