//! Client for Hi-Flying HF-LPB100 plugs: the Maginon SP-2 (Aldi), Reco4life and relatives
//! (hf-protocol.md).
//!
//! The plug is a Hi-Flying Wi-Fi module running Reco4life's firmware. It speaks on two
//! channels, both without authentication:
//!
//! - **TCP 8899, control**: one AT-like text command per segment, one short reply.
//!   `AT+YZSWITCH=1,ON,<YYYYMMDDHHMM>` switches, `AT+YZOUT` reads the meter
//!   (`+ok=I,U,F,P,PQ,E,EQ`), `AT+YZDELAY=1,ON,<minutes>,<time>` starts a countdown;
//!   the answer is `+ok`, `+ok=<csv>` or `+ERROR`.
//! - **UDP 48899**, shared by Reco discovery (`YZ-RECOSCAN` → `ip,MAC,SN,flag,state[,…]`,
//!   which is also the only way to read the relay state) and the Hi-Flying "assist"
//!   protocol used for Wi-Fi set-up (password `HF-A11ASSISTHREAD`, then `AT+WSSSID`,
//!   `AT+WSKEY`, `AT+WMODE`, `AT+Z`).
//!
//! What this module offers:
//!
//! - [`HfDevice`]: a handle on one plug: [`set_power`](HfDevice::set_power),
//!   [`toggle`](HfDevice::toggle), [`state`](HfDevice::state) (unicast `YZ-RECOSCAN`),
//!   [`measure`](HfDevice::measure), [`countdown`](HfDevice::countdown),
//!   [`info`](HfDevice::info), [`send_raw`](HfDevice::send_raw). One persistent TCP
//!   connection, one request in flight, transparent reconnect (plugs that keep the
//!   connection open and plugs that close it after each reply both work), retries and
//!   timeouts as for Kasa ([`HfConfig`]).
//! - [`discover`]: `YZ-RECOSCAN` broadcast, replies streamed and de-duplicated by MAC;
//!   replies sent back to the source port and replies sent to the fixed port 48899 are
//!   both received, without privileges.
//! - [`wifi`]: [`wifi::scan`] and [`wifi::join`] over the assist protocol, with local
//!   validation and a read-back of the settings before the plug is committed to STA mode.
//!
//! Errors are the crate's [`Error`](crate::Error); protocol-level failures specific to this
//! family (a rejected command, an undecodable reply, no answer to the assist password, …)
//! are [`Error::Hf`](crate::Error::Hf) carrying an [`HfFailure`].
//!
//! The wire formats come from [`plugctl_proto::hf`]; the types that appear in this API are
//! re-exported here.
//!
//! ```no_run
//! use plugctl_client::hf::{HfConfig, HfDevice};
//!
//! # async fn demo() -> Result<(), plugctl_client::Error> {
//! let plug = HfDevice::new("192.0.2.20".parse().unwrap(), HfConfig::default());
//! plug.set_power(true).await?;
//! let m = plug.measure().await?;
//! println!("{:.1} W, relay {}", m.power_w, if plug.state().await?.relay_on { "on" } else { "off" });
//! # Ok(()) }
//! ```

mod clock;
pub mod config;
mod connection;
pub mod device;
pub mod discovery;
pub mod failure;
mod udp;
pub mod wifi;

/// Counters of what a plug handle did on the network (the same type for both families).
pub use crate::stats::ConnectionStats as HfStats;
pub use config::HfConfig;
pub use device::{HfDevice, HfInfo, HfState};
pub use discovery::{discover, discover_all, HfDiscovered, HfDiscovery, HfDiscoveryConfig};
pub use failure::HfFailure;
pub use plugctl_proto::hf::{
    assist::{AssistReply, HfError, ScanEntry, WMode, WsKey},
    Mac, Measurement, Outlet, RecoScanReply, Timestamp, CONTROL_PORT, DEFAULT_ASSIST_PASSWORD, UDP_PORT,
};
pub use wifi::{HfJoined, Security};
