//! UDP discovery and probing against fake responders on loopback addresses.
//!
//! Layout (design.md, "Network rules"): fake devices bind 127.0.0.N:P; a relay socket
//! bound to 127.255.255.255:P with SO_REUSEADDR receives the client's broadcast and makes
//! each fake device reply from its own address. Everything stays on 127.0.0.0/8.

mod common;

use std::{
    net::{Ipv4Addr, SocketAddr},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use futures::StreamExt;
use plugctl_client::{
    kasa::{discover, discover_all, probe, DiscoveryConfig, KasaDevice, DEFAULT_PORT},
    Error,
};
use plugctl_proto::kasa::{datagram, DISCOVERY_QUERY};
use serde_json::{json, Value};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::{net::UdpSocket, sync::mpsc, task::JoinSet};

const BROADCAST: Ipv4Addr = Ipv4Addr::new(127, 255, 255, 255);

fn reply_for(i: u8) -> Value {
    let mut s = common::plug_sysinfo(&format!("8006588E50AD389303FF31AB6302907A17442F{i:02X}"), false);
    s["alias"] = json!(format!("Plug {i}"));
    s["mac"] = json!(format!("50:C7:BF:00:00:{i:02X}"));
    s["err_code"] = json!(0);
    json!({"system":{"get_sysinfo":s}})
}

fn reuse_socket(addr: SocketAddr) -> std::io::Result<UdpSocket> {
    let s = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    UdpSocket::from_std(s.into())
}

/// What a fake responder sends back to each discovery datagram.
#[derive(Clone)]
enum Behaviour {
    /// A valid sysinfo reply, `times` times.
    Device { index: u8, times: usize },
    /// Bytes that do not decode to JSON.
    Garbage,
    /// Valid JSON without a sysinfo.
    NoSysinfo,
}

struct Lan {
    port: u16,
    replies_sent: Arc<AtomicUsize>,
    _tasks: JoinSet<()>,
}

/// Binds the relay and the responders (127.0.0.2, .3, … in order) on one free port.
async fn lan(behaviours: &[Behaviour]) -> Lan {
    for _ in 0..20 {
        let relay = reuse_socket(SocketAddr::from((BROADCAST, 0))).unwrap();
        let port = relay.local_addr().unwrap().port();
        let mut responders = Vec::new();
        for (i, _) in behaviours.iter().enumerate() {
            match UdpSocket::bind((Ipv4Addr::new(127, 0, 0, 2 + i as u8), port)).await {
                Ok(s) => responders.push(Arc::new(s)),
                Err(_) => break,
            }
        }
        if responders.len() < behaviours.len() {
            continue; // port taken on one of the addresses: pick another
        }
        let replies_sent = Arc::new(AtomicUsize::new(0));
        let mut tasks = JoinSet::new();
        let mut inboxes = Vec::new();
        for (sock, behaviour) in responders.into_iter().zip(behaviours.iter().cloned()) {
            let (tx, mut rx) = mpsc::unbounded_channel::<(Vec<u8>, SocketAddr)>();
            inboxes.push(tx);
            let sent = replies_sent.clone();
            tasks.spawn(async move {
                while let Some((request, client)) = rx.recv().await {
                    assert_eq!(datagram::decode(&request), DISCOVERY_QUERY.as_bytes());
                    let (bytes, times) = match &behaviour {
                        Behaviour::Device { index, times } => {
                            (datagram::encode(reply_for(*index).to_string().as_bytes()), *times)
                        }
                        Behaviour::Garbage => (vec![0xde, 0xad, 0xbe, 0xef, 0x00], 1),
                        Behaviour::NoSysinfo => (datagram::encode(br#"{"system":{"err_code":-1}}"#), 1),
                    };
                    for _ in 0..times {
                        sock.send_to(&bytes, client).await.unwrap();
                        sent.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
        tasks.spawn(async move {
            let mut buf = vec![0; 2048];
            while let Ok((n, client)) = relay.recv_from(&mut buf).await {
                for inbox in &inboxes {
                    let _ = inbox.send((buf[..n].to_vec(), client));
                }
            }
        });
        return Lan { port, replies_sent, _tasks: tasks };
    }
    panic!("no free UDP port for the fake LAN");
}

fn cfg(port: u16, timeout_ms: u64) -> DiscoveryConfig {
    DiscoveryConfig {
        target: SocketAddr::from((BROADCAST, port)),
        timeout: Duration::from_millis(timeout_ms),
        packets: 3,
        bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
    }
}

#[tokio::test]
async fn broadcast_discovery_yields_each_device_once_and_skips_garbage() {
    let mut behaviours: Vec<Behaviour> = (0..5).map(|i| Behaviour::Device { index: i, times: 1 }).collect();
    behaviours[2] = Behaviour::Device { index: 2, times: 2 }; // this one answers twice
    behaviours.push(Behaviour::Garbage);
    behaviours.push(Behaviour::NoSysinfo);
    let lan = lan(&behaviours).await;

    let cfg = cfg(lan.port, 1500);
    let t0 = Instant::now();
    let mut stream = discover(cfg.clone()).unwrap();
    let mut found = Vec::new();
    let mut first_at = None;
    while let Some(d) = stream.next().await {
        first_at.get_or_insert_with(Instant::now);
        found.push(d);
    }
    let end = Instant::now();
    assert!(end - t0 < cfg.timeout + Duration::from_secs(2), "discovery must end at its timeout");
    assert!(first_at.unwrap() < end, "results are streamed before the end");

    assert_eq!(found.len(), 5, "{found:#?}");
    let mut addrs: Vec<SocketAddr> = found.iter().map(|d| d.addr).collect();
    addrs.sort();
    let want: Vec<SocketAddr> = (2..7).map(|n| SocketAddr::from(([127, 0, 0, n], lan.port))).collect();
    assert_eq!(addrs, want);
    for d in &found {
        let n = d.addr.ip().to_string().rsplit('.').next().unwrap().parse::<u8>().unwrap();
        assert_eq!(d.sysinfo.alias, format!("Plug {}", n - 2));
        assert_eq!(d.raw, reply_for(n - 2));
    }
    // every packet got answered by every responder: duplicates really were filtered out
    assert!(lan.replies_sent.load(Ordering::SeqCst) > 7);
}

#[tokio::test]
async fn discover_all_collects_and_discovered_devices_are_usable() {
    let lan = lan(&[Behaviour::Device { index: 9, times: 1 }]).await;
    let found = discover_all(cfg(lan.port, 600)).await.unwrap();
    assert_eq!(found.len(), 1);
    let dev: KasaDevice = found[0].device(Default::default());
    assert_eq!(dev.addr(), SocketAddr::from(([127, 0, 0, 2], lan.port)));
    assert_eq!(dev.last_sysinfo().unwrap().alias, "Plug 9");
}

#[tokio::test]
async fn nothing_answers_means_an_empty_stream_at_the_timeout() {
    let lan = lan(&[Behaviour::Garbage]).await;
    let t0 = Instant::now();
    let found = discover_all(cfg(lan.port, 500)).await.unwrap();
    assert!(found.is_empty());
    assert!(t0.elapsed() < Duration::from_millis(500) + Duration::from_secs(2));
}

#[tokio::test]
async fn default_config_targets_the_lan_broadcast_address() {
    // Only inspected, never used: tests stay on loopback.
    let d = DiscoveryConfig::default();
    assert_eq!(d.target, SocketAddr::from((Ipv4Addr::BROADCAST, DEFAULT_PORT)));
    assert_eq!((d.timeout, d.packets), (Duration::from_secs(3), 3));
}

#[tokio::test]
async fn probe_uses_udp_then_falls_back_to_tcp() {
    // A device answering unicast UDP discovery.
    let udp = UdpSocket::bind((Ipv4Addr::new(127, 0, 0, 9), 0)).await.unwrap();
    let udp_host = udp.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0; 2048];
        while let Ok((n, from)) = udp.recv_from(&mut buf).await {
            assert_eq!(datagram::decode(&buf[..n]), DISCOVERY_QUERY.as_bytes());
            let _ = udp.send_to(&datagram::encode(reply_for(7).to_string().as_bytes()), from).await;
        }
    });
    // A TCP-only device (nothing on its UDP port).
    let fake = common::FakeKasa::new(reply_for(8)["system"]["get_sysinfo"].clone());
    let tcp_only = fake.serve().await;
    // Nothing at all.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();

    let cfg = DiscoveryConfig {
        timeout: Duration::from_millis(800),
        bind: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        ..DiscoveryConfig::default()
    };
    let t0 = Instant::now();
    let results = probe(&[udp_host, tcp_only.addr, dead], cfg.clone()).await;
    assert!(t0.elapsed() < cfg.timeout * 2 + Duration::from_secs(2));
    assert_eq!(results.len(), 3);

    let (h, r) = &results[0];
    assert_eq!(*h, udp_host);
    let d = r.as_ref().unwrap();
    assert_eq!((d.addr, d.sysinfo.alias.as_str()), (udp_host, "Plug 7"));

    let (h, r) = &results[1];
    assert_eq!(*h, tcp_only.addr);
    assert_eq!(r.as_ref().unwrap().sysinfo.alias, "Plug 8");
    assert_eq!(tcp_only.connections(), 1);

    let (h, r) = &results[2];
    assert_eq!(*h, dead);
    assert!(matches!(r, Err(Error::Refused { .. })), "{r:?}");
}

#[test]
fn discover_outside_a_runtime_is_an_error_not_a_panic() {
    let cfg = DiscoveryConfig { target: SocketAddr::from((BROADCAST, 9)), ..DiscoveryConfig::default() };
    let err = discover(cfg).unwrap_err();
    assert!(err.to_string().contains("tokio runtime"), "{err}");
}
