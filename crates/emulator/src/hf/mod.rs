//! Emulated Hi-Flying HF-LPB100 plugs: Maginon SP-2 / Reco4life (hf-protocol.md §5).
//!
//! Layers, bottom up:
//! - [`config`]: [`PlugConfig`], what one plug is (identity, AP and home addresses, the
//!   simulated Wi-Fi networks, meter model, protocol options), with defaults for every
//!   behaviour the research could only guess.
//! - [`device`]: [`PlugState`], one plug as a sans-I/O state machine: TCP control requests
//!   and UDP datagrams in, reply bytes out, time injected and optionally sped up.
//! - [`server`]: tokio servers over already-bound sockets (TCP control, UDP
//!   discovery/assist, HTTP), and [`bind_plug`], which binds them for one plug and carries
//!   out reboots: after `AT+Z` the plug goes silent and comes back on the address its Wi-Fi
//!   settings lead to (its home address once it joined a simulated network, with the same
//!   MAC and serial).
//! - [`fleet`]: many plugs on consecutive loopback addresses sharing port numbers, with
//!   loopback broadcast discovery.
//!
//! ```no_run
//! # async fn demo() -> Result<(), plugctl_emulator::hf::StartError> {
//! use plugctl_emulator::hf::{self, FleetConfig, Ports, StartMode};
//! let fleet = hf::fleet::start(FleetConfig {
//!     count: 3,
//!     mode: StartMode::Ap,
//!     ports: Ports::ephemeral(),
//!     broadcast: Some("127.255.255.255".parse().unwrap()),
//!     ..FleetConfig::default()
//! })
//! .await?;
//! for p in fleet.plugs() {
//!     println!("{} {} {} on {}:{}", p.mac, p.serial, p.ap_ip, p.ip, p.ports.control);
//! }
//! # Ok(()) }
//! ```

pub mod config;
pub mod device;
pub mod fleet;
pub mod server;

pub use config::{
    default_networks, AssistMode, ConfigError, MeterConfig, PlugConfig, SimNetwork, StartMode, HOME_KEY,
    HOME_SSID,
};
pub use device::{DelayFired, Link, PlugState, UdpOutcome};
pub use fleet::{Fleet, FleetConfig, FleetPlug};
pub use server::{
    bind_plug, serve_control, serve_http, serve_udp, shared, PlugStatus, Ports, ReplyCopy, RunningPlug,
    ServerConfig, SharedPlug, StartError,
};
