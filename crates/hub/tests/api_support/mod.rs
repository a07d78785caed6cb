//! Shared set-up of the API tests: emulated plugs of both families on loopback, a hub polling
//! them, and the API served on 127.0.0.1:0.
#![allow(dead_code)]

use std::{
    net::{Ipv4Addr, SocketAddr},
    path::PathBuf,
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use plugctl_emulator::{hf, kasa};
use plugctl_hub::{
    api::{self, ApiOptions, Security},
    config::{DeviceEntry, HubConfig},
    model::DeviceView,
    Hub, StartOptions,
};
use serde_json::Value;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

/// A hang guard (never an assertion on speed).
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A running hub with its API.
pub struct Env {
    pub hub: Hub,
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub kasa: Option<kasa::Fleet>,
    pub hf: Option<hf::Fleet>,
    pub scheduler: Option<plugctl_hub::scheduler::SchedulerHandle>,
    dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

/// What to start.
pub struct Setup {
    /// Emulated plugs (an HS110 hw4 and an HS300 strip of the Kasa family, one Hi-Flying
    /// plug).
    pub emulators: bool,
    pub security: Security,
    /// Run the local scheduler too (the API tells it about rule changes).
    pub scheduler: bool,
}

impl Setup {
    /// Emulators, open on loopback, no scheduler.
    pub fn emulated() -> Self {
        Setup { emulators: true, security: Security::open(), scheduler: false }
    }

    /// No devices.
    pub fn empty(security: Security) -> Self {
        Setup { emulators: false, security, scheduler: false }
    }
}

fn temp_dir() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "plugctl-hub-api-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Device entries for the fleets.
fn entries(k: &kasa::Fleet, h: &hf::Fleet) -> Vec<DeviceEntry> {
    let mut out = Vec::new();
    for d in k.devices() {
        out.push(DeviceEntry {
            host: d.addr.to_string(),
            family: Some(plugctl_client::Family::Kasa),
            udp_port: None,
            name: None,
            room: None,
            tags: vec![],
            interval: Some(1.0),
            cloud_free: false,
        });
    }
    for p in h.plugs() {
        out.push(DeviceEntry {
            host: format!("{}:{}", p.ip, p.ports.control),
            family: Some(plugctl_client::Family::Hf),
            udp_port: Some(p.ports.udp),
            name: Some("Reco plug".into()),
            room: Some("Hall".into()),
            tags: vec!["hf".into()],
            interval: Some(1.0),
            cloud_free: false,
        });
    }
    out
}

impl Env {
    pub async fn start(setup: Setup) -> Env {
        let (kasa_fleet, hf_fleet) = if setup.emulators {
            let profiles =
                ["hs110-hw4", "hs300"].iter().map(|n| kasa::builtin(n).expect("profile")).collect();
            let k = kasa::fleet::start(kasa::FleetConfig {
                count: 2,
                base: Ipv4Addr::new(127, 0, 3, 2),
                profiles,
                seed: 7,
                ..kasa::FleetConfig::default()
            })
            .await
            .expect("kasa fleet");
            let h = hf::fleet::start(hf::FleetConfig {
                count: 1,
                base: Ipv4Addr::new(127, 0, 3, 20),
                other_base: Some(Ipv4Addr::new(127, 0, 3, 30)),
                ports: hf::Ports::ephemeral(),
                seed: 7,
                ..hf::FleetConfig::default()
            })
            .await
            .expect("hf fleet");
            (Some(k), Some(h))
        } else {
            (None, None)
        };
        let mut config = HubConfig::default();
        config.hub.poll_interval = 1.0;
        config.discovery.enabled = false;
        config.discovery.target = "127.255.255.255".into();
        if let (Some(k), Some(h)) = (&kasa_fleet, &hf_fleet) {
            config.devices = entries(k, h);
        }
        let dir = temp_dir();
        let hub = Hub::start(config, StartOptions { config_path: None, db_path: dir.join("hub.db") })
            .await
            .expect("hub starts");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let scheduler = setup.scheduler.then(|| plugctl_hub::scheduler::Scheduler::start(hub.clone(), None));
        let opts = ApiOptions { scheduler: scheduler.as_ref().map(|s| s.control()) };
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(api::serve_with(listener, hub.clone(), setup.security, opts, async {
            let _ = rx.await;
        }));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(PATIENCE)
            .build()
            .expect("client");
        Env {
            hub,
            addr,
            client,
            kasa: kasa_fleet,
            hf: hf_fleet,
            scheduler,
            dir,
            stop: Some(tx),
            server: Some(server),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Waits until every configured device is online with a reading.
    pub async fn wait_online(&self, n: usize) -> Vec<DeviceView> {
        let r = tokio::time::timeout(PATIENCE, async {
            loop {
                let d = self.hub.devices();
                if d.len() == n && d.iter().all(|v| v.availability.online && v.reading.is_some()) {
                    return d;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await;
        r.unwrap_or_else(|_| panic!("devices never came online: {:#?}", self.hub.devices()))
    }

    /// Polls `f` until it answers `Some`.
    pub async fn eventually<T, F, Fut>(&self, what: &str, mut f: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Option<T>>,
    {
        let r = tokio::time::timeout(PATIENCE, async {
            loop {
                if let Some(v) = f().await {
                    return v;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        r.unwrap_or_else(|_| panic!("timed out waiting for {what}"))
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(s) = self.server.take() {
            let r = tokio::time::timeout(PATIENCE, s).await.expect("server stops");
            r.expect("server task").expect("server result");
        }
        if let Some(s) = self.scheduler.take() {
            s.stop().await;
        }
        self.hub.shutdown().await;
        if let Some(k) = self.kasa.take() {
            k.shutdown().await;
        }
        if let Some(h) = self.hf.take() {
            h.shutdown().await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Asserts a problem answer and returns its body.
pub async fn problem(resp: reqwest::Response, status: u16) -> Value {
    assert_eq!(resp.status().as_u16(), status, "status of {}", resp.url());
    let ctype = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    assert_eq!(ctype, "application/problem+json", "content type of a {status}");
    let v: Value = resp.json().await.expect("problem body is JSON");
    assert_eq!(v["status"], status, "{v}");
    assert!(v["type"].is_string() && v["title"].is_string(), "{v}");
    assert!(v["detail"].as_str().is_some_and(|d| !d.is_empty()), "a problem has a detail: {v}");
    v
}
