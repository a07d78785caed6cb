//! HF fleets over real loopback sockets: broadcast `YZ-RECOSCAN` on 127.255.255.255
//! answered by every plug from its own address, and provisioning inside a fleet.

mod hf_common;

use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, SocketAddr},
};

use hf_common::{server_cfg, Control, Udp, GUARD};
use plugctl_emulator::hf::{fleet, Fleet, FleetConfig, Ports, StartMode, HOME_KEY};
use plugctl_proto::hf::{assist::AtReply, RecoScanReply};

const BROADCAST: Ipv4Addr = Ipv4Addr::new(127, 255, 255, 255);

async fn broadcast_client() -> Udp {
    let c = Udp::ephemeral().await;
    c.sock.set_broadcast(true).unwrap();
    c
}

/// Broadcasts `YZ-RECOSCAN` and collects replies until `n` distinct plugs answered.
async fn scan(fleet: &Fleet, c: &Udp, n: usize) -> BTreeMap<SocketAddr, RecoScanReply> {
    let to = fleet.broadcast_addr().expect("broadcast enabled");
    assert_eq!(to.ip(), BROADCAST);
    c.send(to, b"YZ-RECOSCAN").await;
    let mut seen = BTreeMap::new();
    while seen.len() < n {
        let (text, from) = c.recv().await;
        let reply = RecoScanReply::parse(text.as_bytes()).unwrap();
        assert_eq!(std::net::IpAddr::V4(reply.ip), from.ip(), "payload IP equals the source address");
        assert_eq!(from.port(), fleet.ports().udp, "replies come from the plug's own socket");
        seen.insert(from, reply);
    }
    seen
}

#[tokio::test]
async fn broadcast_recoscan_reaches_a_fleet_of_ten() {
    let cfg = FleetConfig {
        count: 10,
        base: Ipv4Addr::new(127, 0, 40, 2),
        ports: Ports::ephemeral(),
        broadcast: Some(BROADCAST),
        server: server_cfg(),
        seed: 11,
        ..FleetConfig::default()
    };
    let fleet = fleet::start(cfg).await.unwrap();
    assert_eq!(fleet.len(), 10);
    let c = broadcast_client().await;
    let seen = scan(&fleet, &c, 10).await;
    for p in fleet.plugs() {
        let r = &seen[&SocketAddr::from((p.ip, p.ports.udp))];
        assert_eq!((r.mac, r.serial.as_str(), r.relay_on), (p.mac, p.serial.as_str(), false));
    }
    let macs: std::collections::BTreeSet<_> = seen.values().map(|r| r.mac).collect();
    assert_eq!(macs.len(), 10, "unique MACs");

    // switch plug 3 over TCP; a second scan shows it ON and the others OFF
    let p3 = &fleet.plugs()[3];
    let mut ctl = Control::connect((p3.ip, p3.ports.control).into()).await;
    assert_eq!(ctl.cmd("AT+YZSWITCH=1,ON,201704031153\r\n").await, "+ok\r\n");
    let seen = scan(&fleet, &c, 10).await;
    for (from, r) in &seen {
        assert_eq!(r.relay_on, from.ip() == p3.ip, "{from}");
    }
    fleet.shutdown().await;
}

#[tokio::test]
async fn a_provisioned_fleet_plug_answers_broadcasts_from_its_home_address() {
    let cfg = FleetConfig {
        count: 3,
        base: Ipv4Addr::new(127, 0, 41, 2),
        mode: StartMode::Ap,
        other_base: Some(Ipv4Addr::new(127, 0, 42, 2)),
        ports: Ports::ephemeral(),
        broadcast: Some(BROADCAST),
        server: server_cfg(),
        seed: 12,
        ..FleetConfig::default()
    };
    let fleet = fleet::start(cfg).await.unwrap();
    let p1 = fleet.plugs()[1].clone();
    assert_eq!(
        (p1.ip, p1.ap_ip, p1.home_ip),
        (Ipv4Addr::new(127, 0, 41, 3), p1.ip, Ipv4Addr::new(127, 0, 42, 3))
    );
    let to = SocketAddr::from((p1.ap_ip, p1.ports.udp));
    let u = Udp::ephemeral().await;
    u.ask(to, "HF-A11ASSISTHREAD").await;
    u.send(to, b"+ok").await;
    for cmd in [
        "AT+WSSSID=HomeNet\r".to_string(),
        format!("AT+WSKEY=WPA2PSK,AES,{HOME_KEY}\r"),
        "AT+WMODE=STA\r".into(),
    ] {
        assert_eq!(AtReply::parse(u.ask(to, &cmd).await.as_bytes()).unwrap(), AtReply::Ok(None));
    }
    u.send(to, b"AT+Z\r").await;
    let running = fleet.plug(1).unwrap();
    tokio::time::timeout(GUARD, running.wait_for(|s| s.boots == 1 && s.online)).await.expect("reboot hang");
    let c = broadcast_client().await;
    let seen = scan(&fleet, &c, 3).await;
    let home = &seen[&SocketAddr::from((p1.home_ip, p1.ports.udp))];
    assert_eq!((home.mac, home.serial.as_str()), (p1.mac, p1.serial.as_str()));
    assert!(!seen.contains_key(&to), "the AP address is gone");
    let mut ctl = Control::connect((p1.home_ip, p1.ports.control).into()).await;
    assert_eq!(ctl.cmd("AT+YZSWITCH=1,ON,201704031153\r\n").await, "+ok\r\n");
}
