//! The hub's core: the registry of devices and one poller task per device.
//!
//! - [`registry`]: devices keyed by [`DeviceId`]; config, discovery and the API add to it;
//!   discovery heals address changes.
//! - [`poller`]: per device, one task owning the device's connection, so exactly one request
//!   is in flight per device while devices are polled in parallel; switching goes through the
//!   same task and answers with the state read back from the device.
//! - [`poll_stats`]: hub-wide poll lag, duration and counts (lock-free).
//! - [`lifecycle`]: start-up (store, configured and saved devices), periodic discovery,
//!   maintenance, configuration reload and shutdown.

mod lifecycle;
pub(crate) mod poll_stats;
mod poller;
mod registry;

pub(crate) use lifecycle::start;
pub(crate) use registry::Inner;
