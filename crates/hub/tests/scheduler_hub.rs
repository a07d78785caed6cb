//! The scheduler over a real hub (`Hub::start`, SQLite store, poller) and an emulated Kasa
//! plug on loopback: a rule due "now" (by the scheduler's manual clock) switches the plug, the
//! rule and its state survive a restart of the hub, the missed-run policy applies after the
//! "downtime", and a failed run is an `error` event on the hub's bus. Waits are on effects,
//! with hang guards.

use std::{
    net::Ipv4Addr,
    path::PathBuf,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use jiff::{civil, tz::TimeZone, Timestamp};
use plugctl_client::{
    kasa::{ClientConfig, KasaDevice},
    Family,
};
use plugctl_emulator::kasa::{self, builtin, FleetConfig};
use plugctl_hub::{
    config::{DeviceEntry, HubConfig, Location},
    events::HubEvent,
    model::DeviceId,
    scheduler::{validate_rule, ManualClock, Outcome, Scheduler, SchedulerHandle, SchedulerOptions},
    Hub, StartOptions,
};
use serde_json::json;

const HANG_GUARD: Duration = Duration::from_secs(60);
const BERLIN: &str = "Europe/Berlin";

fn temp_dir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "plugctl-hub-sched-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn berlin(y: i16, mo: i8, d: i8, h: i8, mi: i8) -> Timestamp {
    civil::date(y, mo, d).at(h, mi, 0, 0).to_zoned(TimeZone::get(BERLIN).unwrap()).unwrap().timestamp()
}

fn location() -> Location {
    Location { latitude: 52.52, longitude: 13.405, timezone: Some(BERLIN.into()) }
}

fn config(addr: std::net::SocketAddr) -> HubConfig {
    let mut c = HubConfig::default();
    c.hub.poll_interval = 1.0;
    c.discovery.enabled = false;
    c.discovery.target = "127.255.255.255".into();
    c.location = Some(location());
    c.devices = vec![DeviceEntry {
        host: addr.to_string(),
        family: Some(Family::Kasa),
        udp_port: None,
        name: Some("Lamp".into()),
        room: None,
        tags: vec![],
        interval: Some(1.0),
        cloud_free: false,
    }];
    c
}

async fn until<F: std::future::Future<Output = bool>>(what: &str, mut cond: impl FnMut() -> F) {
    let give_up = tokio::time::Instant::now() + HANG_GUARD;
    while !cond().await {
        assert!(tokio::time::Instant::now() < give_up, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn scheduler(hub: &Hub, clock: &ManualClock) -> SchedulerHandle {
    let opts = SchedulerOptions { clock: Arc::new(clock.clone()), ..SchedulerOptions::default() };
    Scheduler::start_with(Arc::new(hub.clone()), Some(location()), opts)
}

async fn jump(h: &SchedulerHandle, clock: &ManualClock, t: Timestamp) {
    clock.set(t);
    h.reload_and_wait().await;
}

fn outcome(h: &SchedulerHandle, id: &str) -> Option<Outcome> {
    h.status().into_iter().find(|s| s.id == id).and_then(|s| s.state.last_outcome)
}

async fn is_on(plug: &KasaDevice) -> bool {
    plug.sysinfo().await.expect("sysinfo").is_on()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_rule_switches_the_emulated_plug_and_survives_a_restart() {
    let fleet = kasa::fleet::start(FleetConfig {
        count: 1,
        base: Ipv4Addr::new(127, 0, 62, 2),
        profiles: vec![builtin("hs110-hw4").expect("profile")],
        seed: 62,
        ..FleetConfig::default()
    })
    .await
    .expect("fleet");
    let dev = fleet.devices()[0].clone();
    let plug = KasaDevice::new(dev.addr, ClientConfig::default());
    plug.set_power(false, None).await.expect("off");
    let id = DeviceId::kasa(&dev.device_id);
    let dir = temp_dir();
    let opts = StartOptions { config_path: None, db_path: dir.join("hub.db") };

    let hub = Hub::start(config(dev.addr), opts.clone()).await.expect("hub starts");
    until("the hub to read the plug", || {
        let v = hub.device(&id);
        async move { v.is_some_and(|v| v.reading.is_some()) }
    })
    .await;
    let rule = json!({"id": "lamp-on", "name": "Lamp on", "device": id, "action": "on",
        "when": {"cron": "30 7 * * *"}});
    let rule = validate_rule(&rule).expect("valid").to_json();
    hub.store().put_schedule("lamp-on", &rule).expect("stored");
    let ghost =
        json!({"id": "ghost", "device": "kasa-0000", "action": "off", "when": {"cron": "30 7 * * *"}});
    hub.store().put_schedule("ghost", &ghost).expect("stored");
    let mut bus = hub.events().subscribe();

    let clock = ManualClock::new(berlin(2026, 3, 28, 7, 0));
    let sched = scheduler(&hub, &clock);
    sched.reload_and_wait().await;
    assert!(!is_on(&plug).await, "nothing due yet");
    // 07:30: due now.
    jump(&sched, &clock, berlin(2026, 3, 28, 7, 30)).await;
    until("the run", || {
        let o = outcome(&sched, "lamp-on");
        async move { o == Some(Outcome::Ran) }
    })
    .await;
    assert!(is_on(&plug).await, "the emulated plug was switched on");
    // The rule for a device the hub does not know failed with an error event on the bus.
    until("the ghost's failure", || {
        let o = outcome(&sched, "ghost");
        async move { o == Some(Outcome::Failed) }
    })
    .await;
    let mut error = None;
    while let Ok(e) = bus.try_recv() {
        if let HubEvent::Error { message, .. } = e {
            if message.contains("ghost") {
                error = Some(message);
            }
        }
    }
    let error = error.expect("an error event for the ghost rule");
    assert!(error.contains("no device with id kasa-0000"), "{error}");

    // Restart: the rule and its state come back from the database.
    drop(sched);
    hub.shutdown().await;
    drop(hub);
    plug.set_power(false, None).await.expect("off");
    let hub = Hub::start(config(dev.addr), opts.clone()).await.expect("hub restarts");
    let stored = hub.store().schedules().expect("schedules");
    let lamp = stored.iter().find(|s| s.id == "lamp-on").expect("the rule survived");
    let state = validate_rule(&lamp.rule).expect("valid").state.expect("state saved");
    assert_eq!(state.last_run_ms, Some(berlin(2026, 3, 28, 7, 30).as_millisecond()));
    assert_eq!(state.last_outcome, Some(Outcome::Ran));
    until("the hub to read the plug", || {
        let v = hub.device(&id);
        async move { v.is_some_and(|v| v.reading.is_some()) }
    })
    .await;
    // Back a minute later: the run is not repeated.
    clock.set(berlin(2026, 3, 28, 7, 31));
    let sched = scheduler(&hub, &clock);
    sched.reload_and_wait().await;
    sched.reload_and_wait().await;
    assert!(!is_on(&plug).await, "the 07:30 run is not repeated after a restart");
    assert_eq!(outcome(&sched, "lamp-on"), Some(Outcome::Ran));
    // Down until 07:38 CEST the next day (after the DST change): the missed run is within the
    // grace period and runs at start-up.
    drop(sched);
    clock.set(berlin(2026, 3, 29, 7, 38));
    let sched = scheduler(&hub, &clock);
    until("the catch-up run", || {
        let s = sched.status().into_iter().find(|s| s.id == "lamp-on");
        async move {
            s.is_some_and(|s| {
                s.state.last_outcome == Some(Outcome::Ran)
                    && s.state.last_run_ms == Some(berlin(2026, 3, 29, 7, 30).as_millisecond())
            })
        }
    })
    .await;
    assert!(is_on(&plug).await, "the missed run switched the plug on");
    let next = sched.status().into_iter().find(|s| s.id == "lamp-on").and_then(|s| s.next_run_ms);
    assert_eq!(next, Some(berlin(2026, 3, 30, 7, 30).as_millisecond()));
    drop(sched);

    // The production entry point (host clock) loads the same rules.
    let sched = Scheduler::start(hub.clone(), Some(location()));
    sched.reload_and_wait().await;
    let now = Timestamp::now().as_millisecond();
    let s = sched.status().into_iter().find(|s| s.id == "lamp-on").expect("loaded");
    assert!(s.next_run_ms.is_some_and(|n| n > now), "{s:?}");
    sched.stop().await;
    hub.shutdown().await;
    plug.close().await;
    fleet.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
