//! TP-Link Kasa legacy ("IOT", port 9999) protocol.
//!
//! Layers, bottom up:
//! - [`cipher`]: XOR autokey with initial key 0xAB, restarted for every message;
//! - [`frame`]: TCP framing (4-byte big-endian length + ciphertext) with a size cap, and
//!   [`datagram`]: UDP framing (ciphertext only);
//! - [`request`] / [`response`]: the JSON message model (`{"module":{"method":params}}`,
//!   `context.child_ids`) and reply parsing with typed [`error::DeviceError`]s;
//! - [`sysinfo`], [`emeter`]: typed views of the commonly used replies;
//! - [`tdp`]: the UDP 20002 datagram of newer (KLAP) firmware, to recognise it.

pub mod cipher;
pub mod datagram;
pub mod emeter;
pub mod error;
pub mod frame;
pub mod request;
pub mod response;
pub mod sysinfo;
pub mod tdp;

pub use emeter::{EmeterReading, EmeterScheme};
pub use error::{DeviceError, DeviceErrorKind, FrameError, ResponseError};
pub use frame::{FrameDecoder, FrameEvent, DEFAULT_MAX_FRAME};
pub use request::Request;
pub use response::Response;
pub use sysinfo::{ChildInfo, DeviceKind, SysInfo};

/// The TCP and UDP port legacy Kasa devices listen on.
pub const DEFAULT_PORT: u16 = 9999;

/// The discovery request every client broadcasts: `{"system":{"get_sysinfo":{}}}`.
pub const DISCOVERY_QUERY: &str = r#"{"system":{"get_sysinfo":{}}}"#;
