//! Hi-Flying HF-LPB100 / Reco4life ("Maginon SP-2") LAN protocol, sans I/O
//! (hf-protocol.md).
//!
//! Two channels:
//! - **TCP 8899**, Reco control: AT-like text commands and `+ok`/`+ERROR` replies.
//!   Client side: [`command`] encoders, [`reply`] and [`measurement`] decoders. Server side
//!   (emulator): [`request`] decodes what a client sent.
//! - **UDP 48899**, shared by Reco discovery ([`recoscan`]: `YZ-RECOSCAN` and its
//!   `ip,MAC,SN,flag,state[,…]` reply) and the Hi-Flying assist protocol ([`assist`]:
//!   password, `ip,MAC,module` reply, `AT+…` commands with `\r\n\r\n`-terminated replies,
//!   `WSCAN`/`WSKEY`/`WMODE`). Server side: [`datagram::classify`].
//!
//! Everything is a pure function of its input: no sockets, no clocks (timestamps are
//! passed in). Decoders accept arbitrary bytes, never panic, and report typed errors.

pub mod assist;
pub mod command;
pub mod datagram;
pub mod mac;
pub mod measurement;
pub mod recoscan;
pub mod reply;
pub mod request;
mod text;

pub use assist::{AssistReply, AssistReplyError, AtReply, AtRequest, HfError, ScanEntry, WMode, WsKey};
pub use command::{Command, CommandError, DelayMinutes, Outlet, Timestamp};
pub use datagram::{classify, UdpRequest};
pub use mac::{Mac, MacError};
pub use measurement::{Measurement, MeasurementError, RawMeasurement};
pub use recoscan::{RecoScanError, RecoScanReply};
pub use reply::{LineEnding, ParsedReply, Reply, ReplyError};
pub use request::{parse_segment, ControlRequest, ControlStream, RequestError};

/// TCP port of the Reco control channel (the Hi-Flying "socket A" default server port).
pub const CONTROL_PORT: u16 = 8899;

/// UDP port of Reco discovery and of the Hi-Flying assist protocol.
pub const UDP_PORT: u16 = 48899;

/// The Reco discovery request (11 bytes, no terminator).
pub const RECOSCAN: &str = "YZ-RECOSCAN";

/// The Hi-Flying factory assist password (17 bytes, no terminator); configurable on the
/// module with `AT+ASWD`, and not confirmed for the Reco firmware.
pub const DEFAULT_ASSIST_PASSWORD: &str = "HF-A11ASSISTHREAD";

/// Longest control line [`ControlStream`] buffers before declaring it garbage: clients read
/// replies with `recv(512)`, and no valid command comes near this length \[G\].
pub const MAX_LINE: usize = 512;

/// Receive buffer size recommended for UDP 48899: every request and reply seen fits, with
/// room for an `AT+WSCAN` table of a few dozen networks \[G\].
pub const MAX_DATAGRAM: usize = 4096;
