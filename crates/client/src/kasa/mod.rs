//! Client for TP-Link Kasa devices on their legacy XOR protocol (TCP/UDP port 9999).
//!
//! - [`KasaDevice`]: a handle on one device: persistent connection, one request in flight,
//!   transparent reconnect, bounded retries, typed convenience calls;
//! - [`ClientConfig`]: timeouts, retries, back-off and the reply size cap;
//! - [`discover`] / [`probe`]: finding devices by UDP broadcast or by asking known hosts.
//!
//! The wire format itself (cipher, framing, request and reply JSON) lives in
//! [`plugctl_proto::kasa`]; its request builder and typed replies are re-exported here.

pub mod config;
mod connection;
pub mod device;
pub mod discovery;

pub use crate::stats::ConnectionStats;
pub use config::ClientConfig;
pub use device::KasaDevice;
pub use discovery::{discover, discover_all, probe, Discovered, Discovery, DiscoveryConfig};
pub use plugctl_proto::kasa::{
    ChildInfo, DeviceError, DeviceErrorKind, DeviceKind, EmeterReading, FrameError, Request, Response,
    ResponseError, SysInfo, DEFAULT_PORT,
};
