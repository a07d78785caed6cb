//! Harness for the MQTT bridge tests: a real Mosquitto on a free loopback port, a watching
//! MQTT client, and a hub over emulated plugs of both families.

#![allow(dead_code)]

use std::{
    collections::HashMap,
    net::{Ipv4Addr, SocketAddr},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use plugctl_emulator::{hf, kasa};
use plugctl_hub::{
    config::{DeviceEntry, HubConfig},
    mqtt::{self, MqttHandle, Settings},
    Hub, StartOptions,
};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

const MOSQUITTO: &str = "/usr/sbin/mosquitto";

/// A Mosquitto broker owned by the test (no persistence: a restart loses retained messages).
pub struct Broker {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// `(cafile, certfile, keyfile)` of a TLS listener.
    tls: Option<(PathBuf, PathBuf, PathBuf)>,
}

impl Broker {
    pub async fn start() -> Broker {
        Self::start_with(None).await
    }

    /// A broker whose only listener speaks TLS with the given CA, certificate and key (PEM).
    pub async fn start_tls(ca: PathBuf, cert: PathBuf, key: PathBuf) -> Broker {
        Self::start_with(Some((ca, cert, key))).await
    }

    async fn start_with(tls: Option<(PathBuf, PathBuf, PathBuf)>) -> Broker {
        assert!(
            std::path::Path::new(MOSQUITTO).exists(),
            "{MOSQUITTO} is missing: run ./scripts/test.sh (it installs the Debian package mosquitto)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let dir = tempfile::tempdir().expect("tempdir");
        let mut b = Broker { port, dir, child: None, tls };
        b.spawn().await;
        b
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("mosquitto.conf")
    }

    async fn spawn(&mut self) {
        let mut conf = format!("listener {} 127.0.0.1\nallow_anonymous true\npersistence false\n", self.port);
        if let Some((ca, cert, key)) = &self.tls {
            conf +=
                &format!("cafile {}\ncertfile {}\nkeyfile {}\n", ca.display(), cert.display(), key.display());
        }
        std::fs::write(self.conf(), conf).expect("write conf");
        let log = std::fs::File::create(self.dir.path().join("mosquitto.log")).expect("log");
        let child = Command::new(MOSQUITTO)
            .arg("-c")
            .arg(self.conf())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start mosquitto");
        self.child = Some(child);
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port)).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("mosquitto did not listen on {}: {}", self.port, self.log());
    }

    /// Mosquitto's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default()
    }

    /// Kills the broker (SIGKILL) and starts it again on the same port.
    pub async fn restart(&mut self) {
        self.kill();
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.spawn().await;
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "mqtts" } else { "mqtt" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One received message.
#[derive(Debug, Clone, PartialEq)]
pub struct Msg {
    pub topic: String,
    pub payload: String,
    pub retain: bool,
}

/// A client subscribed to `#` that records everything (and resubscribes after a reconnect).
pub struct Watcher {
    pub client: AsyncClient,
    log: Arc<Mutex<Vec<Msg>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Watcher {
    pub async fn start(port: u16, id: &str) -> Watcher {
        Self::start_with(MqttOptions::new(id, "127.0.0.1", port)).await
    }

    /// A watcher with its own options (e.g. a TLS transport).
    pub async fn start_with(options: MqttOptions) -> Watcher {
        let (client, mut el) = AsyncClient::new(options, 1024);
        let log = Arc::new(Mutex::new(Vec::new()));
        let (l, c) = (log.clone(), client.clone());
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let mut ready = Some(ready_tx);
        let task = tokio::spawn(async move {
            loop {
                match el.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = c.try_subscribe("#", QoS::AtLeastOnce);
                    }
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        if let Some(r) = ready.take() {
                            let _ = r.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => l.lock().expect("lock").push(Msg {
                        topic: p.topic.clone(),
                        payload: String::from_utf8_lossy(&p.payload).into_owned(),
                        retain: p.retain,
                    }),
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        tokio::time::timeout(Duration::from_secs(20), ready_rx).await.expect("watcher subscribed").ok();
        Watcher { client, log, task }
    }

    /// How many messages so far (a mark for `wait_after`).
    pub fn mark(&self) -> usize {
        self.log.lock().expect("lock").len()
    }

    pub fn all(&self) -> Vec<Msg> {
        self.log.lock().expect("lock").clone()
    }

    /// The last payload seen on every topic.
    pub fn latest(&self) -> HashMap<String, String> {
        self.all().into_iter().map(|m| (m.topic, m.payload)).collect()
    }

    /// Waits (hang guard 20 s) for a message after `mark` on `topic` satisfying `pred`.
    pub async fn wait_after(&self, mark: usize, topic: &str, pred: impl Fn(&str) -> bool) -> Msg {
        for _ in 0..400 {
            if let Some(m) = self.all().into_iter().skip(mark).find(|m| m.topic == topic && pred(&m.payload))
            {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for a message on {topic}; last: {:?}", self.latest().get(topic));
    }

    pub async fn wait(&self, topic: &str, payload: &str) -> Msg {
        self.wait_after(0, topic, |p| p == payload).await
    }

    pub async fn publish(&self, topic: &str, payload: &str, retain: bool) {
        self.client
            .publish(topic, QoS::AtLeastOnce, retain, payload.as_bytes().to_vec())
            .await
            .expect("publish");
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Polls `f` every 50 ms until it holds (hang guard 20 s).
pub async fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..400 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// Bridge settings for a test broker.
pub fn settings(broker: &Broker, client_id: &str, base: &str, node: &str) -> Settings {
    let mut s = Settings::parse(&broker.url(), client_id.into(), base, node.into(), "homeassistant")
        .expect("settings");
    s.reconnect_max = Duration::from_secs(1);
    s
}

/// Emulated plugs (an HS110, an HS300 strip, a Hi-Flying plug) and a hub over them.
pub struct Stack {
    pub hub: Hub,
    pub kasa: kasa::Fleet,
    pub hf: hf::Fleet,
    _dir: tempfile::TempDir,
}

pub const KASA: &[(&str, &str)] = &[("hs110-hw4", "Fridge"), ("hs300", "Desk strip")];

impl Stack {
    pub async fn start(base: Ipv4Addr) -> Stack {
        let profiles = KASA.iter().map(|(p, _)| kasa::builtin(p).expect("profile")).collect();
        let k = kasa::fleet::start(kasa::FleetConfig {
            count: KASA.len(),
            base,
            profiles,
            seed: 11,
            ..kasa::FleetConfig::default()
        })
        .await
        .expect("kasa fleet");
        let mut devices: Vec<DeviceEntry> = k
            .devices()
            .iter()
            .zip(KASA)
            .map(|(d, (_, name))| entry(d.addr, Some(plugctl_client::Family::Kasa), None, name))
            .collect();
        let [a, b, c, _] = base.octets();
        let h = hf::fleet::start(hf::FleetConfig {
            count: 1,
            base: Ipv4Addr::new(a, b, c, 20),
            other_base: Some(Ipv4Addr::new(a, b, c, 30)),
            ports: hf::Ports::ephemeral(),
            seed: 11,
            ..hf::FleetConfig::default()
        })
        .await
        .expect("hf fleet");
        for p in h.plugs() {
            let addr = SocketAddr::from((p.ip, p.ports.control));
            devices.push(entry(addr, Some(plugctl_client::Family::Hf), Some(p.ports.udp), "Reading lamp"));
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let mut config = HubConfig::default();
        config.hub.poll_interval = 1.0;
        config.discovery.enabled = false;
        config.discovery.target = "127.255.255.255".into();
        config.devices = devices;
        let hub = Hub::start(config, StartOptions { config_path: None, db_path: dir.path().join("hub.db") })
            .await
            .expect("hub starts");
        eventually("every plug polled", || {
            let d = hub.devices();
            d.len() == 3 && d.iter().all(|d| d.availability.online && d.reading.is_some())
        })
        .await;
        Stack { hub, kasa: k, hf: h, _dir: dir }
    }

    pub fn bridge(&self, s: Settings) -> MqttHandle {
        mqtt::start(self.hub.clone(), s).expect("bridge starts")
    }

    /// The device id (as a topic slug) of the device named `name`.
    pub fn slug(&self, name: &str) -> String {
        let d = self.hub.devices().into_iter().find(|d| d.info.name == name).expect("device by name");
        mqtt::discovery::device_slug(&d.info.id)
    }
}

pub fn entry(
    addr: SocketAddr,
    family: Option<plugctl_client::Family>,
    udp_port: Option<u16>,
    name: &str,
) -> DeviceEntry {
    DeviceEntry {
        host: addr.to_string(),
        family,
        udp_port,
        name: Some(name.into()),
        room: None,
        tags: vec![],
        interval: Some(1.0),
        cloud_free: false,
    }
}
