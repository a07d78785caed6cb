//! The AP → STA story over real loopback sockets (hf-protocol.md §3.3): a plug in AP mode
//! on its AP address is provisioned through assist (`AT+WSSSID`, `AT+WSKEY`,
//! `AT+WMODE=STA`, `AT+Z`), reboots, and reappears on its home address with the same MAC
//! and serial — or, with a wrong key, stays in AP mode.

mod hf_common;

use std::{io, net::Ipv4Addr, time::Duration};

use hf_common::{control_addr, start, udp_addr, Control, Udp, GUARD};
use plugctl_emulator::hf::{Link, PlugConfig, RunningPlug, StartMode, HOME_KEY, HOME_SSID};
use plugctl_proto::hf::{
    assist::{AtReply, WMode},
    AssistReply, RecoScanReply,
};
use tokio::net::TcpStream;

fn ip(n: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 30, n)
}

fn ap_plug(ap: u8, home: u8) -> PlugConfig {
    PlugConfig { start: StartMode::Ap, ap_ip: ip(ap), home_ip: ip(home), ..PlugConfig::default() }
}

/// The assist sequence of glenpp/OrviboS20 and antevir/OrviboS20_Arduino.
async fn provision(plug: &RunningPlug, at: Ipv4Addr, ssid: &str, key: &str) {
    let to = udp_addr(plug, at);
    let c = Udp::ephemeral().await;
    let hello = AssistReply::parse(c.ask(to, "HF-A11ASSISTHREAD").await.as_bytes()).unwrap();
    assert_eq!((hello.ip, hello.mac), (at, plug.mac()));
    c.send(to, b"+ok").await;
    for cmd in
        [format!("AT+WSSSID={ssid}\r"), format!("AT+WSKEY=WPA2PSK,AES,{key}\r"), "AT+WMODE=STA\r".into()]
    {
        assert_eq!(AtReply::parse(c.ask(to, &cmd).await.as_bytes()).unwrap(), AtReply::Ok(None), "{cmd:?}");
    }
    // AT+Z: no reply, the plug goes silent
    c.send(to, b"AT+Z\r").await;
}

/// Polls `YZ-RECOSCAN` at `at` until the plug answers there.
async fn discover_at(plug: &RunningPlug, at: Ipv4Addr) -> RecoScanReply {
    let to = udp_addr(plug, at);
    let c = Udp::ephemeral().await;
    tokio::time::timeout(GUARD, async {
        loop {
            c.send(to, b"YZ-RECOSCAN").await;
            if let Some((text, from)) = c.try_recv(Duration::from_millis(50)).await {
                assert_eq!(from, to);
                return RecoScanReply::parse(text.as_bytes()).unwrap();
            }
        }
    })
    .await
    .expect("the plug never answered there")
}

async fn refused(addr: std::net::SocketAddr) -> bool {
    matches!(TcpStream::connect(addr).await, Err(e) if e.kind() == io::ErrorKind::ConnectionRefused)
}

#[tokio::test]
async fn provisioned_plug_reappears_on_its_home_address() {
    let plug = start(ap_plug(2, 3)).await;
    let (ap, home) = (ip(2), ip(3));
    // AP mode: discovery and control answered on the AP address only
    let before = discover_at(&plug, ap).await;
    assert_eq!((before.ip, before.mac, before.serial.as_str()), (ap, plug.mac(), plug.serial()));
    assert!(refused(control_addr(&plug, home)).await, "not on the home network yet");
    let mut c = Control::connect(control_addr(&plug, ap)).await;
    assert!(c.cmd("AT+YZOUT\r\n").await.starts_with("+ok="));

    provision(&plug, ap, HOME_SSID, HOME_KEY).await;

    let after = discover_at(&plug, home).await;
    assert_eq!((after.ip, after.mac, after.serial.as_str()), (home, before.mac, before.serial.as_str()));
    let status = plug.status();
    assert_eq!((status.boots, status.addresses.clone()), (1, vec![home]));
    assert_eq!(status.link, Link::Station { ssid: HOME_SSID.into() });
    // the AP is gone: its control port refuses, old connections were dropped
    assert!(refused(control_addr(&plug, ap)).await);
    // control on 8899 (here: the plug's control port) works at home
    let mut c = Control::connect(control_addr(&plug, home)).await;
    assert_eq!(c.cmd("AT+YZSWITCH=1,ON,201704031153\r\n").await, "+ok\r\n");
    assert!(discover_at(&plug, home).await.relay_on);
    // assist at home reports the link
    let u = Udp::ephemeral().await;
    let to = udp_addr(&plug, home);
    let wslk = AtReply::parse(u.ask(to, "AT+WSLK\r").await.as_bytes()).unwrap();
    assert!(matches!(wslk, AtReply::Ok(Some(v)) if v.starts_with("HomeNet(")));
    let wann = AtReply::parse(u.ask(to, "AT+WANN\r").await.as_bytes()).unwrap();
    assert_eq!(wann, AtReply::Ok(Some("DHCP,127.0.30.3,255.0.0.0,127.0.0.1".into())));
    // HTTP moved too
    let http = plug.ports().http.unwrap();
    assert!(!refused((home, http).into()).await);
    assert!(refused((ap, http).into()).await);
}

#[tokio::test]
async fn wrong_key_keeps_the_plug_in_ap_mode() {
    let plug = start(ap_plug(4, 5)).await;
    let (ap, home) = (ip(4), ip(5));
    let before = discover_at(&plug, ap).await;
    provision(&plug, ap, HOME_SSID, "wrong horse battery").await;
    let status =
        tokio::time::timeout(GUARD, plug.wait_for(|s| s.boots == 1 && s.online)).await.expect("reboot hang");
    assert_eq!(status.link, Link::Ap);
    assert_eq!(status.addresses, vec![ap]);
    // not on the home network; back on the AP address with the same identity
    assert!(refused(control_addr(&plug, home)).await);
    let again = discover_at(&plug, ap).await;
    assert_eq!((again.mac, again.serial), (before.mac, before.serial));
    // the stored settings are there to be fixed
    assert_eq!(plug.device().lock().unwrap().wifi_mode(), WMode::Sta);
    // fixing the key and rebooting joins
    provision(&plug, ap, HOME_SSID, HOME_KEY).await;
    assert_eq!(discover_at(&plug, home).await.mac, before.mac);
}

#[tokio::test]
async fn unknown_network_keeps_the_plug_in_ap_mode_and_reload_returns_to_ap() {
    let plug = start(ap_plug(6, 7)).await;
    let (ap, home) = (ip(6), ip(7));
    provision(&plug, ap, "NoSuchNet", HOME_KEY).await;
    let status =
        tokio::time::timeout(GUARD, plug.wait_for(|s| s.boots == 1 && s.online)).await.expect("reboot hang");
    assert_eq!(status.addresses, vec![ap]);
    assert!(refused(control_addr(&plug, home)).await);
    // join for real, then factory-reset from home: back to the AP address
    provision(&plug, ap, HOME_SSID, HOME_KEY).await;
    discover_at(&plug, home).await;
    let u = Udp::ephemeral().await;
    let reld = AtReply::parse(u.ask(udp_addr(&plug, home), "AT+RELD\r").await.as_bytes()).unwrap();
    assert_eq!(reld, AtReply::Ok(Some("rebooting...".into())));
    let back = discover_at(&plug, ap).await;
    assert_eq!(back.mac, plug.mac());
    assert!(refused(control_addr(&plug, home)).await);
}
