//! # plugctl-capture
//!
//! Decodes captured smart-plug traffic into readable request/reply pairs, without sockets:
//! everything here is a function over bytes, so it can be tested and fuzzed on its own.
//!
//! - [`file`](mod@file): pcap and pcapng files (via `pcap-parser`) as a stream of packets;
//! - [`packet`]: Ethernet, Linux cooked (v1/v2), raw IP and BSD loopback frames down to TCP
//!   segments and UDP datagrams (via `etherparse`);
//! - [`tcp`]: per-connection, per-direction reassembly (order, retransmissions, overlaps,
//!   holes reported as gaps, SYN/FIN/RST);
//! - [`kasa`]: Kasa frames (through `plugctl_proto`'s `FrameDecoder`) and datagrams to JSON;
//!   [`hf`]: Hi-Flying AT traffic as text;
//! - [`exchange`]: the output model ([`Exchange`]) and port-based protocol recognition
//!   ([`Ports`]); [`decode`]: the pipeline, [`decode_capture`] for a whole file;
//! - [`hex`]: hex text to bytes, for single messages pasted on a command line;
//! - [`writer`]: pcap/pcapng writers and synthesized packets (tests, recording tools).
//!
//! Decoders accept any input: they never panic, and report problems as typed errors
//! ([`CaptureError`] for the file, [`MessageError`] for one message, kept in the output).
//!
//! ```
//! use plugctl_capture::{decode_capture, Ports};
//! let err = decode_capture(b"not a capture", &Ports::default()).unwrap_err();
//! assert!(err.to_string().contains("not a pcap or pcapng capture"));
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod decode;
mod error;
pub mod exchange;
pub mod file;
pub mod hex;
pub mod hf;
pub mod kasa;
pub mod message;
pub mod packet;
pub mod tcp;
pub mod time;
pub mod writer;

pub use decode::{decode_capture, Decoded, Decoder, Stats};
pub use error::CaptureError;
pub use exchange::{Exchange, Ports, Transport};
pub use file::{CaptureFormat, CaptureReader, RawPacket};
pub use kasa::Framing;
pub use message::{Content, Message, MessageError};
pub use packet::LinkType;
pub use time::Timestamp;
