//! UDP behaviour of [`PlugState`] (assist, discovery, reboot), sans I/O.

use std::{
    net::{Ipv4Addr, SocketAddr},
    time::{Duration, Instant},
};

use plugctl_proto::hf::assist::{parse_wscan, AtReply, HfError, WMode};

use super::*;
use crate::hf::config::{AssistMode, PlugConfig, StartMode};

const AP: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
const HOME: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 3);

fn ap_plug(mode: AssistMode) -> PlugState {
    PlugState::new(PlugConfig {
        start: StartMode::Ap,
        ap_ip: AP,
        home_ip: HOME,
        assist_mode: mode,
        ..PlugConfig::default()
    })
    .unwrap()
}

fn peer() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 40_000))
}

fn send(p: &mut PlugState, d: &str, now: Instant) -> Option<String> {
    p.handle_datagram(d.as_bytes(), peer(), AP, now).reply.map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn at(p: &mut PlugState, d: &str, now: Instant) -> AtReply {
    AtReply::parse(send(p, d, now).unwrap_or_default().as_bytes()).unwrap()
}

#[test]
fn reference_vectors() {
    let mut p = ap_plug(AssistMode::Lenient);
    let t = Instant::now();
    let mac = p.mac();
    let out = p.handle_datagram(b"YZ-RECOSCAN", peer(), AP, t);
    assert!(out.discovery);
    assert_eq!(
        String::from_utf8(out.reply.unwrap()).unwrap(),
        format!("127.0.0.2,{mac},{},1,0,0", p.serial())
    );
    assert_eq!(send(&mut p, "HF-A11ASSISTHREAD", t).unwrap(), format!("127.0.0.2,{mac},HF-LPB100"));
    assert_eq!(send(&mut p, "+ok", t), None);
    assert!(p.in_assist_session(&peer(), t));
    assert_eq!(send(&mut p, "AT+WSSSID=MyNet\r", t).unwrap(), "+ok\r\n\r\n");
    assert_eq!(send(&mut p, "AT+NOPE\r", t).unwrap(), "+ERR=-2\r\n\r\n");
}

#[test]
fn provisioning_read_back_and_reboot_into_sta() {
    let mut p = ap_plug(AssistMode::Lenient);
    let t = Instant::now();
    assert_eq!(p.addresses(), vec![AP]);
    let nets = parse_wscan(send(&mut p, "AT+WSCAN\r", t).unwrap().as_bytes()).unwrap();
    assert!(nets.iter().any(|n| n.ssid == "HomeNet"));
    assert!(nets.iter().any(|n| n.ssid.contains(',')));
    assert_eq!(at(&mut p, "AT+WSSSID=HomeNet\r", t), AtReply::Ok(None));
    assert_eq!(at(&mut p, "AT+WSKEY=WPA2PSK,AES,correct horse battery\n", t), AtReply::Ok(None));
    assert_eq!(at(&mut p, "AT+WMODE=STA\r\n", t), AtReply::Ok(None));
    assert_eq!(at(&mut p, "AT+WSSSID\r", t), AtReply::Ok(Some("HomeNet".into())));
    assert_eq!(at(&mut p, "at+wskey\r", t), AtReply::Ok(Some("WPA2PSK,AES,correct horse battery".into())));
    assert_eq!(at(&mut p, "AT+WMODE\r", t), AtReply::Ok(Some("STA".into())));
    assert_eq!(at(&mut p, "AT+WSLK\r", t), AtReply::Ok(Some("Disconnected".into())));
    let out = p.handle_datagram(b"AT+Z\r", peer(), AP, t);
    assert_eq!((out.reply, out.reboot), (None, true));
    assert!(p.is_booting());
    assert!(p.addresses().is_empty());
    assert_eq!(send(&mut p, "YZ-RECOSCAN", t), None, "silent while rebooting");
    assert_eq!(p.finish_boot(t).ssid(), Some("HomeNet"));
    assert_eq!(p.addresses(), vec![HOME]);
    assert_eq!(p.boots(), 1);
    let wslk = at(&mut p, "AT+WSLK\r", t);
    assert!(matches!(wslk, AtReply::Ok(Some(v)) if v.starts_with("HomeNet(")));
    let wann = at(&mut p, "AT+WANN\r", t);
    assert_eq!(wann, AtReply::Ok(Some("DHCP,127.0.0.3,255.0.0.0,127.0.0.1".into())));
}

#[test]
fn wrong_key_falls_back_to_ap() {
    let mut p = ap_plug(AssistMode::Lenient);
    let t = Instant::now();
    at(&mut p, "AT+WSSSID=HomeNet\r", t);
    at(&mut p, "AT+WSKEY=WPA2PSK,AES,wrong horse battery\r", t);
    at(&mut p, "AT+WMODE=STA\r", t);
    send(&mut p, "AT+Z\r", t);
    assert_eq!(p.finish_boot(t), &Link::Ap);
    assert_eq!(p.addresses(), vec![AP]);
    assert_eq!(p.wifi_mode(), WMode::Sta, "settings are kept for the user to fix");
}

#[test]
fn validation_errors() {
    let mut p = ap_plug(AssistMode::Lenient);
    let t = Instant::now();
    let e4 = AtReply::Err(HfError::InvalidParameter);
    assert_eq!(at(&mut p, "AT+WSKEY=WPA2PSK,AES,short\r", t), e4);
    assert_eq!(at(&mut p, "AT+WSKEY=OPEN,NONE,\r", t), AtReply::Ok(None));
    assert_eq!(at(&mut p, "AT+WSKEY=OPEN,NONE\r", t), AtReply::Ok(None));
    assert_eq!(at(&mut p, "AT+WSKEY=BOGUS,AES,12345678\r", t), e4);
    assert_eq!(at(&mut p, &format!("AT+WSKEY=WPA2PSK,AES,{}\r", "z".repeat(64)), t), e4);
    assert_eq!(at(&mut p, &format!("AT+WSKEY=WPA2PSK,AES,{}\r", "ab".repeat(32)), t), AtReply::Ok(None));
    assert_eq!(at(&mut p, "AT+WSSSID=\r", t), e4);
    assert_eq!(at(&mut p, &format!("AT+WSSSID={}\r", "x".repeat(33)), t), e4);
    assert_eq!(at(&mut p, "AT+WSSSID=My Net, 2\r", t), AtReply::Ok(None));
    assert_eq!(at(&mut p, "AT+WSSSID\r", t), AtReply::Ok(Some("My Net, 2".into())));
    assert_eq!(at(&mut p, "AT+WMODE=MESH\r", t), e4);
    assert_eq!(at(&mut p, "AT+WANN=static,1.2.3\r", t), e4);
    assert_eq!(at(&mut p, "AT+TCPTO=601\r", t), e4);
    assert_eq!(at(&mut p, "AT+TCPTO=120\r", t), AtReply::Ok(None));
    assert_eq!(p.tcp_timeout(), Some(Duration::from_secs(120)));
    assert_eq!(at(&mut p, "AT+MID=X\r", t), AtReply::Err(HfError::NotPermitted));
    assert_eq!(at(&mut p, "AT+Z=1\r", t), e4);
    assert_eq!(at(&mut p, "AT+\r", t), AtReply::Err(HfError::InvalidFormat));
    assert_eq!(at(&mut p, "AT\r", t), AtReply::Err(HfError::InvalidFormat));
    assert_eq!(at(&mut p, "AT+W SCAN\r", t), AtReply::Err(HfError::InvalidFormat));
    assert_eq!(at(&mut p, "AT+H\r", t), AtReply::Err(HfError::InvalidCommand));
    for silent in
        ["smartlinkfind", "HF-A11ASSISTHREADX", "HF-A11", "www.usr.cn", "RZ-RECOSCAN", "AT+RECOSCAN", ""]
    {
        assert_eq!(send(&mut p, silent, t), None, "{silent:?}");
    }
    assert!(p.handle_datagram(&vec![b'A'; 5000], peer(), AP, t).reply.is_none());
}

#[test]
fn read_only_identity_and_settings() {
    let mut p = ap_plug(AssistMode::Lenient);
    let t = Instant::now();
    let v = |r: AtReply| r.into_result().unwrap().unwrap_or_default();
    assert_eq!(v(at(&mut p, "AT+WSMAC\r", t)), p.mac().to_string());
    assert_eq!(v(at(&mut p, "AT+MID\r", t)), "HF-LPB100");
    assert!(!v(at(&mut p, "AT+VER\r", t)).is_empty());
    assert_eq!(v(at(&mut p, "AT+NETP\r", t)), "TCP,Server,8899,127.0.0.2");
    assert_eq!(v(at(&mut p, "AT+UART\r", t)), "115200,8,1,None,NFC");
    assert_eq!(v(at(&mut p, "AT+TCPTO\r", t)), "300");
    assert_eq!(v(at(&mut p, "AT+NDBGL\r", t)), "0,0");
    assert_eq!(v(at(&mut p, "AT+WEBU\r", t)), "ADMIN,ADMIN");
    assert_eq!(v(at(&mut p, "AT+WANN\r", t)), "DHCP,0.0.0.0,0.0.0.0,0.0.0.0");
    assert_eq!(at(&mut p, "AT+ENTM\r", t), AtReply::Ok(None));
    assert_eq!(at(&mut p, "AT+WEBU=user,secret\r", t), AtReply::Ok(None));
    assert!(p.web_credentials_match("user", "secret"));
    assert_eq!(at(&mut p, "AT+ASWD=NEWPASS\r", t), AtReply::Ok(None));
    assert_eq!(send(&mut p, "HF-A11ASSISTHREAD", t), None, "old password no longer answered");
    assert!(send(&mut p, "NEWPASS", t).is_some());
    // RELD: factory reset, reply, reboot
    assert_eq!(at(&mut p, "AT+RELD\r", t), AtReply::Ok(Some("rebooting...".into())));
    assert!(p.is_booting());
    p.finish_boot(t);
    assert_eq!(p.assist_password(), "HF-A11ASSISTHREAD");
    assert!(p.web_credentials_match("ADMIN", "ADMIN"));
    assert_eq!(p.link(), &Link::Ap);
}

#[test]
fn strict_mode_and_sessions() {
    let mut p = ap_plug(AssistMode::Strict);
    let t = Instant::now();
    assert_eq!(send(&mut p, "AT+VER\r", t), None, "AT before the handshake is ignored");
    assert!(send(&mut p, "HF-A11ASSISTHREAD", t).is_some());
    assert_eq!(send(&mut p, "AT+VER\r", t), None, "AT before +ok is ignored");
    send(&mut p, "+ok", t);
    assert!(send(&mut p, "AT+VER\r", t).is_some());
    assert_eq!(at(&mut p, "AT+Q\r", t), AtReply::Ok(None));
    assert_eq!(send(&mut p, "AT+VER\r", t), None, "session ended by AT+Q");
    send(&mut p, "HF-A11ASSISTHREAD", t);
    send(&mut p, "+ok", t);
    assert_eq!(send(&mut p, "AT+VER\r", t + Duration::from_secs(31)), None, "session timed out");
}

#[test]
fn sta_plug_factory_reset_goes_to_ap_and_multi_line_takes_first() {
    let mut p = PlugState::new(PlugConfig { ap_ip: AP, home_ip: HOME, ..PlugConfig::default() }).unwrap();
    let t = Instant::now();
    assert_eq!(p.addresses(), vec![HOME]);
    assert_eq!(p.wifi_mode(), WMode::Sta);
    let r = p.handle_datagram(b"AT+VER\rAT+Z\r", peer(), HOME, t);
    assert!(!r.reboot && r.reply.is_some());
    let r = p.handle_datagram(b"AT+WMODE=APSTA\r", peer(), HOME, t);
    assert!(r.reply.is_some());
    p.handle_datagram(b"AT+Z\r", peer(), HOME, t);
    p.finish_boot(t);
    assert_eq!(p.addresses(), vec![AP, HOME]);
    p.handle_datagram(b"AT+RELD\r", peer(), HOME, t);
    p.finish_boot(t);
    assert_eq!(p.addresses(), vec![AP]);
}
