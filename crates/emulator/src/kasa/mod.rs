//! Emulated TP-Link Kasa legacy devices (kasa-protocol.md).
//!
//! Layers, bottom up:
//! - [`profile`]: [`Profile`], the description of a device model: a `get_sysinfo` template,
//!   the emeter unit scheme, base load and extra static replies. Built in ([`builtin`]) or
//!   loaded from a real dump ([`Profile::from_dump_file`]).
//! - [`device`]: [`DeviceState`], one device as a sans-I/O state machine. It takes the
//!   plaintext of a request and the current [`std::time::Instant`], and returns the plaintext
//!   reply (or nothing). Relays, `on_time`, energy and statistics evolve with the injected
//!   time, optionally sped up ([`DeviceConfig::time_scale`]).
//! - `modules` (private): the per-module method implementations (`system`, `emeter`, …).
//! - [`server`]: tokio TCP and UDP servers over already-bound sockets, and
//!   [`bind_device`] for one device on one port number (TCP and UDP).
//! - [`fleet`]: many devices on consecutive loopback addresses sharing one port, with
//!   loopback broadcast discovery.
//! - [`klap`]: impersonating plugs on newer (KLAP) firmware, which have no port-9999
//!   service, for tests of clients' error path.

pub mod device;
pub mod fleet;
pub mod klap;
mod modules;
pub mod profile;
pub mod server;

pub use device::{DeviceConfig, DeviceState};
pub use fleet::{Fleet, FleetConfig, FleetDevice};
pub use profile::{builtin, builtin_names, Profile, ProfileError};
pub use server::{bind_device, serve_tcp, serve_udp, shared, RunningDevice, ServerConfig, SharedDevice};
