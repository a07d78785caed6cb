//! # plugctl-emulator
//!
//! Emulators of the smart plugs plugctl controls, faithful enough that third-party clients
//! (python-kasa, tplink-smarthome-api) work against them unchanged. They serve tests, demos
//! and benchmarks.
//!
//! - [`kasa`]: TP-Link Kasa legacy plugs and strips (XOR autokey on TCP/UDP 9999):
//!   - [`kasa::Profile`]: what a device model looks like (built-in models or real dumps);
//!   - [`kasa::DeviceState`]: one device as a sans-I/O state machine (request bytes in, reply
//!     bytes out, time injected);
//!   - [`kasa::server`]: tokio servers that take already-bound sockets, plus
//!     [`kasa::bind_device`] for a single device on one TCP+UDP port;
//!   - [`kasa::fleet`]: thousands of devices in one process, one loopback address each, with
//!     broadcast discovery.
//! - [`hf`]: Hi-Flying HF-LPB100 plugs (Maginon SP-2 / Reco4life: `AT+YZ…` on TCP 8899,
//!   `YZ-RECOSCAN` and Hi-Flying assist on UDP 48899, HTTP Basic auth), with the AP → STA
//!   provisioning story: [`hf::PlugState`], [`hf::bind_plug`], [`hf::fleet`].
//! - [`fault`]: fault injection for both families (delays, lost or garbled replies, bad
//!   length prefixes, refused or stalled connections, reboots), switchable at run time.
//!
//! Every input from the network is treated as hostile: sizes are capped, reads time out, and
//! malformed requests get the replies real devices give (or none), never a panic.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use plugctl_emulator::kasa::{self, ServerConfig};
//! let profile = kasa::builtin("hs110-hw1").expect("built-in profile");
//! let dev = kasa::shared(profile.instantiate(0, 42));
//! let running = kasa::bind_device("127.0.0.1".parse().unwrap(), 0, dev, ServerConfig::default()).await?;
//! println!("HS110 emulator on {}", running.addr());
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod fault;
pub mod hf;
pub mod kasa;
