//! Cloud-free mode: for every Kasa device whose `cloud_free` flag is set (config
//! `cloud_free = true`, or `PATCH /api/v1/devices/{id}` with `{"cloud_free": true}`), the hub
//!
//! 1. unbinds it from the TP-Link cloud once (`cnCloud.unbind`, only if `cnCloud.get_info`
//!    says it is bound) when the device enters cloud-free mode: at hub start, when it is
//!    added, or when the flag is switched on;
//! 2. pushes the hub's clock and time zone to it (`time.set_timezone`/`set_time` through
//!    [`KasaDevice::sync_time`]): right after step 1, when the device comes back online (a
//!    power cut resets its clock), every [`TimeSyncOptions::sync_every`] (6 hours), and when a
//!    check every [`TimeSyncOptions::check_every`] (10 minutes) finds the clock off by more
//!    than [`TimeSyncOptions::max_drift`] (10 seconds) — so the plug's own schedules, away mode
//!    and energy statistics keep working with the cloud blocked.
//!
//! The zone pushed is `[location] timezone`, else the host's, mapped to the firmware's zone
//! table (an IANA name without a firmware equivalent is an error event).
//!
//! It never blocks polling: the poller owns one connection per device; time sync opens its
//! own short-lived connection to the device's current address for each step and closes it
//! afterwards (plugs, and the emulator, accept several connections). Failures become one
//! [`HubEvent::Error`] per device until a step succeeds again (an offline plug does not flood
//! the event log); the next try is the next check or the device's `online` event.
//!
//! Like the scheduler this is an extension over the hub's registry: [`TimeSync::start`] with
//! the hub, stopped when its handle is dropped.

use std::{
    collections::{BTreeMap, HashMap},
    net::SocketAddr,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use jiff::tz::TimeZone;
use plugctl_client::{
    kasa::{ClientConfig, KasaDevice},
    Family,
};
use serde::Serialize;
use tokio::{
    sync::{broadcast, mpsc, watch},
    task::JoinHandle,
    time::{Instant, MissedTickBehavior},
};
use tracing::{debug, info, warn};

use crate::{
    config::Location,
    events::HubEvent,
    model::{now_ms, DeviceId, DeviceView},
    Hub,
};

/// What time sync needs from the hub. [`Hub`] implements it; tests may use a fake.
pub trait SyncHost: Send + Sync + 'static {
    /// Every device the hub knows.
    fn devices(&self) -> Vec<DeviceView>;
    /// A subscription to the hub's events.
    fn subscribe(&self) -> broadcast::Receiver<HubEvent>;
    /// Publishes an event on the hub's bus.
    fn publish(&self, event: HubEvent);
}

impl SyncHost for Hub {
    fn devices(&self) -> Vec<DeviceView> {
        Hub::devices(self)
    }

    fn subscribe(&self) -> broadcast::Receiver<HubEvent> {
        self.events().subscribe()
    }

    fn publish(&self, event: HubEvent) {
        self.events().publish(event);
    }
}

/// How time sync behaves.
#[derive(Debug, Clone)]
pub struct TimeSyncOptions {
    /// Push the clock at least this often (default 6 hours).
    pub sync_every: Duration,
    /// Read the device's clock this often (default 10 minutes) …
    pub check_every: Duration,
    /// … and push the clock when it is off by more than this (default 10 s).
    pub max_drift: Duration,
    /// Re-list the devices this often (default 60 s), besides reacting to registry events.
    pub rescan_every: Duration,
    /// A device coming back online is synced unless its clock was pushed less than this long
    /// ago (default 60 s: the first poll after start-up reports `online` too).
    pub online_quiet: Duration,
    /// The zone to push (default: the host's).
    pub timezone: TimeZone,
    /// Timeouts and retries of the short-lived connections.
    pub client: ClientConfig,
}

impl Default for TimeSyncOptions {
    fn default() -> Self {
        Self {
            sync_every: Duration::from_secs(6 * 3600),
            check_every: Duration::from_secs(600),
            max_drift: Duration::from_secs(10),
            rescan_every: Duration::from_secs(60),
            online_quiet: Duration::from_secs(60),
            timezone: TimeZone::system(),
            client: ClientConfig::default(),
        }
    }
}

impl TimeSyncOptions {
    /// The defaults with the zone of `[location] timezone` (else the host's). An unknown zone
    /// name is an error.
    pub fn for_location(location: Option<&Location>) -> Result<Self, String> {
        Ok(Self { timezone: crate::scheduler::default_time_zone(location)?, ..Self::default() })
    }
}

/// Where one cloud-free device stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceSyncStatus {
    /// The device.
    pub id: DeviceId,
    /// The hub checked (and if needed undid) the cloud binding.
    pub unbound: bool,
    /// When the clock was last pushed (Unix ms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sync_ms: Option<i64>,
    /// The device's clock minus the hub's at the last reading, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drift_s: Option<i64>,
    /// The firmware zone index pushed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone_index: Option<u8>,
    /// The last failure, until a step succeeds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

type Statuses = Arc<Mutex<BTreeMap<DeviceId, DeviceSyncStatus>>>;

/// The time-sync extension.
#[derive(Debug)]
pub struct TimeSync;

impl TimeSync {
    /// Starts cloud-free mode over `hub`, pushing the zone of `[location] timezone` (else the
    /// host's; an unknown zone name falls back to the host's with an error event). Must be
    /// called inside a tokio runtime.
    pub fn start(hub: Hub, location: Option<Location>) -> TimeSyncHandle {
        let opts = match TimeSyncOptions::for_location(location.as_ref()) {
            Ok(o) => o,
            Err(e) => {
                hub.events().publish(HubEvent::Error {
                    id: None,
                    message: format!("cloud-free time sync: {e}; using the host's zone"),
                    at_ms: now_ms(),
                });
                TimeSyncOptions::default()
            }
        };
        Self::start_with(Arc::new(hub), opts)
    }

    /// Starts over any [`SyncHost`] with explicit options.
    pub fn start_with(host: Arc<dyn SyncHost>, opts: TimeSyncOptions) -> TimeSyncHandle {
        let status: Statuses = Arc::new(Mutex::new(BTreeMap::new()));
        let rx = host.subscribe();
        let manager = Manager { host, opts: Arc::new(opts), status: status.clone(), workers: HashMap::new() };
        TimeSyncHandle { task: tokio::spawn(manager.run(rx)), status }
    }
}

/// The running extension; dropping it stops it (and every device's worker).
#[derive(Debug)]
pub struct TimeSyncHandle {
    task: JoinHandle<()>,
    status: Statuses,
}

impl TimeSyncHandle {
    /// Every cloud-free Kasa device's sync state.
    pub fn status(&self) -> Vec<DeviceSyncStatus> {
        self.status.lock().unwrap_or_else(PoisonError::into_inner).values().cloned().collect()
    }

    /// Stops and waits for the task to end.
    pub async fn stop(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for TimeSyncHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Why a worker acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// The device entered cloud-free mode (hub start, added, flag switched on).
    Enabled,
    /// The device answers again.
    Online,
    /// The periodic check.
    Check,
}

struct Worker {
    addr: watch::Sender<SocketAddr>,
    trigger: mpsc::Sender<Trigger>,
    task: JoinHandle<()>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Manager {
    host: Arc<dyn SyncHost>,
    opts: Arc<TimeSyncOptions>,
    status: Statuses,
    workers: HashMap<DeviceId, Worker>,
}

impl Manager {
    async fn run(mut self, mut rx: broadcast::Receiver<HubEvent>) {
        let mut rescan = tokio::time::interval(self.opts.rescan_every);
        rescan.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = rescan.tick() => self.rescan(),
                ev = rx.recv() => match ev {
                    Ok(
                        HubEvent::DeviceAdded { .. }
                        | HubEvent::DeviceUpdated { .. }
                        | HubEvent::DeviceRemoved { .. },
                    ) => self.rescan(),
                    Ok(HubEvent::Online { id, .. }) => {
                        if let Some(w) = self.workers.get(&id) {
                            let _ = w.trigger.try_send(Trigger::Online);
                        }
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        debug!(lost = n, "time sync lagged behind the event bus");
                        self.rescan();
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            }
        }
    }

    /// Starts a worker for every cloud-free Kasa device, follows address changes, stops
    /// the workers of devices that left the mode or the registry.
    fn rescan(&mut self) {
        let wanted: Vec<(DeviceId, SocketAddr)> = self
            .host
            .devices()
            .into_iter()
            .filter(|d| d.info.cloud_free && d.info.family == Family::Kasa)
            .map(|d| (d.info.id.clone(), SocketAddr::new(d.info.host, d.info.port)))
            .collect();
        self.workers.retain(|id, _| wanted.iter().any(|(w, _)| w == id));
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|id, _| wanted.iter().any(|(w, _)| w == id));
        for (id, addr) in wanted {
            if let Some(w) = self.workers.get(&id) {
                w.addr.send_if_modified(|a| std::mem::replace(a, addr) != addr);
                continue;
            }
            info!(device = %id, %addr, "cloud-free mode: unbinding and syncing the clock");
            let (addr_tx, addr_rx) = watch::channel(addr);
            let (trig_tx, trig_rx) = mpsc::channel(4);
            let _ = trig_tx.try_send(Trigger::Enabled);
            self.status.lock().unwrap_or_else(PoisonError::into_inner).insert(
                id.clone(),
                DeviceSyncStatus {
                    id: id.clone(),
                    unbound: false,
                    last_sync_ms: None,
                    drift_s: None,
                    zone_index: None,
                    error: None,
                },
            );
            let job = DeviceJob {
                id: id.clone(),
                host: self.host.clone(),
                opts: self.opts.clone(),
                status: self.status.clone(),
                unbound: false,
                last_sync: None,
                failing: None,
            };
            let task = tokio::spawn(job.run(addr_rx, trig_rx));
            self.workers.insert(id, Worker { addr: addr_tx, trigger: trig_tx, task });
        }
    }
}

/// One cloud-free device's worker.
struct DeviceJob {
    id: DeviceId,
    host: Arc<dyn SyncHost>,
    opts: Arc<TimeSyncOptions>,
    status: Statuses,
    unbound: bool,
    last_sync: Option<Instant>,
    /// The failure already reported.
    failing: Option<String>,
}

/// What a step did.
struct Done {
    drift_s: Option<i64>,
    synced: Option<u8>,
}

impl DeviceJob {
    async fn run(mut self, addr: watch::Receiver<SocketAddr>, mut triggers: mpsc::Receiver<Trigger>) {
        let mut check =
            tokio::time::interval_at(Instant::now() + self.opts.check_every, self.opts.check_every);
        check.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let trigger = tokio::select! {
                t = triggers.recv() => match t { Some(t) => t, None => return },
                _ = check.tick() => Trigger::Check,
            };
            let target = *addr.borrow();
            let dev = KasaDevice::new(target, self.opts.client.clone());
            let result = self.step(&dev, trigger).await;
            dev.close().await;
            self.record(trigger, target, result);
        }
    }

    async fn step(&mut self, dev: &KasaDevice, trigger: Trigger) -> Result<Done, String> {
        if !self.unbound {
            let was_bound = dev.cloud_unbind().await.map_err(|e| format!("cloud unbind failed: {e}"))?;
            self.unbound = true;
            self.update(|s| s.unbound = true);
            if was_bound {
                info!(device = %self.id, "unbound from the TP-Link cloud");
            }
        }
        let mut drift_s = None;
        let due = self.last_sync.is_none_or(|t| t.elapsed() >= self.opts.sync_every);
        let sync = match trigger {
            Trigger::Enabled => true,
            // The device may have lost its clock (a power cut); a sync just now is enough.
            Trigger::Online => self.last_sync.is_none_or(|t| t.elapsed() >= self.opts.online_quiet),
            Trigger::Check => {
                let t = dev.time().await.map_err(|e| format!("reading the clock failed: {e}"))?;
                drift_s = t.drift_s();
                let max = i64::try_from(self.opts.max_drift.as_secs()).unwrap_or(i64::MAX);
                due || drift_s.is_none_or(|d| d.abs() > max)
            }
        };
        if !sync {
            return Ok(Done { drift_s, synced: None });
        }
        let (zone, change) =
            dev.sync_time(&self.opts.timezone).await.map_err(|e| format!("time sync failed: {e}"))?;
        self.last_sync = Some(Instant::now());
        Ok(Done { drift_s: change.after.drift_s().or(drift_s), synced: Some(zone.zone.index) })
    }

    fn record(&mut self, trigger: Trigger, target: SocketAddr, result: Result<Done, String>) {
        match result {
            Ok(done) => {
                self.failing = None;
                if let Some(index) = done.synced {
                    info!(device = %self.id, ?trigger, zone = index, drift_s = ?done.drift_s, "clock pushed");
                }
                self.update(|s| {
                    s.error = None;
                    s.drift_s = done.drift_s;
                    if let Some(index) = done.synced {
                        s.last_sync_ms = Some(now_ms());
                        s.zone_index = Some(index);
                    }
                });
            }
            Err(e) => {
                warn!(device = %self.id, %target, error = %e, "cloud-free mode");
                self.update(|s| s.error = Some(e.clone()));
                if self.failing.is_none() {
                    self.host.publish(HubEvent::Error {
                        id: Some(self.id.clone()),
                        message: format!("cloud-free mode: {e}"),
                        at_ms: now_ms(),
                    });
                }
                self.failing = Some(e);
            }
        }
    }

    fn update(&self, f: impl FnOnce(&mut DeviceSyncStatus)) {
        if let Some(s) = self.status.lock().unwrap_or_else(PoisonError::into_inner).get_mut(&self.id) {
            f(s);
        }
    }
}
