//! Start-up, the operations behind [`crate::Hub`], periodic discovery (which heals address
//! changes), store maintenance, configuration reload and shutdown.

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex, PoisonError, RwLock},
    time::Duration,
};

use futures::StreamExt;
use plugctl_client::{
    device::{discover, DiscoverOptions, Discovered},
    hf::{HfConfig, HfDiscoveryConfig},
    kasa::{ClientConfig, DiscoveryConfig},
    ConnectOptions, Device, Family,
};
use tokio::sync::oneshot;
use tracing::{info, warn};

use super::{
    poller::Command,
    registry::{Entry, Inner},
};
use crate::{
    config::{DeviceEntry, HubConfig},
    events::{EventBus, HubEvent},
    hub::{DevicePatch, Hub, HubError, StartOptions, SwitchAction},
    model::{now_ms, DeviceId, DeviceInfo, DeviceView, Reading, Source},
    store::Store,
};

/// How often the store is downsampled and pruned.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(3600);
/// Configured devices probed at once at start and reload (thousands of simultaneous connects
/// would overflow listen backlogs and time out).
const RESOLVE_CONCURRENCY: usize = 128;

/// Descriptors kept for everything but device connections: the database (writer, readers,
/// WAL and shared-memory files), the API listener and its clients, discovery and MQTT
/// sockets, time sync, logs.
const FD_RESERVE: u64 = 256;

/// Probes every configured entry, [`RESOLVE_CONCURRENCY`] at a time, in entry order.
async fn resolve_all(cfg: &HubConfig) -> Vec<Result<(Discovered, Family), String>> {
    // Collected first: a lazy `map` inside the stream trips the compiler's `Send` check.
    let probes: Vec<_> = cfg.devices.iter().map(|d| resolve_entry(cfg, d)).collect();
    futures::stream::iter(probes).buffered(RESOLVE_CONCURRENCY).collect().await
}

/// Starts the hub.
pub(crate) async fn start(config: HubConfig, opts: StartOptions) -> Result<Hub, HubError> {
    config.validate()?;
    let store =
        Store::open(&opts.db_path, config.retention.clone()).map_err(|e| HubError::Store(e.to_string()))?;
    let inner = Arc::new(Inner {
        // Room for more than one second of samples from a 10 000-plug hub, so slow
        // subscribers (metrics, MQTT, time sync) do not fall behind at scale.
        events: EventBus::new(16_384),
        store,
        opts,
        config: RwLock::new(config.clone()),
        devices: RwLock::new(HashMap::new()),
        tasks: Mutex::new(Vec::new()),
        polls: Default::default(),
        starting_with: Default::default(),
    });
    // Devices saved by earlier runs (API and discovery), then the configured ones.
    let saved = inner.store.load_devices().map_err(|e| HubError::Store(e.to_string()))?;
    // One kept connection per device; the rest (database, API clients, discovery, MQTT) is
    // kept in reserve. Refuses to start rather than failing polls with EMFILE later.
    let devices = (saved.len() + config.devices.len()) as u64;
    plugctl_client::fd_limit::ensure_room_with_reserve(devices, FD_RESERVE)
        .map_err(|e| HubError::Invalid(format!("{devices} devices, one connection each: {e}")))?;
    inner.starting_with.store(devices as usize, std::sync::atomic::Ordering::Relaxed);
    for info in saved {
        if inner.entry(&info.id).is_none() {
            inner.insert(info, None);
        }
    }
    let configured = resolve_all(&config).await;
    let mut to_save = Vec::new();
    for (entry, resolved) in config.devices.iter().zip(configured) {
        apply_configured(&inner, entry, resolved, &config, &mut to_save).await;
    }
    save_all(&inner, &to_save);
    spawn(&inner, discovery_loop(inner.clone()));
    spawn(&inner, maintenance_loop(inner.clone()));
    Ok(Hub { inner })
}

fn spawn(inner: &Arc<Inner>, f: impl std::future::Future<Output = ()> + Send + 'static) {
    inner.tasks.lock().unwrap_or_else(PoisonError::into_inner).push(tokio::spawn(f));
}

/// Probes a `[[device]]` entry: its id and facts, or why it could not be reached.
async fn resolve_entry(cfg: &HubConfig, d: &DeviceEntry) -> Result<(Discovered, Family), String> {
    let (ip, port) = split_host(&d.host)?;
    let kasa = ClientConfig { timeout: Duration::from_secs(3), retries: 1, ..ClientConfig::default() };
    let udp = d.udp_port.unwrap_or(plugctl_proto::hf::UDP_PORT);
    let hf = HfConfig { udp_port: udp, reply_port: udp, ..HfConfig::from_client(&kasa) };
    let _ = cfg;
    let dev = Device::connect(ip, &ConnectOptions { family: d.family, port, kasa, hf })
        .await
        .map_err(|e| e.to_string())?;
    let found = dev.describe().await.map_err(|e| e.to_string())?;
    let family = dev.family();
    dev.close().await;
    Ok((found, family))
}

/// `HOST[:PORT]` with HOST an IP address (host names are resolved once, at start).
fn split_host(spec: &str) -> Result<(IpAddr, Option<u16>), String> {
    let spec = spec.trim();
    if let Ok(ip) = spec.parse::<IpAddr>() {
        return Ok((ip, None));
    }
    if let Ok(sa) = spec.parse::<SocketAddr>() {
        return Ok((sa.ip(), Some(sa.port())));
    }
    let (host, port) = match spec.rsplit_once(':') {
        Some((h, p)) => (h, Some(p.parse::<u16>().map_err(|_| format!("`{spec}`: bad port"))?)),
        None => (spec, None),
    };
    let ip = std::net::ToSocketAddrs::to_socket_addrs(&(host, port.unwrap_or(0)))
        .map_err(|e| format!("cannot resolve `{host}`: {e}"))?
        .map(|a| a.ip())
        .find(IpAddr::is_ipv4)
        .ok_or_else(|| format!("`{host}` has no IPv4 address"))?;
    Ok((ip, port))
}

/// The stable id of a found device.
fn id_of(d: &Discovered) -> DeviceId {
    match d.family {
        Family::Kasa => match d.details.get("device_id").and_then(|v| v.as_str()).filter(|s| !s.is_empty()) {
            Some(dev_id) => DeviceId::kasa(dev_id),
            None => DeviceId::kasa(&d.mac.replace(':', "")),
        },
        Family::Hf => DeviceId::hf(&d.mac),
    }
}

fn info_of(d: &Discovered, source: Source, interval: Duration, udp_port: Option<u16>) -> Option<DeviceInfo> {
    let host: IpAddr = d.host.parse().ok()?;
    Some(DeviceInfo {
        id: id_of(d),
        family: d.family,
        host,
        port: d.port,
        udp_port: if d.family == Family::Hf { udp_port.or(Some(plugctl_proto::hf::UDP_PORT)) } else { None },
        name: d.alias.clone(),
        room: None,
        tags: Vec::new(),
        model: d.model.clone(),
        mac: d.mac.clone(),
        sw_version: match d.family {
            Family::Kasa => {
                d.details.get("sw_ver").and_then(|v| v.as_str()).filter(|s| !s.is_empty()).map(String::from)
            }
            Family::Hf => None,
        },
        outlets: Vec::new(),
        interval,
        cloud_free: false,
        source,
    })
}

fn first_reading(d: &Discovered) -> Reading {
    Reading {
        at_ms: now_ms(),
        on: d.on,
        outlets_on: Vec::new(),
        power_w: None,
        voltage_v: None,
        current_a: None,
        total_kwh: None,
        rssi: None,
        latency_ms: 0.0,
    }
}

/// Saves new device entries in one transaction.
fn save_all(inner: &Inner, infos: &[DeviceInfo]) {
    if let Err(e) = inner.store.upsert_devices(infos) {
        warn!(error = %e, devices = infos.len(), "cannot save the configured devices");
    }
}

/// The settings a config entry states explicitly, applied to a device already known: name,
/// room and interval when given, tags when not empty, cloud-free mode when on.
fn given_settings(entry: &DeviceEntry, cfg: &HubConfig, i: &mut DeviceInfo) {
    if let Some(n) = &entry.name {
        i.name.clone_from(n);
    }
    if entry.room.is_some() {
        i.room.clone_from(&entry.room);
    }
    if !entry.tags.is_empty() {
        i.tags.clone_from(&entry.tags);
    }
    if entry.interval.is_some() {
        i.interval = cfg.interval_of(entry);
    }
    if entry.cloud_free {
        i.cloud_free = true;
    }
    i.source = Source::Config;
}

/// Registers a configured device (reachable or not), applying the entry's settings. A new
/// device's entry is pushed to `to_save` (the caller saves them all at once); a known one is
/// updated only when something changed.
async fn apply_configured(
    inner: &Arc<Inner>,
    entry: &DeviceEntry,
    resolved: Result<(Discovered, Family), String>,
    cfg: &HubConfig,
    to_save: &mut Vec<DeviceInfo>,
) {
    let interval = cfg.interval_of(entry);
    let settings = |i: &mut DeviceInfo| {
        if let Some(n) = &entry.name {
            i.name.clone_from(n);
        }
        i.room.clone_from(&entry.room);
        i.tags.clone_from(&entry.tags);
        i.interval = interval;
        i.cloud_free = entry.cloud_free;
        i.source = Source::Config;
    };
    match resolved {
        Ok((found, _)) => {
            let Some(mut info) = info_of(&found, Source::Config, interval, entry.udp_port) else { return };
            settings(&mut info);
            match inner.entry(&info.id) {
                Some(e) => {
                    // Known from an earlier run: the file's settings win where it gives them;
                    // what it leaves unset keeps the value saved (e.g. an API edit), which a
                    // restart must not undo.
                    let current = e.info();
                    let mut wanted = current.clone();
                    wanted.host = info.host;
                    wanted.port = info.port;
                    given_settings(entry, cfg, &mut wanted);
                    if wanted != current {
                        let _ = inner.update(&e, move |i: &mut DeviceInfo| *i = wanted).await;
                    }
                }
                None => {
                    to_save.push(info.clone());
                    inner.insert(info, Some(first_reading(&found)));
                }
            }
        }
        Err(error) => {
            // Unreachable now: keep it under an address-based id; the poller keeps trying
            // and discovery re-keys it once it answers.
            warn!(host = %entry.host, %error, "configured device not reachable at start");
            let Ok((ip, port)) = split_host(&entry.host) else { return };
            let family = entry.family.unwrap_or(Family::Kasa);
            let port = port.unwrap_or(match family {
                Family::Kasa => plugctl_proto::kasa::DEFAULT_PORT,
                Family::Hf => plugctl_proto::hf::CONTROL_PORT,
            });
            let id = DeviceId(format!("addr-{ip}-{port}"));
            if inner.entry(&id).is_some() {
                return;
            }
            let mut info = DeviceInfo {
                id,
                family,
                host: ip,
                port,
                udp_port: entry.udp_port,
                name: entry.host.clone(),
                room: None,
                tags: Vec::new(),
                model: String::new(),
                mac: String::new(),
                sw_version: None,
                outlets: Vec::new(),
                interval,
                cloud_free: false,
                source: Source::Config,
            };
            settings(&mut info);
            let e = inner.insert(info, None);
            inner.poll_failed(&e, error, 1);
        }
    }
}

/// Discovery options from the configuration.
fn discovery_options(cfg: &HubConfig) -> Option<DiscoverOptions> {
    let d = &cfg.discovery;
    let target: IpAddr = d.target.parse().ok()?;
    let timeout = Duration::from_secs(2);
    Some(DiscoverOptions {
        kasa: Some(DiscoveryConfig {
            target: SocketAddr::new(target, d.kasa_port),
            timeout,
            ..DiscoveryConfig::default()
        }),
        hf: Some(HfDiscoveryConfig {
            target: SocketAddr::new(target, d.hf_port),
            timeout,
            reply_port: d.hf_port,
            ..HfDiscoveryConfig::default()
        }),
        hf_control_port: d.hf_control_port,
    })
}

/// One discovery round: new devices are added, known ones that moved are re-addressed.
async fn discover_round(inner: &Arc<Inner>) -> Result<usize, HubError> {
    let cfg = inner.config();
    let Some(opts) = discovery_options(&cfg) else {
        return Err(HubError::Invalid(format!(
            "[discovery] target `{}` is not an IP address",
            cfg.discovery.target
        )));
    };
    let found: Vec<Discovered> = discover(opts).map_err(|e| HubError::Device(e.to_string()))?.collect().await;
    let interval = Duration::from_secs_f64(cfg.hub.poll_interval);
    for d in &found {
        let id = id_of(d);
        let Ok(host) = d.host.parse::<IpAddr>() else { continue };
        if let Some(e) = inner.entry(&id) {
            let i = e.info();
            if i.host != host || i.port != d.port {
                info!(%id, from = %i.host, to = %host, "device moved; following it");
                let port = d.port;
                let _ = inner
                    .update(&e, |i| {
                        i.host = host;
                        i.port = port;
                    })
                    .await;
            }
            continue;
        }
        // A configured device first known by address, now answering: give it its real id.
        let addr_id = DeviceId(format!("addr-{host}-{}", d.port));
        if inner.entry(&addr_id).is_some() {
            inner.rekey(&addr_id, id.clone());
            if let Some(e) = inner.entry(&id) {
                let (mac, model) = (d.mac.clone(), d.model.clone());
                let _ = inner
                    .update(&e, |i| {
                        i.mac = mac;
                        i.model = model;
                    })
                    .await;
            }
            continue;
        }
        let udp = (d.family == Family::Hf).then_some(cfg.discovery.hf_port);
        if let Some(info) = info_of(d, Source::Discovery, interval, udp) {
            let _ = inner.store.upsert_device(&info);
            inner.insert(info, Some(first_reading(d)));
        }
    }
    Ok(found.len())
}

async fn discovery_loop(inner: Arc<Inner>) {
    loop {
        let cfg = inner.config();
        if cfg.discovery.enabled {
            if let Err(e) = discover_round(&inner).await {
                inner.publish(HubEvent::Error {
                    id: None,
                    message: format!("discovery: {e}"),
                    at_ms: now_ms(),
                });
            }
        }
        tokio::time::sleep(Duration::from_secs_f64(cfg.discovery.interval)).await;
    }
}

async fn maintenance_loop(inner: Arc<Inner>) {
    loop {
        tokio::time::sleep(MAINTENANCE_EVERY).await;
        if let Err(e) = inner.store.maintain(now_ms()) {
            inner.publish(HubEvent::Error {
                id: None,
                message: format!("store maintenance: {e}"),
                at_ms: now_ms(),
            });
        }
    }
}

impl Inner {
    fn require(&self, id: &DeviceId) -> Result<Arc<Entry>, HubError> {
        self.entry(id).ok_or_else(|| HubError::NotFound(id.clone()))
    }

    pub(crate) async fn add_device(self: &Arc<Self>, entry: DeviceEntry) -> Result<DeviceView, HubError> {
        let cfg = self.config();
        let (found, _) = resolve_entry(&cfg, &entry).await.map_err(HubError::Device)?;
        let interval = cfg.interval_of(&entry);
        let mut info = info_of(&found, Source::Api, interval, entry.udp_port).ok_or_else(|| {
            HubError::Invalid(format!("`{}` answered from an unusable address", entry.host))
        })?;
        if let Some(n) = &entry.name {
            info.name.clone_from(n);
        }
        info.room.clone_from(&entry.room);
        info.tags.clone_from(&entry.tags);
        info.cloud_free = entry.cloud_free;
        if let Some(e) = self.entry(&info.id) {
            let new = info.clone();
            self.update(&e, |i| *i = DeviceInfo { source: i.source, ..new }).await?;
            return Ok(e.view());
        }
        self.store.upsert_device(&info).map_err(|e| HubError::Store(e.to_string()))?;
        Ok(self.insert(info, Some(first_reading(&found))).view())
    }

    pub(crate) async fn patch_device(&self, id: &DeviceId, p: DevicePatch) -> Result<DeviceView, HubError> {
        let e = self.require(id)?;
        if let Some(v) = p.interval {
            if !(v.is_finite() && (1.0..=86_400.0).contains(&v)) {
                return Err(HubError::Invalid(format!("interval {v} is out of range (1 to 86400 seconds)")));
            }
        }
        if let Some(n) = &p.name {
            if n.trim().is_empty() || n.len() > 100 {
                return Err(HubError::Invalid("name must be 1 to 100 bytes".into()));
            }
        }
        if p.cloud_free == Some(true) && e.info().family != Family::Kasa {
            return Err(HubError::Invalid("cloud-free mode applies to Kasa plugs only".into()));
        }
        self.update(&e, |i| {
            if let Some(n) = p.name {
                i.name = n.trim().to_string();
            }
            if let Some(r) = p.room {
                i.room = (!r.trim().is_empty()).then(|| r.trim().to_string());
            }
            if let Some(t) = p.tags {
                i.tags = t;
            }
            if let Some(v) = p.interval {
                i.interval = Duration::from_secs_f64(v);
            }
            if let Some(c) = p.cloud_free {
                i.cloud_free = c;
            }
        })
        .await?;
        Ok(e.view())
    }

    pub(crate) async fn remove_device(&self, id: &DeviceId) -> Result<(), HubError> {
        self.require(id)?;
        self.remove(id);
        self.store.remove_device(id).map_err(|e| HubError::Store(e.to_string()))
    }

    pub(crate) async fn switch(
        &self,
        id: &DeviceId,
        action: SwitchAction,
        outlet: Option<usize>,
    ) -> Result<DeviceView, HubError> {
        let e = self.require(id)?;
        let (tx, rx) = oneshot::channel();
        e.send(Command::Switch { action, outlet, reply: tx }).await?;
        rx.await.map_err(|_| HubError::Invalid("the device's poller stopped".into()))??;
        Ok(e.view())
    }

    pub(crate) async fn discover_now(self: &Arc<Self>) -> Result<usize, HubError> {
        discover_round(self).await
    }

    pub(crate) async fn reload_config(self: &Arc<Self>) -> Result<(), HubError> {
        let Some(path) = self.opts.config_path.clone() else {
            return Err(HubError::Invalid("the hub was started without a configuration file".into()));
        };
        let new = HubConfig::load(&path)?;
        let old =
            std::mem::replace(&mut *self.config.write().unwrap_or_else(PoisonError::into_inner), new.clone());
        // Configured devices no longer in the file are forgotten; the others are (re)applied.
        let resolved = resolve_all(&new).await;
        let mut keep = Vec::new();
        let mut to_save = Vec::new();
        for (entry, r) in new.devices.iter().zip(resolved) {
            if let Ok((found, _)) = &r {
                keep.push(id_of(found));
            }
            apply_configured(self, entry, r, &new, &mut to_save).await;
        }
        save_all(self, &to_save);
        for e in self.entries() {
            let i = e.info();
            let addr_kept = new.devices.iter().any(|d| d.host.contains(&i.host.to_string()));
            if i.source == crate::model::Source::Config && !keep.contains(&i.id) && !addr_kept {
                self.remove(&i.id);
                let _ = self.store.remove_device(&i.id);
            }
        }
        let _ = old;
        info!(path = %path.display(), "configuration reloaded");
        Ok(())
    }

    pub(crate) async fn shutdown(&self) {
        self.stop_all();
        let _ = self.store.flush().await;
    }
}
