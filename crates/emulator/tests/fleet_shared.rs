//! A fleet on shared sockets (one TCP listener and one UDP socket on 0.0.0.0:P, on `lo`):
//! every device still answers on its own address, discovery replies come from each device's
//! own address, and python-kasa (the pinned one scripts/test.sh installs) finds them all.

#![cfg(target_os = "linux")]

mod common;

use std::{
    collections::{HashMap, HashSet},
    net::{Ipv4Addr, SocketAddr},
    path::PathBuf,
    process::{Command, Stdio},
};

use common::*;
use plugctl_emulator::kasa::fleet::{self, Fleet, FleetConfig, FleetSockets};
use plugctl_proto::kasa::{datagram, frame, DISCOVERY_QUERY};
use serde_json::Value;
use tokio::{io::AsyncWriteExt, net::UdpSocket, task::JoinSet, time::timeout};

const BROADCAST: Ipv4Addr = Ipv4Addr::new(127, 255, 255, 255);
const SYSINFO: &str = r#"{"system":{"get_sysinfo":{}}}"#;

async fn shared_fleet(count: usize) -> Fleet {
    let cfg = FleetConfig {
        count,
        broadcast: Some(BROADCAST),
        seed: 11,
        sockets: FleetSockets::Shared,
        ..FleetConfig::default()
    };
    let fleet = fleet::start(cfg).await.expect("shared fleet starts");
    assert_eq!(fleet.sockets(), FleetSockets::Shared);
    assert_eq!(fleet.len(), count);
    fleet
}

fn broadcast_client() -> UdpSocket {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None).unwrap();
    s.set_broadcast(true).unwrap();
    s.set_nonblocking(true).unwrap();
    s.set_recv_buffer_size(4 << 20).unwrap();
    s.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into()).unwrap();
    UdpSocket::from_std(s.into()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_device_of_a_shared_fleet_answers_tcp_on_its_own_address() {
    let fleet = shared_fleet(300).await;
    let port = fleet.port();
    // All 300 at once, each over its own kept-open connection, twice.
    let mut set = JoinSet::new();
    for d in fleet.devices().to_vec() {
        set.spawn(async move {
            let mut s = connect(d.addr).await;
            let mut macs = Vec::new();
            for _ in 0..2 {
                s.write_all(&frame::encode(SYSINFO.as_bytes())).await.expect("write");
                macs.push(recv(&mut s).await["system"]["get_sysinfo"]["mac"].as_str().map(str::to_string));
            }
            (d, macs)
        });
    }
    let mut seen = 0;
    while let Some(r) = set.join_next().await {
        let (d, macs) = r.expect("client task");
        assert_eq!(d.addr.port(), port);
        assert_eq!(macs, [Some(d.mac.clone()), Some(d.mac.clone())], "{}", d.addr);
        seen += 1;
    }
    assert_eq!(seen, 300);
    let macs: HashSet<_> = fleet.devices().iter().map(|d| d.mac.clone()).collect();
    assert_eq!(macs.len(), 300, "unique MACs");
    fleet.shutdown().await;
}

#[tokio::test]
async fn unicast_discovery_is_answered_from_the_members_own_address() {
    let fleet = shared_fleet(300).await;
    for i in [0, 1, 150, 252, 253, 299] {
        let d = &fleet.devices()[i];
        let (r, from) = udp_ask(d.addr, DISCOVERY_QUERY.as_bytes()).await;
        assert_eq!(from, d.addr, "reply source of device {i}");
        assert_eq!(r["system"]["get_sysinfo"]["mac"], d.mac.as_str());
        assert_eq!(r["system"]["get_sysinfo"]["deviceId"], d.device_id.as_str());
    }
    // Device 253 is past 127.0.0.254: the addresses skip .255 and .0.
    assert_eq!(fleet.devices()[253].addr.ip().to_string(), "127.0.1.1");
    fleet.shutdown().await;
}

#[tokio::test]
async fn broadcast_discovery_is_answered_by_every_member_from_its_own_address() {
    let fleet = shared_fleet(300).await;
    let port = fleet.port();
    assert_eq!(fleet.broadcast_addr(), Some(SocketAddr::from((BROADCAST, port))));
    let client = broadcast_client();
    client.send_to(&datagram::encode(DISCOVERY_QUERY.as_bytes()), (BROADCAST, port)).await.unwrap();
    let mut replies: HashMap<SocketAddr, Value> = HashMap::new();
    let mut buf = vec![0u8; 65_536];
    while replies.len() < 300 {
        let (n, from) =
            timeout(GUARD, client.recv_from(&mut buf)).await.expect("300 replies within guard").unwrap();
        let v: Value = serde_json::from_slice(&datagram::decode(&buf[..n])).expect("JSON reply");
        assert!(replies.insert(from, v).is_none(), "one reply per device, {from} answered twice");
    }
    for d in fleet.devices() {
        let r = replies.get(&d.addr).unwrap_or_else(|| panic!("no reply from {}", d.addr));
        assert_eq!(r["system"]["get_sysinfo"]["mac"], d.mac.as_str());
        assert_eq!(r["system"]["get_sysinfo"]["deviceId"], d.device_id.as_str());
    }
    fleet.shutdown().await;
}

#[tokio::test]
async fn connections_to_addresses_outside_the_fleet_are_closed() {
    let fleet = shared_fleet(5).await;
    let port = fleet.port();
    // 127.0.0.1 is below the fleet, 127.0.0.7 just past it.
    for ip in [Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(127, 0, 0, 7)] {
        let mut s = connect((ip, port).into()).await;
        // A request may or may not be written before the close; no reply ever comes.
        let _ = s.write_all(&frame::encode(SYSINFO.as_bytes())).await;
        assert!(closed_by_peer(&mut s).await, "{ip}:{port} not closed");
    }
    // A datagram to a non-member is not answered, and the members still are.
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(&datagram::encode(DISCOVERY_QUERY.as_bytes()), (Ipv4Addr::new(127, 0, 0, 7), port))
        .await
        .unwrap();
    let d = &fleet.devices()[4];
    sock.send_to(&datagram::encode(DISCOVERY_QUERY.as_bytes()), d.addr).await.unwrap();
    let mut buf = vec![0u8; 65_536];
    let (_, from) = timeout(GUARD, sock.recv_from(&mut buf)).await.expect("member answers").unwrap();
    assert_eq!(from, d.addr, "only the member answers");
    assert_eq!(tcp_ask(d.addr, SYSINFO).await["system"]["get_sysinfo"]["mac"], d.mac.as_str());
    fleet.shutdown().await;
}

#[tokio::test]
async fn shared_fleet_honours_the_per_device_connection_limit() {
    let cfg = FleetConfig {
        count: 2,
        sockets: FleetSockets::Shared,
        server: plugctl_emulator::kasa::ServerConfig { max_connections: 1, ..Default::default() },
        ..FleetConfig::default()
    };
    let fleet = fleet::start(cfg).await.unwrap();
    let (a, b) = (fleet.devices()[0].addr, fleet.devices()[1].addr);
    let mut first = connect(a).await;
    first.write_all(&frame::encode(SYSINFO.as_bytes())).await.unwrap();
    recv(&mut first).await;
    let mut second = connect(a).await;
    assert!(closed_by_peer(&mut second).await, "second connection to device 0 closed");
    // The limit is per device: device 1 still takes one.
    assert_eq!(tcp_ask(b, SYSINFO).await["system"]["get_sysinfo"]["mac"], fleet.devices()[1].mac.as_str());
    fleet.shutdown().await;
}

/// python-kasa's Python: `PLUGCTL_PYTHON`, else `.venv-interop/bin/python` (what
/// scripts/test.sh installs). Missing is a failure, not a skip.
fn python_kasa_python() -> PathBuf {
    let p = std::env::var_os("PLUGCTL_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv-interop/bin/python"));
    assert!(
        p.exists(),
        "python-kasa's Python not found at {} (set PLUGCTL_PYTHON) — run ./scripts/test.sh, which installs it",
        p.display()
    );
    p
}

const PY_DISCOVER: &str = r#"
import asyncio, json, sys
from kasa import Discover
async def main():
    found = await Discover.discover(target=sys.argv[1], port=int(sys.argv[2]), discovery_timeout=3)
    print(json.dumps({ip: d.mac for ip, d in found.items()}))
asyncio.run(main())
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_kasa_discovers_every_device_of_a_shared_fleet() {
    let python = python_kasa_python();
    let fleet = shared_fleet(100).await;
    let port = fleet.port().to_string();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .args(["-c", PY_DISCOVER, &BROADCAST.to_string(), &port])
            .stdin(Stdio::null())
            .output()
            .expect("python runs")
    });
    let out = timeout(std::time::Duration::from_secs(60), out).await.expect("python-kasa finishes").unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "python-kasa failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let found: HashMap<String, String> = serde_json::from_str(stdout.trim()).expect("JSON from the script");
    for d in fleet.devices() {
        let ip = d.addr.ip().to_string();
        let mac = found.get(&ip).unwrap_or_else(|| panic!("python-kasa did not find {ip}: {stdout}"));
        assert_eq!(mac.to_uppercase(), d.mac.to_uppercase(), "{ip}");
    }
    assert_eq!(found.len(), 100, "nothing but the fleet: {stdout}");
    fleet.shutdown().await;
}

/// Polls and discovery take the emulator's `get_sysinfo` fast path (reply bytes written
/// directly); it must answer byte for byte what the general dispatcher answers, for every
/// real device dump too.
#[test]
fn sysinfo_fast_path_matches_the_general_path_for_every_dump() {
    let mut seen = 0;
    for entry in std::fs::read_dir(fixtures_dir()).expect("fixtures readable") {
        let path = entry.expect("dir entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let Ok(profile) = plugctl_emulator::kasa::Profile::from_dump_file(&path) else { continue };
        let now = std::time::Instant::now();
        let (mut a, mut b) = (profile.instantiate(4, 5), profile.instantiate(4, 5));
        let fast = a.handle(SYSINFO.as_bytes(), now).expect("a reply");
        let general = serde_json::to_vec(&b.handle_value(SYSINFO.as_bytes(), now).expect("a reply")).unwrap();
        assert_eq!(String::from_utf8_lossy(&fast), String::from_utf8_lossy(&general), "{}", path.display());
        seen += 1;
    }
    assert!(seen >= 5, "only {seen} dumps checked");
}
