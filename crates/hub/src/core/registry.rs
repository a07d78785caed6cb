//! The registry: every known device, keyed by its stable id, with its last reading and
//! availability, and the handle of its poller task.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError, RwLock},
};

use plugctl_client::device::State;
use tokio::{sync::mpsc, task::JoinHandle};

use super::{
    poll_stats::PollRecorder,
    poller::{self, Command},
};
use crate::{
    config::HubConfig,
    events::{EventBus, HubEvent},
    hub::{HubError, StartOptions},
    model::{now_ms, Availability, DeviceId, DeviceInfo, DeviceView, OutletInfo, Reading},
    store::Store,
};

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}

/// One device in the registry.
pub(crate) struct Entry {
    info: RwLock<DeviceInfo>,
    reading: RwLock<Option<Reading>>,
    availability: RwLock<Availability>,
    commands: mpsc::Sender<Command>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Entry {
    pub(crate) fn id(&self) -> DeviceId {
        read(&self.info).id.clone()
    }

    pub(crate) fn info(&self) -> DeviceInfo {
        read(&self.info).clone()
    }

    pub(crate) fn reading(&self) -> Option<Reading> {
        read(&self.reading).clone()
    }

    pub(crate) fn availability(&self) -> Availability {
        read(&self.availability).clone()
    }

    /// The poll interval (without cloning the whole entry).
    pub(crate) fn interval(&self) -> std::time::Duration {
        read(&self.info).interval
    }

    /// Failed polls in a row (without cloning the last error).
    pub(crate) fn consecutive_failures(&self) -> u32 {
        read(&self.availability).consecutive_failures
    }

    pub(crate) fn view(&self) -> DeviceView {
        DeviceView { info: self.info(), reading: self.reading(), availability: self.availability() }
    }

    pub(crate) async fn send(&self, cmd: Command) -> Result<(), HubError> {
        self.commands.send(cmd).await.map_err(|_| HubError::Invalid("the device's poller has stopped".into()))
    }

    fn stop(&self) {
        if let Some(t) = self.task.lock().unwrap_or_else(PoisonError::into_inner).take() {
            t.abort();
        }
    }
}

/// The hub's shared state.
pub(crate) struct Inner {
    pub(crate) events: EventBus,
    pub(crate) store: Store,
    pub(crate) opts: StartOptions,
    pub(crate) config: RwLock<HubConfig>,
    pub(crate) devices: RwLock<HashMap<DeviceId, Arc<Entry>>>,
    pub(crate) tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Poll lag, duration and counts of every poller.
    pub(crate) polls: PollRecorder,
    /// Devices the hub is starting with (saved and configured), known before they are all
    /// inserted: sizes the spread of first polls.
    pub(crate) starting_with: std::sync::atomic::AtomicUsize,
}

impl Inner {
    pub(crate) fn publish(&self, e: HubEvent) {
        self.store.record(&e);
        self.events.publish(e);
    }

    pub(crate) fn config(&self) -> HubConfig {
        read(&self.config).clone()
    }

    /// Devices in the registry, or the number the hub is starting with if larger.
    pub(crate) fn fleet_size(&self) -> usize {
        let now = read(&self.devices).len();
        now.max(self.starting_with.load(std::sync::atomic::Ordering::Relaxed))
    }

    pub(crate) fn entry(&self, id: &DeviceId) -> Option<Arc<Entry>> {
        read(&self.devices).get(id).cloned()
    }

    pub(crate) fn entries(&self) -> Vec<Arc<Entry>> {
        read(&self.devices).values().cloned().collect()
    }

    pub(crate) fn devices(&self) -> Vec<DeviceView> {
        let mut v: Vec<(String, DeviceView)> = self
            .entries()
            .iter()
            .map(|e| {
                let view = e.view();
                (view.info.name.to_lowercase(), view)
            })
            .collect();
        // One lower-cased name per device, not two per comparison.
        v.sort_unstable_by(|(ka, a), (kb, b)| ka.cmp(kb).then_with(|| a.info.id.cmp(&b.info.id)));
        v.into_iter().map(|(_, view)| view).collect()
    }

    pub(crate) fn device(&self, id: &DeviceId) -> Option<DeviceView> {
        self.entry(id).map(|e| e.view())
    }

    /// Adds a device and starts its poller (replacing nothing: the id must be new).
    pub(crate) fn insert(self: &Arc<Self>, info: DeviceInfo, reading: Option<Reading>) -> Arc<Entry> {
        let (tx, rx) = mpsc::channel(16);
        let id = info.id.clone();
        let entry = Arc::new(Entry {
            info: RwLock::new(info),
            reading: RwLock::new(reading),
            availability: RwLock::new(Availability {
                online: false,
                since_ms: now_ms(),
                consecutive_failures: 0,
                last_error: None,
            }),
            commands: tx,
            task: Mutex::new(None),
        });
        let task = tokio::spawn(poller::run(self.clone(), entry.clone(), rx));
        *entry.task.lock().unwrap_or_else(PoisonError::into_inner) = Some(task);
        if let Some(old) = write(&self.devices).insert(id.clone(), entry.clone()) {
            old.stop();
        }
        self.publish(HubEvent::DeviceAdded { id });
        entry
    }

    /// Removes a device and stops its poller.
    pub(crate) fn remove(&self, id: &DeviceId) -> Option<Arc<Entry>> {
        let e = write(&self.devices).remove(id)?;
        e.stop();
        self.publish(HubEvent::DeviceRemoved { id: id.clone() });
        Some(e)
    }

    /// Applies a change to a device's facts, persists it and tells its poller.
    pub(crate) async fn update(
        &self,
        entry: &Entry,
        f: impl FnOnce(&mut DeviceInfo),
    ) -> Result<(), HubError> {
        let info = {
            let mut i = write(&entry.info);
            f(&mut i);
            i.clone()
        };
        self.store.upsert_device(&info).map_err(|e| HubError::Store(e.to_string()))?;
        self.publish(HubEvent::DeviceUpdated { id: info.id.clone() });
        entry.send(Command::Refresh).await
    }

    /// A successful poll: new reading, state-change and availability events.
    /// A successful poll. `sw_version` is the firmware version when the poll read it (Kasa
    /// sysinfo); `None` keeps what is known.
    pub(crate) fn observe(&self, entry: &Entry, state: &State, sw_version: Option<String>, reading: Reading) {
        let id = entry.id();
        let at_ms = reading.at_ms;
        // What changed since the last reading, compared in place (no copy of it).
        let changes: Vec<(Option<usize>, bool)> = match &*read(&entry.reading) {
            Some(p) if p.on != reading.on && reading.outlets_on.is_empty() => vec![(None, reading.on)],
            Some(p) => p
                .outlets_on
                .iter()
                .zip(&reading.outlets_on)
                .enumerate()
                .filter(|(_, (a, b))| a != b)
                .map(|(i, (_, b))| (Some(i), *b))
                .collect(),
            None => Vec::new(),
        };
        {
            // Outlet names and the model follow the device.
            let mut info = write(&entry.info);
            if !state.children.is_empty() {
                info.outlets = state
                    .children
                    .iter()
                    .map(|c| OutletInfo { index: c.index, id: c.id.clone(), name: c.alias.clone() })
                    .collect();
            }
            if info.model != state.model {
                info.model.clone_from(&state.model);
            }
            if sw_version.is_some() && info.sw_version != sw_version {
                info.sw_version = sw_version;
            }
        }
        for (outlet, on) in changes {
            self.publish(HubEvent::StateChanged { id: id.clone(), outlet, on, at_ms });
        }
        let was_online = {
            let mut a = write(&entry.availability);
            let was = a.online;
            if !was {
                a.since_ms = at_ms;
            }
            a.online = true;
            a.consecutive_failures = 0;
            a.last_error = None;
            was
        };
        *write(&entry.reading) = Some(reading.clone());
        if !was_online {
            self.publish(HubEvent::Online { id: id.clone(), at_ms });
        }
        self.publish(HubEvent::Sample { id, reading });
    }

    /// A failed poll: offline after `offline_after` failures in a row.
    pub(crate) fn poll_failed(&self, entry: &Entry, error: String, offline_after: u32) {
        let id = entry.id();
        let went_offline = {
            let mut a = write(&entry.availability);
            a.consecutive_failures = a.consecutive_failures.saturating_add(1);
            a.last_error = Some(error.clone());
            let first_failure_at_start = a.since_ms > 0 && !a.online && a.consecutive_failures == 1;
            if (a.online && a.consecutive_failures >= offline_after) || first_failure_at_start {
                a.online = false;
                a.since_ms = now_ms();
                true
            } else {
                false
            }
        };
        if went_offline {
            self.publish(HubEvent::Offline { id, error, at_ms: now_ms() });
        }
    }

    /// Stops every poller and background task.
    pub(crate) fn stop_all(&self) {
        for e in self.entries() {
            e.stop();
        }
        for t in self.tasks.lock().unwrap_or_else(PoisonError::into_inner).drain(..) {
            t.abort();
        }
    }

    /// Re-keys an entry (a device first known by address, now by its real id).
    pub(crate) fn rekey(&self, old: &DeviceId, new: DeviceId) {
        let mut map = write(&self.devices);
        if map.contains_key(&new) {
            return;
        }
        if let Some(e) = map.remove(old) {
            write(&e.info).id = new.clone();
            map.insert(new, e);
        }
    }
}
