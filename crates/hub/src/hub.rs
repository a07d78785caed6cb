//! The running hub: registry + poller + store + event bus, and the operations the API, the
//! dashboard, metrics and schedules use. Cheap to clone (an `Arc` inside).

use std::{path::PathBuf, sync::Arc};

use serde::{Deserialize, Serialize};

use crate::{
    config::{DeviceEntry, HubConfig},
    events::EventBus,
    model::{DeviceId, DeviceView},
    store::Store,
};

/// What can go wrong in a hub operation (mapped to HTTP statuses by the API).
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    /// No device with this id.
    #[error("no device with id {0}")]
    NotFound(DeviceId),
    /// The request is invalid (a bad value, an outlet the device does not have, …).
    #[error("{0}")]
    Invalid(String),
    /// The device did not answer or refused (one line, from the client).
    #[error("{0}")]
    Device(String),
    /// Storage failed.
    #[error("storage: {0}")]
    Store(String),
    /// Configuration problem.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
}

/// How to start the hub.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// The configuration file, for `reload_config` (None: the config given is all there is).
    pub config_path: Option<PathBuf>,
    /// The SQLite database file.
    pub db_path: PathBuf,
}

/// A switch command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SwitchAction {
    /// Switch on.
    On,
    /// Switch off.
    Off,
    /// The opposite of the current state.
    Toggle,
}

/// Changes to a device entry (`null`/absent fields stay as they are).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevicePatch {
    /// New display name.
    #[serde(default)]
    pub name: Option<String>,
    /// New room (empty string clears it).
    #[serde(default)]
    pub room: Option<String>,
    /// New tags.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    /// New poll interval, seconds (≥ 1).
    #[serde(default)]
    pub interval: Option<f64>,
    /// Cloud-free mode (Kasa).
    #[serde(default)]
    pub cloud_free: Option<bool>,
}

/// The hub.
#[derive(Clone)]
pub struct Hub {
    pub(crate) inner: Arc<crate::core::Inner>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hub")
    }
}

impl Hub {
    /// Opens the store, loads the configured devices, starts polling and discovery. Must be
    /// called inside a tokio runtime.
    pub async fn start(config: HubConfig, opts: StartOptions) -> Result<Hub, HubError> {
        crate::core::start(config, opts).await
    }

    /// The event bus.
    pub fn events(&self) -> &EventBus {
        &self.inner.events
    }

    /// The history store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The configuration in force.
    pub fn config(&self) -> HubConfig {
        self.inner.config()
    }

    /// Every device, sorted by name.
    pub fn devices(&self) -> Vec<DeviceView> {
        self.inner.devices()
    }

    /// One device.
    pub fn device(&self, id: &DeviceId) -> Option<DeviceView> {
        self.inner.device(id)
    }

    /// Adds a device by address (probed for its family and id unless given). Answers once the
    /// device answered.
    pub async fn add_device(&self, entry: DeviceEntry) -> Result<DeviceView, HubError> {
        self.inner.add_device(entry).await
    }

    /// Changes name, room, tags, interval or cloud-free mode.
    pub async fn patch_device(&self, id: &DeviceId, patch: DevicePatch) -> Result<DeviceView, HubError> {
        self.inner.patch_device(id, patch).await
    }

    /// Forgets a device (its history stays in the store).
    pub async fn remove_device(&self, id: &DeviceId) -> Result<(), HubError> {
        self.inner.remove_device(id).await
    }

    /// Switches a device (or one strip outlet) and answers with the state read back from the
    /// device, never a guess.
    pub async fn switch(
        &self,
        id: &DeviceId,
        action: SwitchAction,
        outlet: Option<usize>,
    ) -> Result<DeviceView, HubError> {
        self.inner.switch(id, action, outlet).await
    }

    /// Runs discovery now; returns how many devices answered.
    pub async fn discover_now(&self) -> Result<usize, HubError> {
        self.inner.discover_now().await
    }

    /// Re-reads the configuration file and applies it without a restart.
    pub async fn reload_config(&self) -> Result<(), HubError> {
        self.inner.reload_config().await
    }

    /// Poll counts, start lag and duration of every device since the hub started (see
    /// [`crate::metrics::PollStats`]).
    pub fn poll_stats(&self) -> crate::metrics::PollStats {
        self.inner.polls.snapshot()
    }

    /// Stops every task and flushes the store.
    pub async fn shutdown(&self) {
        self.inner.shutdown().await
    }
}
