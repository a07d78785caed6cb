//! Cloud-free mode against emulated Kasa plugs on loopback: a real hub with a `cloud_free`
//! device unbinds it (`cnCloud.get_info` → `binded: 0`) and corrects a clock skewed with
//! `time.set_time`; the periodic drift check and the `online` event re-sync it; an
//! unreachable plug is one `error` event, not one per attempt. Waits are on effects, with
//! hang guards; clocks are compared with each other, never with elapsed time.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    path::PathBuf,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use jiff::tz::TimeZone;
use plugctl_client::{
    kasa::{ClientConfig, KasaDevice},
    Family,
};
use plugctl_emulator::kasa::{self, builtin, Fleet, FleetConfig};
use plugctl_hub::{
    config::{DeviceEntry, HubConfig, Location},
    events::HubEvent,
    model::{Availability, DeviceId, DeviceInfo, DeviceView, Source},
    timesync::{SyncHost, TimeSync, TimeSyncOptions},
    Hub, StartOptions,
};
use serde_json::Value;
use tokio::sync::broadcast;

const HANG_GUARD: Duration = Duration::from_secs(60);
/// The firmware zone index of Europe/Berlin.
const BERLIN_INDEX: i64 = 41;

fn temp_dir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "plugctl-hub-timesync-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

async fn fleet(third: u8) -> Fleet {
    kasa::fleet::start(FleetConfig {
        count: 1,
        base: Ipv4Addr::new(127, 0, 63, third),
        profiles: vec![builtin("hs110-hw4").expect("profile")],
        seed: u64::from(third),
        ..FleetConfig::default()
    })
    .await
    .expect("fleet")
}

async fn until<F: std::future::Future<Output = bool>>(what: &str, mut cond: impl FnMut() -> F) {
    let give_up = tokio::time::Instant::now() + HANG_GUARD;
    while !cond().await {
        assert!(tokio::time::Instant::now() < give_up, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Binds the plug to an account and sets its clock back to 2020.
async fn bind_and_skew(plug: &KasaDevice) {
    let info = plug.cloud_bind("someone@example.com", "secret").await.expect("bind");
    assert!(info.bound);
    skew(plug).await;
}

async fn skew(plug: &KasaDevice) {
    let r = plug
        .query_raw(r#"{"time":{"set_time":{"year":2020,"month":1,"mday":1,"hour":0,"min":0,"sec":0}}}"#)
        .await
        .expect("set_time");
    assert_eq!(r["time"]["set_time"]["err_code"], 0, "{r}");
    let drift = plug.time().await.expect("time").drift_s().unwrap_or(0);
    assert!(drift < -86_400 * 365, "the clock is skewed: {drift} s");
}

async fn binded(plug: &KasaDevice) -> i64 {
    let r: Value = plug.query_raw(r#"{"cnCloud":{"get_info":{}}}"#).await.expect("get_info");
    r["cnCloud"]["get_info"]["binded"].as_i64().expect("binded")
}

/// True once the plug's clock is within 5 s of the host's and in the Berlin zone.
async fn synced(plug: &KasaDevice) -> bool {
    match plug.time().await {
        Ok(t) => t.index == Some(BERLIN_INDEX) && t.drift_s().is_some_and(|d| d.abs() <= 5),
        Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_unbinds_a_cloud_free_plug_and_corrects_its_clock() {
    let fleet = fleet(2).await;
    let dev = fleet.devices()[0].clone();
    let plug = KasaDevice::new(dev.addr, ClientConfig::default());
    bind_and_skew(&plug).await;
    assert_eq!(binded(&plug).await, 1);

    let mut config = HubConfig::default();
    config.discovery.enabled = false;
    config.discovery.target = "127.255.255.255".into();
    config.location =
        Some(Location { latitude: 52.52, longitude: 13.405, timezone: Some("Europe/Berlin".into()) });
    config.devices = vec![DeviceEntry {
        host: dev.addr.to_string(),
        family: Some(Family::Kasa),
        udp_port: None,
        name: None,
        room: None,
        tags: vec![],
        interval: Some(1.0),
        cloud_free: true,
    }];
    let dir = temp_dir();
    let hub = Hub::start(config.clone(), StartOptions { config_path: None, db_path: dir.join("hub.db") })
        .await
        .expect("hub starts");
    let ts = TimeSync::start(hub.clone(), config.location.clone());
    until("the plug to be unbound and synced", || async { binded(&plug).await == 0 && synced(&plug).await })
        .await;
    let id = DeviceId::kasa(&dev.device_id);
    until("the status", || {
        let s = ts.status();
        let id = id.clone();
        async move {
            s.iter().any(|s| s.id == id && s.unbound && s.last_sync_ms.is_some() && s.zone_index == Some(41))
        }
    })
    .await;
    // The poller kept polling meanwhile (its own connection).
    assert!(hub.device(&id).is_some_and(|v| v.availability.online));

    // Switching cloud-free mode off stops the worker; the plug is left alone.
    hub.patch_device(&id, plugctl_hub::DevicePatch { cloud_free: Some(false), ..Default::default() })
        .await
        .expect("patch");
    until("the worker to stop", || {
        let empty = ts.status().is_empty();
        async move { empty }
    })
    .await;
    ts.stop().await;
    hub.shutdown().await;
    plug.close().await;
    fleet.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// A host with a fixed device list and a bus the test drives.
struct FakeHost {
    devices: Vec<DeviceView>,
    bus: broadcast::Sender<HubEvent>,
    published: Mutex<Vec<HubEvent>>,
}

impl SyncHost for FakeHost {
    fn devices(&self) -> Vec<DeviceView> {
        self.devices.clone()
    }
    fn subscribe(&self) -> broadcast::Receiver<HubEvent> {
        self.bus.subscribe()
    }
    fn publish(&self, event: HubEvent) {
        self.published.lock().unwrap().push(event);
    }
}

fn view(id: &str, addr: SocketAddr) -> DeviceView {
    DeviceView {
        info: DeviceInfo {
            id: DeviceId(id.into()),
            family: Family::Kasa,
            host: addr.ip(),
            port: addr.port(),
            udp_port: None,
            name: id.into(),
            room: None,
            tags: vec![],
            model: "HS110(EU)".into(),
            mac: "00:00:00:00:00:00".into(),
            sw_version: None,
            outlets: vec![],
            interval: Duration::from_secs(1),
            cloud_free: true,
            source: Source::Config,
        },
        reading: None,
        availability: Availability { online: true, since_ms: 0, consecutive_failures: 0, last_error: None },
    }
}

fn fast_options() -> TimeSyncOptions {
    TimeSyncOptions {
        check_every: Duration::from_millis(100),
        online_quiet: Duration::ZERO,
        timezone: TimeZone::get("Europe/Berlin").unwrap(),
        client: ClientConfig { timeout: Duration::from_secs(2), retries: 0, ..ClientConfig::default() },
        ..TimeSyncOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_checks_and_online_events_resync_and_failures_are_reported_once() {
    let fleet = fleet(10).await;
    let dev = fleet.devices()[0].clone();
    let plug = KasaDevice::new(dev.addr, ClientConfig::default());
    bind_and_skew(&plug).await;
    // A refused port: a plug that is off.
    let dead = {
        let l = std::net::TcpListener::bind((IpAddr::V4(Ipv4Addr::new(127, 0, 63, 11)), 0)).expect("bind");
        l.local_addr().expect("addr")
    };
    let (bus, _) = broadcast::channel(16);
    let host = Arc::new(FakeHost {
        devices: vec![view("kasa-LIVE", dev.addr), view("kasa-DEAD", dead)],
        bus: bus.clone(),
        published: Mutex::new(Vec::new()),
    });
    let ts = TimeSync::start_with(host.clone(), fast_options());
    until("the first sync", || async { binded(&plug).await == 0 && synced(&plug).await }).await;

    // The periodic check finds a skewed clock and pushes the time again.
    skew(&plug).await;
    until("the drift to be corrected", || synced(&plug)).await;

    // A plug that comes back online is synced at once (here with a long check interval).
    drop(ts);
    let ts = TimeSync::start_with(
        host.clone(),
        TimeSyncOptions { check_every: Duration::from_secs(3600), ..fast_options() },
    );
    until("the start-up sync", || {
        let ok = ts.status().iter().any(|s| s.id.0 == "kasa-LIVE" && s.last_sync_ms.is_some());
        async move { ok }
    })
    .await;
    skew(&plug).await;
    let _ = bus.send(HubEvent::Online { id: DeviceId("kasa-LIVE".into()), at_ms: 0 });
    until("the sync after `online`", || synced(&plug)).await;

    // The dead plug: one error event (per start of the extension), with the reason.
    let _ = bus.send(HubEvent::Online { id: DeviceId("kasa-DEAD".into()), at_ms: 0 });
    until("the dead plug's status", || {
        let e = ts.status().into_iter().find(|s| s.id.0 == "kasa-DEAD").and_then(|s| s.error);
        async move { e.is_some() }
    })
    .await;
    let errors: Vec<String> = host
        .published
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            HubEvent::Error { id: Some(id), message, .. } if id.0 == "kasa-DEAD" => Some(message.clone()),
            _ => None,
        })
        .collect();
    assert!(!errors.is_empty());
    assert!(errors.len() <= 2, "one per start of the extension: {errors:?}");
    assert!(
        errors[0].starts_with("cloud-free mode: cloud unbind failed") && errors[0].contains("refused"),
        "{}",
        errors[0]
    );
    ts.stop().await;
    plug.close().await;
    fleet.shutdown().await;
}
