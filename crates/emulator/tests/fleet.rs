//! A fleet of 20 devices on 127.0.0.2… sharing one port, with loopback broadcast discovery.

mod common;

use std::{
    collections::{HashMap, HashSet},
    net::{Ipv4Addr, SocketAddr, SocketAddrV4},
};

use common::*;
use plugctl_emulator::kasa::fleet::{self, FleetConfig};
use plugctl_proto::kasa::{datagram, DISCOVERY_QUERY};
use serde_json::Value;
use tokio::{net::UdpSocket, time::timeout};

const BROADCAST: Ipv4Addr = Ipv4Addr::new(127, 255, 255, 255);

fn broadcast_client() -> UdpSocket {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    s.set_broadcast(true).unwrap();
    s.set_nonblocking(true).unwrap();
    s.set_recv_buffer_size(1 << 20).unwrap();
    s.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into()).unwrap();
    UdpSocket::from_std(s.into()).unwrap()
}

#[tokio::test]
async fn fleet_of_20_answers_a_loopback_broadcast_from_its_own_addresses() {
    let cfg = FleetConfig { count: 20, broadcast: Some(BROADCAST), seed: 7, ..FleetConfig::default() };
    let fleet = fleet::start(cfg).await.expect("fleet starts");
    let port = fleet.port();
    assert_ne!(port, 0);
    assert_eq!(fleet.devices().len(), 20);
    for (i, d) in fleet.devices().iter().enumerate() {
        assert_eq!(d.addr, SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 2 + i as u8), port)));
    }
    let macs: HashSet<_> = fleet.devices().iter().map(|d| d.mac.clone()).collect();
    let ids: HashSet<_> = fleet.devices().iter().map(|d| d.device_id.clone()).collect();
    assert_eq!((macs.len(), ids.len()), (20, 20), "unique MACs and device ids");

    let client = broadcast_client();
    client.send_to(&datagram::encode(DISCOVERY_QUERY.as_bytes()), (BROADCAST, port)).await.unwrap();
    let mut replies: HashMap<SocketAddr, Value> = HashMap::new();
    let mut buf = vec![0u8; 65_536];
    while replies.len() < 20 {
        let (n, from) =
            timeout(GUARD, client.recv_from(&mut buf)).await.expect("20 replies within guard").unwrap();
        let v: Value = serde_json::from_slice(&datagram::decode(&buf[..n])).expect("JSON reply");
        replies.insert(from, v);
    }
    for d in fleet.devices() {
        let r = replies.get(&d.addr).unwrap_or_else(|| panic!("no reply from {}", d.addr));
        let s = &r["system"]["get_sysinfo"];
        assert_eq!(s["deviceId"], d.device_id.as_str());
        assert_eq!(s["mac"], d.mac.as_str());
        assert_eq!(s["model"], d.model.as_str());
        assert_eq!(s["alias"], d.alias.as_str());
    }
    // Each device also serves TCP and unicast UDP on its own address.
    let d5 = &fleet.devices()[5];
    assert_eq!(
        tcp_ask(d5.addr, DISCOVERY_QUERY).await["system"]["get_sysinfo"]["deviceId"],
        d5.device_id.as_str()
    );
    let (r, from) = udp_ask(d5.addr, DISCOVERY_QUERY.as_bytes()).await;
    assert_eq!(from, d5.addr);
    assert_eq!(r["system"]["get_sysinfo"]["mac"], d5.mac.as_str());
    fleet.shutdown().await;
}

#[tokio::test]
async fn fleet_rejects_impossible_sizes() {
    let e = fleet::start(FleetConfig { count: 0, ..FleetConfig::default() }).await.unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
    let e = fleet::start(FleetConfig {
        count: 100,
        base: Ipv4Addr::new(127, 255, 255, 200),
        ..FleetConfig::default()
    })
    .await
    .unwrap_err();
    assert!(e.to_string().contains("127.0.0.0/8"), "{e}");
}
