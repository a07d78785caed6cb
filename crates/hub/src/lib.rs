//! # plugctl-hub
//!
//! The always-on side of plugctl (`plugctl serve`): it keeps a registry of plugs of both
//! families (from a TOML config file and from periodic discovery, keyed by device id so an
//! address change heals itself), polls them, stores state changes and energy in SQLite, and
//! serves a JSON API, a web dashboard and Prometheus metrics. Local schedules and cloud-free
//! time sync run as independent extensions over the same registry.
//!
//! Layout:
//! - [`config`]: the TOML configuration;
//! - [`model`]: devices, readings and availability as the API shows them;
//! - [`events`]: the event bus every extension listens to;
//! - [`registry`]: the set of known devices;
//! - [`poller`]: one task per device, one request in flight, availability and back-off;
//! - [`store`]: SQLite history (samples, state changes, events), retention, energy per day;
//! - [`web`]: the dashboard (HTML, CSS and JavaScript embedded in the binary).
//! - [`api`]: the HTTP server (JSON API, SSE, OpenAPI, problem+json errors);
//! - [`auth`]: tokens, dashboard sessions and cross-site request protection;
//! - [`metrics`]: Prometheus metrics;
//! - [`mqtt`]: the MQTT bridge with Home Assistant discovery.

pub mod api;
pub mod auth;
pub mod config;
mod core;
pub mod events;
pub mod extensions;
mod hub;
pub mod metrics;
pub mod model;
pub mod mqtt;
pub mod scheduler;
pub mod store;
pub mod timesync;
pub mod web;

pub use hub::{DevicePatch, Hub, HubError, StartOptions, SwitchAction};
