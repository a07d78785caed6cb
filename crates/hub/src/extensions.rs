//! The extensions that run beside the core over the same registry (design principle: bridge
//! features start and stop on their own): local schedules, cloud-free time sync and the MQTT bridge.

use crate::{
    config::HubConfig,
    mqtt::MqttHandle,
    scheduler::{Scheduler, SchedulerHandle},
    timesync::{TimeSync, TimeSyncHandle},
    Hub,
};

/// The running extensions; dropping this stops them.
pub struct Extensions {
    /// Local schedules.
    pub scheduler: SchedulerHandle,
    /// Cloud-free time sync.
    pub timesync: TimeSyncHandle,
    /// The MQTT bridge, when `[mqtt] url` is set.
    pub mqtt: Option<MqttHandle>,
}

impl std::fmt::Debug for Extensions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Extensions")
    }
}

/// Starts every extension over `hub`. Must be called inside a tokio runtime.
pub fn start(hub: &Hub, config: &HubConfig) -> Extensions {
    Extensions {
        scheduler: Scheduler::start(hub.clone(), config.location.clone()),
        timesync: TimeSync::start(hub.clone(), config.location.clone()),
        mqtt: match crate::mqtt::Settings::from_config(config)
            .and_then(|s| s.map(|s| crate::mqtt::start(hub.clone(), s)).transpose())
        {
            Ok(m) => m,
            Err(e) => {
                tracing::error!("{e}; the MQTT bridge is not running");
                None
            }
        },
    }
}
