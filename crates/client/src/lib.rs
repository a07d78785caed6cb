//! # plugctl-client
//!
//! Async (tokio) clients for Wi-Fi smart plugs on the local network, with no cloud.
//!
//! - [`kasa`]: TP-Link Kasa devices on legacy firmware (HS100/HS103/HS105/HS110, HS200,
//!   HS220, HS300, KP1xx, KP303, …): a device handle with a persistent connection, retries
//!   and typed calls ([`kasa::KasaDevice`]), UDP discovery and probing
//!   ([`kasa::discover`], [`kasa::probe`]).
//! - [`hf`]: Hi-Flying HF-LPB100 plugs (Maginon SP-2, Reco4life): a device handle over the
//!   TCP 8899 control channel and `YZ-RECOSCAN` state ([`hf::HfDevice`]), broadcast discovery
//!   ([`hf::discover`]) and Wi-Fi set-up over the assist protocol ([`hf::wifi`]).
//! - [`device`]: one API over both families: [`Device`] (probing Kasa, then Hi-Flying),
//!   family-neutral state, energy, raw commands and Wi-Fi set-up, and discovery of both
//!   families at once ([`device::discover`]).
//! - [`audit`]: a read-only security audit of the plugs found (factory passwords, readable
//!   Wi-Fi keys, cloud binding, firmware that drops local control, clocks), each finding with
//!   the `plugctl` command that fixes it.
//! - [`fd_limit`]: raising the open-files limit for a process that keeps thousands of
//!   device connections, with a clear error when they cannot fit.
//! - [`error`]: the one [`Error`] type every operation returns; its `Display` is a single
//!   line naming the host, what failed and why.
//!
//! Wire formats come from the sans-I/O crate `plugctl-proto`; this crate adds sockets,
//! timeouts, retries and discovery on top.
//!
//! ```no_run
//! use plugctl_client::kasa::{ClientConfig, KasaDevice};
//!
//! # async fn demo() -> Result<(), plugctl_client::Error> {
//! let plug = KasaDevice::new("192.0.2.10:9999".parse().unwrap(), ClientConfig::default());
//! plug.set_power(true, None).await?;
//! let info = plug.sysinfo().await?;
//! println!("{} is {}", info.alias, if info.is_on() { "on" } else { "off" });
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod audit;
pub mod device;
pub mod error;
pub mod fd_limit;
pub mod hf;
pub mod kasa;
mod net;
mod stats;

pub use device::{ConnectOptions, Device, Family};
pub use error::{Error, Op, Result};
pub use stats::ConnectionStats;
