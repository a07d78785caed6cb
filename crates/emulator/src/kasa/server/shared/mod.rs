//! Shared-socket serving for a fleet (Linux): ONE TCP listener and ONE UDP socket, both bound
//! to `0.0.0.0:P` and restricted to the loopback interface (`SO_BINDTODEVICE "lo"`), serve
//! every device of a fleet, each on its own address 127.0.0.N:P.
//!
//! - TCP ([`tcp`]): an accepted connection goes to the device whose address is the
//!   connection's **local** address (the address the client dialled); connections to an
//!   address that is not a fleet member are closed at once. Each connection is then served by
//!   the same per-connection code as a device's own listener (`server/tcp.rs`), with the
//!   same [`ServerConfig`](super::ServerConfig) (limits, timeouts, faults).
//! - UDP ([`udp`]): `IP_PKTINFO` tells each datagram's destination address: a member's
//!   address → that device answers (with the faults of the `ServerConfig`, as its own UDP
//!   socket would); the fleet's broadcast address (e.g. 127.255.255.255) → every device
//!   answers (without faults, as the per-device broadcast dispatcher). Each reply is sent with the device's own address as source
//!   ([`pktinfo`]), so clients that check the sender (python-kasa checks address and
//!   discovery port) see what a real device sends.
//!
//! A fleet then costs 2 file descriptors plus one per open connection, instead of 2 per
//! device (`fleet/limits.rs`).

mod members;
mod pktinfo;
mod sockets;
mod tcp;
mod udp;

pub(crate) use members::{Member, Members};
pub(crate) use sockets::bind_shared;
pub(crate) use tcp::serve_shared_tcp;
pub(crate) use udp::serve_shared_udp;
