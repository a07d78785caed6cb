//! Client for TP-Link Kasa devices on their legacy XOR protocol (TCP/UDP port 9999).
//!
//! - [`KasaDevice`]: a handle on one device: persistent connection, one request in flight,
//!   transparent reconnect, bounded retries, typed convenience calls;
//! - [`ClientConfig`]: timeouts, retries, back-off and the reply size cap;
//! - [`discover`] / [`probe`]: finding devices by UDP broadcast or by asking known hosts;
//! - more calls on [`KasaDevice`] by feature: [`energy`] (day/month statistics, erase, per
//!   outlet), [`time`] (clock and zone, with the firmware zone table in [`timezone`]),
//!   [`cloud`] (binding), [`system`] (location, reset, brightness, alias limit);
//! - [`klap`]: recognising plugs on newer KLAP/AES firmware, reported as
//!   [`Error::NewerFirmware`](crate::Error::NewerFirmware).
//!
//! The wire format itself (cipher, framing, request and reply JSON) lives in
//! [`plugctl_proto::kasa`]; its request builder and typed replies are re-exported here.

pub mod away;
mod calls;
pub mod cloud;
pub mod config;
mod connection;
pub mod device;
pub mod discovery;
pub mod energy;
pub mod klap;
pub mod rules;
pub mod schedule;
pub mod system;
pub mod time;
pub mod timezone;

pub use crate::stats::ConnectionStats;
pub use config::ClientConfig;
pub use device::KasaDevice;
pub use discovery::{discover, discover_all, probe, Discovered, Discovery, DiscoveryConfig};
pub use klap::KlapProbe;
pub use plugctl_proto::kasa::{
    ChildInfo, DeviceError, DeviceErrorKind, DeviceKind, EmeterReading, FrameError, Request, Response,
    ResponseError, SysInfo, DEFAULT_PORT,
};
