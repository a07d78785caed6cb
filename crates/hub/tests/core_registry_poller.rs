//! The hub's core against real emulated plugs on loopback: polling, switching that answers
//! from the device, offline and back, address healing by discovery, and restart persistence.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    time::Duration,
};

use plugctl_emulator::kasa::{bind_device, builtin, shared, ServerConfig};
use plugctl_hub::{
    config::{DeviceEntry, HubConfig},
    events::HubEvent,
    model::DeviceView,
    DevicePatch, Hub, StartOptions, SwitchAction,
};

fn entry(addr: SocketAddr) -> DeviceEntry {
    DeviceEntry {
        host: addr.to_string(),
        family: None,
        udp_port: None,
        name: None,
        room: Some("Lab".into()),
        tags: vec!["test".into()],
        interval: Some(1.0),
        cloud_free: false,
    }
}

fn config(devices: Vec<DeviceEntry>, discovery_port: u16) -> HubConfig {
    let mut c = HubConfig::default();
    c.hub.poll_interval = 1.0;
    c.devices = devices;
    c.discovery.target = "127.255.255.255".into();
    c.discovery.kasa_port = discovery_port;
    c.discovery.hf_port = free_udp_port();
    c.discovery.interval = 3600.0;
    c
}

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).map(|a| a.port()).unwrap_or(1)
}

/// Polls `f` every 50 ms until it holds (hang guard 20 s).
async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..400 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

fn only(hub: &Hub) -> DeviceView {
    let d = hub.devices();
    assert_eq!(d.len(), 1, "{d:#?}");
    d.into_iter().next().unwrap_or_else(|| unreachable!())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polls_switches_from_the_device_and_tracks_availability() {
    let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 20, 2));
    let profile = builtin("hs110-hw4").expect("profile");
    let dev = shared(profile.instantiate(0, 77));
    let running = bind_device(ip, 0, dev.clone(), ServerConfig::default()).await.expect("bind");
    let addr = running.addr();
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = Hub::start(
        config(vec![entry(addr)], free_udp_port()),
        StartOptions { config_path: None, db_path: dir.path().join("hub.db") },
    )
    .await
    .expect("hub starts");
    let mut events = hub.events().subscribe();

    let v = only(&hub);
    assert!(v.info.id.as_str().starts_with("kasa-"), "{:?}", v.info.id);
    assert_eq!(v.info.model, "HS110(EU)");
    assert_eq!(v.info.room.as_deref(), Some("Lab"));
    eventually("online with a metered reading", || {
        let v = only(&hub);
        v.availability.online && v.reading.as_ref().is_some_and(|r| r.voltage_v.is_some())
    })
    .await;

    // Switching answers with the state read back from the device.
    let id = v.info.id.clone();
    let off = hub.switch(&id, SwitchAction::Off, None).await.expect("switch off");
    assert_eq!(off.reading.as_ref().map(|r| r.on), Some(false));
    let on = hub.switch(&id, SwitchAction::Toggle, None).await.expect("toggle");
    assert_eq!(on.reading.as_ref().map(|r| r.on), Some(true));
    let sysinfo = {
        let mut d = dev.lock().expect("lock");
        d.handle(br#"{"system":{"get_sysinfo":{}}}"#, std::time::Instant::now()).expect("reply")
    };
    let s: serde_json::Value = serde_json::from_slice(&sysinfo).expect("json");
    assert_eq!(s["system"]["get_sysinfo"]["relay_state"], 1, "the emulated plug really switched");

    // State changes were published.
    let mut saw_change = false;
    while let Ok(e) = events.try_recv() {
        if matches!(e, HubEvent::StateChanged { on: false, .. }) {
            saw_change = true;
        }
    }
    assert!(saw_change, "a state_changed event for the switch");

    // The plug goes silent: offline; it comes back on the same address: online again.
    running.shutdown().await;
    eventually("offline", || !only(&hub).availability.online).await;
    let err = hub.switch(&id, SwitchAction::On, None).await.expect_err("switching an offline plug fails");
    assert!(!err.to_string().is_empty());
    let back = bind_device(ip, addr.port(), dev.clone(), ServerConfig::default()).await.expect("rebind");
    eventually("online again", || only(&hub).availability.online).await;

    hub.shutdown().await;
    drop(back);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_heals_an_address_change_and_devices_survive_a_restart() {
    let profile = builtin("kp115").expect("profile");
    let dev = shared(profile.instantiate(0, 99));
    let first = IpAddr::V4(Ipv4Addr::new(127, 0, 21, 2));
    let running = bind_device(first, 0, dev.clone(), ServerConfig::default()).await.expect("bind");
    let port = running.port();
    // A broadcast listener so discovery reaches the device.
    let second = IpAddr::V4(Ipv4Addr::new(127, 0, 21, 3));
    // Discovery is aimed (unicast) at the address the plug will move to.
    let mut cfg = config(Vec::new(), port);
    cfg.discovery.target = second.to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("hub.db");
    let hub = Hub::start(cfg.clone(), StartOptions { config_path: None, db_path: db.clone() })
        .await
        .expect("hub starts");
    // Added through the API path (by address).
    let added = hub.add_device(entry(running.addr())).await.expect("add");
    let id = added.info.id.clone();
    assert_eq!(added.info.host, first);
    assert_eq!(hub.discover_now().await.expect("discovery runs"), 0, "nothing at the new address yet");

    // The plug "gets a new DHCP lease": same identity, new address, same port.
    running.shutdown().await;
    let moved = bind_device(second, port, dev.clone(), ServerConfig::default()).await.expect("bind");
    assert_eq!(hub.discover_now().await.expect("discovery runs"), 1, "discovery found the moved plug");
    eventually("address healed", || hub.device(&id).is_some_and(|d| d.info.host == second)).await;
    eventually("online at the new address", || hub.device(&id).is_some_and(|d| d.availability.online)).await;
    assert_eq!(hub.devices().len(), 1, "no duplicate device for the new address");
    hub.shutdown().await;
    drop(hub);

    // Restart: the device added through the API is still there, at its new address.
    let hub = Hub::start(cfg, StartOptions { config_path: None, db_path: db }).await.expect("hub restarts");
    let v = hub.device(&id).expect("device kept across restart");
    assert_eq!(v.info.host, second);
    eventually("polled after restart", || hub.device(&id).is_some_and(|d| d.availability.online)).await;
    hub.shutdown().await;
    drop(moved);
}

/// Settings the config file leaves unset and the API changed survive a restart (the file
/// wins only for what it states).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_edits_of_a_configured_device_survive_a_restart() {
    let profile = builtin("hs110-hw4").expect("profile");
    let dev = shared(profile.instantiate(0, 7));
    let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 21, 9));
    let running = bind_device(ip, 0, dev, ServerConfig::default()).await.expect("bind");
    let mut bare = entry(running.addr());
    bare.room = None;
    bare.tags = Vec::new();
    bare.interval = None;
    let mut cfg = config(vec![bare], free_udp_port());
    cfg.discovery.enabled = false;
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("hub.db");
    let opts = || StartOptions { config_path: None, db_path: db.clone() };
    let hub = Hub::start(cfg.clone(), opts()).await.expect("hub starts");
    let id = only(&hub).info.id;
    let patch = DevicePatch {
        room: Some("Garage".into()),
        tags: Some(vec!["freezer".into()]),
        interval: Some(7.0),
        cloud_free: Some(true),
        ..DevicePatch::default()
    };
    hub.patch_device(&id, patch).await.expect("patch acknowledged");
    hub.shutdown().await;
    drop(hub);

    let hub = Hub::start(cfg.clone(), opts()).await.expect("hub restarts");
    let v = hub.device(&id).expect("device kept");
    assert_eq!(v.info.room.as_deref(), Some("Garage"));
    assert_eq!(v.info.tags, vec!["freezer".to_string()]);
    assert_eq!(v.info.interval, Duration::from_secs(7));
    assert!(v.info.cloud_free);
    hub.shutdown().await;
    drop(hub);

    // What the file states wins over the saved value.
    cfg.devices[0].room = Some("Kitchen".into());
    let hub = Hub::start(cfg, opts()).await.expect("hub restarts");
    let v = hub.device(&id).expect("device kept");
    assert_eq!(v.info.room.as_deref(), Some("Kitchen"));
    assert_eq!(v.info.tags, vec!["freezer".to_string()], "unset in the file: kept");
    hub.shutdown().await;
    drop(running);
}
