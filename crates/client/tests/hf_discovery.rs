//! `YZ-RECOSCAN` discovery by broadcast to 127.255.255.255:P, with fake plugs on
//! 127.0.0.2..6 that reply in the different ways real plugs and clients do.

mod hf_support;

use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, SocketAddr},
    time::Duration,
};

use futures::StreamExt;
use hf_support::*;
use plugctl_client::hf::{discover, discover_all, HfDiscoveryConfig};

fn reco(n: u8) -> impl Fn(&[u8]) -> UdpAnswer + Send + Sync + 'static {
    move |d: &[u8]| {
        if d == b"YZ-RECOSCAN" {
            vec![(Dest::Source, recoscan_reply(n, true))]
        } else {
            Vec::new()
        }
    }
}

/// Five plugs on port `port`: .2 replies to the source port, .3 only to `reply_port`, .4
/// twice per request, .5 garbage then a valid reply, .6 to both the source and the reply
/// port.
async fn fleet(port: u16, reply_port: u16) -> Vec<FakeUdp> {
    let mut plugs = vec![FakeUdp::start(lo(2), port, true, reco(2)).await];
    plugs.push(
        FakeUdp::start(lo(3), port, true, move |d| {
            if d == b"YZ-RECOSCAN" {
                vec![(Dest::Fixed(reply_port), recoscan_reply(3, false))]
            } else {
                Vec::new()
            }
        })
        .await,
    );
    plugs.push(
        FakeUdp::start(lo(4), port, true, |d| {
            if d == b"YZ-RECOSCAN" {
                vec![(Dest::Source, recoscan_reply(4, true)), (Dest::Source, recoscan_reply(4, true))]
            } else {
                Vec::new()
            }
        })
        .await,
    );
    plugs.push(
        FakeUdp::start(lo(5), port, true, |d| {
            if d == b"YZ-RECOSCAN" {
                vec![
                    (Dest::Source, b"\xff\xfegarbage".to_vec()),
                    (Dest::Source, b"127.0.0.5,ACCF23".to_vec()),
                    (Dest::Source, recoscan_reply(5, false)),
                ]
            } else {
                Vec::new()
            }
        })
        .await,
    );
    plugs.push(
        FakeUdp::start(lo(6), port, true, move |d| {
            if d == b"YZ-RECOSCAN" {
                vec![
                    (Dest::Source, recoscan_reply(6, true)),
                    (Dest::Fixed(reply_port), recoscan_reply(6, true)),
                ]
            } else {
                Vec::new()
            }
        })
        .await,
    );
    plugs
}

fn config(port: u16, reply_port: u16) -> HfDiscoveryConfig {
    HfDiscoveryConfig {
        target: SocketAddr::from((Ipv4Addr::new(127, 255, 255, 255), port)),
        timeout: Duration::from_millis(1200),
        packets: 2,
        reply_port,
        ..HfDiscoveryConfig::default()
    }
}

#[tokio::test]
async fn both_reply_behaviours_deduplicated_by_mac() {
    guard(async {
        let port = free_udp_port();
        let reply_port = free_udp_port();
        let plugs = fleet(port, reply_port).await;
        let found = discover_all(config(port, reply_port)).await.unwrap();

        let by_ip: BTreeMap<_, _> = found.iter().map(|d| (d.addr, d)).collect();
        assert_eq!(found.len(), 5, "each plug once: {found:#?}");
        assert_eq!(by_ip.len(), 5);
        for n in 2..=6u8 {
            let d = by_ip[&SocketAddr::from((lo(n), port))];
            assert_eq!(d.reply.ip, lo(n));
            assert_eq!(d.reply.mac.to_string(), format!("ACCF230000{n:02X}"));
            assert_eq!(d.reply.relay_on, n != 3 && n != 5);
            assert_eq!(d.device(Default::default()).ip(), std::net::IpAddr::V4(lo(n)));
        }
        assert!(by_ip[&SocketAddr::from((lo(3), port))].via_reply_port, "reply only to the fixed port");
        assert!(!by_ip[&SocketAddr::from((lo(2), port))].via_reply_port);
        // Each plug got both requests, each exactly the 11 bytes.
        for p in &plugs {
            assert_eq!(p.received(), ["YZ-RECOSCAN", "YZ-RECOSCAN"], "{}", p.ip);
        }
    })
    .await;
}

#[tokio::test]
async fn sending_from_the_reply_port_itself_like_most_reco_clients() {
    guard(async {
        // Everything on one port, as on a real LAN where all is 48899: the client sends from
        // 0.0.0.0:P and so also receives its own broadcast, which it must ignore.
        let port = free_udp_port();
        let _plugs = fleet(port, port).await;
        let cfg =
            HfDiscoveryConfig { bind: SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)), ..config(port, port) };
        let found = discover_all(cfg).await.unwrap();
        let mut ips: Vec<_> = found.iter().map(|d| d.addr.ip()).collect();
        ips.sort();
        assert_eq!(ips, (2..=6u8).map(|n| std::net::IpAddr::V4(lo(n))).collect::<Vec<_>>());
    })
    .await;
}

#[tokio::test]
async fn replies_stream_as_they_arrive() {
    guard(async {
        let port = free_udp_port();
        let _plug = FakeUdp::start(lo(2), port, true, reco(2)).await;
        let cfg = HfDiscoveryConfig {
            timeout: Duration::from_secs(10),
            listen_reply_port: false,
            ..config(port, 0)
        };
        let mut stream = discover(cfg).unwrap();
        // The first plug is delivered long before the 10 s window closes.
        let first = tokio::time::timeout(Duration::from_secs(5), stream.next()).await.unwrap().unwrap();
        assert_eq!(first.addr, SocketAddr::from((lo(2), port)));
    })
    .await;
}

#[tokio::test]
async fn without_the_reply_port_listener_fixed_port_plugs_are_missed() {
    guard(async {
        let port = free_udp_port();
        let reply_port = free_udp_port();
        let _plugs = fleet(port, reply_port).await;
        let cfg = HfDiscoveryConfig { listen_reply_port: false, ..config(port, reply_port) };
        let found = discover_all(cfg).await.unwrap();
        let mut ips: Vec<_> = found.iter().map(|d| d.addr.ip()).collect();
        ips.sort();
        let want: Vec<_> = [2u8, 4, 5, 6].iter().map(|&n| std::net::IpAddr::V4(lo(n))).collect();
        assert_eq!(ips, want);
    })
    .await;
}
