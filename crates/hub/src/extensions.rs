//! The extensions that run beside the core over the same registry (design principle: bridge
//! features start and stop on their own): local schedules and cloud-free time sync.

use crate::{
    config::HubConfig,
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
    }
}
