//! # plugctl-proto
//!
//! Wire formats of the smart plugs plugctl controls, as pure functions over bytes: no sockets,
//! no async runtime, no clocks. Everything here is deterministic and can be tested and fuzzed
//! without a network.
//!
//! - [`kasa`]: TP-Link Kasa legacy protocol (XOR autokey cipher on TCP/UDP 9999): cipher,
//!   length-prefixed TCP frames with a size cap, UDP datagrams, request building, reply
//!   parsing with typed device errors, typed `sysinfo` and unit-normalised emeter readings.
//! - [`hf`]: Hi-Flying HF-LPB100 / Reco4life (Maginon SP-2): `AT+YZ…` control commands and
//!   `+ok`/`+ERROR` replies on TCP 8899, typed `AT+YZOUT` readings, `YZ-RECOSCAN` discovery
//!   and the Hi-Flying assist AT protocol on UDP 48899, plus the server-side parsers an
//!   emulator needs.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod hf;
pub mod kasa;
