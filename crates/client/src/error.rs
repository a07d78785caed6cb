//! The error type of every client operation.
//!
//! Each [`Error`] names the peer it concerns, and its `Display` is one human line of the
//! form `<host>: <what failed> (<why>)`, for example
//! `127.0.0.2:9999: connection refused (is this a Kasa plug with legacy firmware?)` or
//! `127.0.0.2:9999: no reply within 2.0 s`.
//!
//! The line is complete on its own: the wrapped protocol and I/O errors are kept as fields
//! (for matching and downcasting), not chained as [`std::error::Error::source`], so that
//! `anyhow`'s `{:#}` does not print the same reason twice.

use std::{fmt, io, net::SocketAddr, time::Duration};

use plugctl_proto::kasa::{DeviceError, FrameError, ResponseError};

/// `Result` with the client [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which step of an exchange failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// Opening the TCP connection.
    Connect,
    /// Writing the request.
    Send,
    /// Waiting for and reading the reply.
    Reply,
    /// Opening a local (UDP) socket.
    Bind,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Connect => "connect",
            Op::Send => "send",
            Op::Reply => "receive",
            Op::Bind => "bind",
        })
    }
}

/// Everything that can go wrong talking to a device.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The host actively refused the connection or is unreachable (ECONNREFUSED,
    /// EHOSTUNREACH, ENETUNREACH). Never retried: the answer would not change.
    #[error("{addr}: {}", refused_reason(.error))]
    Refused {
        /// The peer.
        addr: SocketAddr,
        /// The OS error.
        error: io::Error,
    },
    /// A step did not finish within the configured timeout.
    #[error("{addr}: {}", timeout_reason(*.op, *.after))]
    Timeout {
        /// The peer.
        addr: SocketAddr,
        /// The step that timed out.
        op: Op,
        /// The timeout in force.
        after: Duration,
    },
    /// The peer closed the connection before sending any byte of the reply.
    #[error("{addr}: connection closed by the device before it replied")]
    Closed {
        /// The peer.
        addr: SocketAddr,
    },
    /// Any other I/O error (connection reset, broken pipe, …).
    #[error("{addr}: {op} failed: {error}")]
    Io {
        /// The peer.
        addr: SocketAddr,
        /// The step that failed.
        op: Op,
        /// The OS error.
        error: io::Error,
    },
    /// The reply frame is malformed: oversized length prefix, truncated, …
    #[error("{addr}: {}", frame_reason(.error))]
    Frame {
        /// The peer.
        addr: SocketAddr,
        /// What was wrong with the frame.
        error: FrameError,
    },
    /// The reply payload is not what was asked for: not JSON, not an object, a missing
    /// or malformed result.
    #[error("{addr}: {error}")]
    Reply {
        /// The peer.
        addr: SocketAddr,
        /// What was wrong with the reply.
        error: ResponseError,
    },
    /// The device answered with a non-zero `err_code`.
    #[error("{addr}: {error}")]
    Device {
        /// The peer.
        addr: SocketAddr,
        /// The device's error, with module, method, code and message.
        error: DeviceError,
    },
    /// The caller passed something unusable (a non-JSON raw request, an oversized request,
    /// …). Nothing was sent.
    #[error("{addr}: invalid argument: {reason}")]
    InvalidArgument {
        /// The peer.
        addr: SocketAddr,
        /// What is wrong.
        reason: String,
    },
    /// The named outlet does not exist on this device.
    #[error("{addr}: {}", no_such_child(.child, .valid))]
    NoSuchChild {
        /// The peer.
        addr: SocketAddr,
        /// The outlet as the caller named it.
        child: String,
        /// The full ids of the outlets the device has (empty for a single-outlet device).
        valid: Vec<String>,
    },
    /// The device lacks the feature an operation needs (e.g. an energy meter).
    #[error("{addr}: {reason}")]
    Unsupported {
        /// The peer.
        addr: SocketAddr,
        /// What is missing, as a sentence fragment ("this device has no energy meter").
        reason: String,
    },
    /// Auto-detection found neither family at this host: both probes failed.
    #[error(
        "{}: no plug answered: Kasa on port {}: {}; Hi-Flying on port {}: {}",
        .addr.ip(), .kasa.addr().port(), strip_addr(.kasa), .hf.addr().port(), strip_addr(.hf)
    )]
    NoDevice {
        /// The host and the Kasa port probed.
        addr: SocketAddr,
        /// Why the Kasa probe failed.
        kasa: Box<Error>,
        /// Why the Hi-Flying probe failed.
        hf: Box<Error>,
    },
    /// The plug runs newer KLAP/AES firmware without the legacy port-9999 service
    /// (see [`crate::kasa::klap`]). Never retried.
    #[error("{}: {}", .addr.ip(), crate::kasa::klap::NEWER_FIRMWARE)]
    NewerFirmware {
        /// The host and the legacy port that refused or closed.
        addr: SocketAddr,
        /// What showed the newer firmware.
        evidence: crate::kasa::klap::KlapEvidence,
    },
    /// A Hi-Flying (HF-LPB100) plug failed at the protocol level: a rejected command, an
    /// undecodable reply, no answer to the assist password, … (see
    /// [`HfFailure`](crate::hf::HfFailure); retryable as it says).
    #[error("{addr}: {error}")]
    Hf {
        /// The peer.
        addr: SocketAddr,
        /// What went wrong.
        error: crate::hf::HfFailure,
    },
}

impl Error {
    /// The peer this error concerns (for discovery errors: the discovery target).
    pub fn addr(&self) -> SocketAddr {
        match self {
            Error::Refused { addr, .. }
            | Error::Timeout { addr, .. }
            | Error::Closed { addr }
            | Error::Io { addr, .. }
            | Error::Frame { addr, .. }
            | Error::Reply { addr, .. }
            | Error::Device { addr, .. }
            | Error::InvalidArgument { addr, .. }
            | Error::NoSuchChild { addr, .. }
            | Error::Unsupported { addr, .. }
            | Error::NoDevice { addr, .. }
            | Error::NewerFirmware { addr, .. }
            | Error::Hf { addr, .. } => *addr,
        }
    }

    /// Whether trying again might succeed: timeouts, resets, early close and garbled
    /// replies are; refusals, device error codes and caller mistakes are not.
    ///
    /// A well-formed reply that lacks the expected result (`Reply` with
    /// [`ResponseError::Missing`] or [`ResponseError::Malformed`]) is not retryable either:
    /// the device answered, and would answer the same way again.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Timeout { .. } | Error::Closed { .. } | Error::Io { .. } | Error::Frame { .. } => true,
            Error::Reply { error, .. } => {
                matches!(error, ResponseError::NotJson(_) | ResponseError::NotObject)
            }
            Error::Refused { .. }
            | Error::Device { .. }
            | Error::InvalidArgument { .. }
            | Error::NoSuchChild { .. }
            | Error::Unsupported { .. }
            | Error::NoDevice { .. }
            | Error::NewerFirmware { .. } => false,
            Error::Hf { error, .. } => error.is_retryable(),
        }
    }

    /// Whether this is a [`Error::Timeout`].
    pub fn is_timeout(&self) -> bool {
        matches!(self, Error::Timeout { .. })
    }

    /// The device's error code, if the device answered with one.
    pub fn device_error(&self) -> Option<&DeviceError> {
        match self {
            Error::Device { error, .. } => Some(error),
            _ => None,
        }
    }

    /// Converts a reply-decoding error, lifting device error codes into [`Error::Device`].
    pub fn from_response(addr: SocketAddr, error: ResponseError) -> Self {
        match error {
            ResponseError::Device(error) => Error::Device { addr, error },
            error => Error::Reply { addr, error },
        }
    }

    /// Whether an OS error means "nobody will answer here": connection refused, host or
    /// network unreachable, host down.
    pub(crate) fn is_refusal(error: &io::Error) -> bool {
        matches!(
            error.kind(),
            io::ErrorKind::ConnectionRefused
                | io::ErrorKind::HostUnreachable
                | io::ErrorKind::NetworkUnreachable
        ) || error.raw_os_error().is_some_and(is_host_down)
    }
}

/// EHOSTDOWN, which std does not classify.
fn is_host_down(code: i32) -> bool {
    // EHOSTDOWN is 112 on Linux and 64 on the BSDs and macOS.
    if cfg!(target_os = "linux") || cfg!(target_os = "android") {
        code == 112
    } else if cfg!(any(
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "dragonfly"
    )) {
        code == 64
    } else {
        false
    }
}

/// A duration as people read it: `250 ms`, `2.0 s`.
pub(crate) fn human_duration(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// An error's message without its leading `addr: `, for nesting in another message.
fn strip_addr(e: &Error) -> String {
    let text = e.to_string();
    let prefix = format!("{}: ", e.addr());
    text.strip_prefix(&prefix).map(str::to_string).unwrap_or(text)
}

fn refused_reason(error: &io::Error) -> String {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        io::ErrorKind::HostUnreachable => "host unreachable (is the device on this network?)".to_string(),
        io::ErrorKind::NetworkUnreachable => "network unreachable".to_string(),
        _ => format!("unreachable: {error}"),
    }
}

fn timeout_reason(op: Op, after: Duration) -> String {
    let after = human_duration(after);
    match op {
        Op::Connect => format!("could not connect within {after}"),
        Op::Send => format!("could not send the request within {after}"),
        Op::Reply => format!("no reply within {after}"),
        Op::Bind => format!("could not open a socket within {after}"),
    }
}

fn frame_reason(error: &FrameError) -> String {
    match error {
        FrameError::TooLarge { announced, max } => {
            format!("reply frame announces {announced} bytes, over the {max}-byte cap")
        }
        FrameError::Truncated { have, need } => {
            format!("truncated reply: connection closed after {have} of {need} bytes")
        }
        FrameError::ZeroLength => {
            "reply frame has a zero-length header (2016-era firmware is not supported)".to_string()
        }
        FrameError::TrailingBytes(n) => format!("{n} unexpected bytes after the reply frame"),
    }
}

fn no_such_child(child: &str, valid: &[String]) -> String {
    if valid.is_empty() {
        return format!("no outlet \"{child}\": this device has a single outlet (omit the outlet)");
    }
    let suffixes: Vec<&str> =
        valid.iter().map(|id| id.get(id.len().saturating_sub(2)..).unwrap_or(id)).collect();
    format!(
        "no outlet \"{child}\"; valid: index 0-{}, id suffix {}, or the full outlet id",
        valid.len() - 1,
        suffixes.join("/")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 2], 9999))
    }

    #[test]
    fn display_is_one_line_with_host_what_and_why() {
        let cases = [
            (
                Error::Refused { addr: addr(), error: io::ErrorKind::ConnectionRefused.into() },
                "127.0.0.2:9999: connection refused",
            ),
            (
                Error::Timeout { addr: addr(), op: Op::Reply, after: Duration::from_secs(2) },
                "127.0.0.2:9999: no reply within 2.0 s",
            ),
            (
                Error::Timeout { addr: addr(), op: Op::Connect, after: Duration::from_millis(250) },
                "127.0.0.2:9999: could not connect within 250 ms",
            ),
            (
                Error::Frame {
                    addr: addr(),
                    error: FrameError::TooLarge { announced: u32::MAX as usize, max: 65536 },
                },
                "127.0.0.2:9999: reply frame announces 4294967295 bytes, over the 65536-byte cap",
            ),
            (
                Error::Device {
                    addr: addr(),
                    error: DeviceError {
                        code: -1,
                        msg: Some("module not support".into()),
                        module: "emeter".into(),
                        method: None,
                    },
                },
                "127.0.0.2:9999: device error -1 on emeter: module not support",
            ),
            (
                Error::Reply { addr: addr(), error: ResponseError::NotJson("expected value".into()) },
                "127.0.0.2:9999: reply is not JSON: expected value",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.to_string(), want);
            assert_eq!(e.addr(), addr());
        }
    }

    #[test]
    fn retry_classes() {
        assert!(
            !Error::Refused { addr: addr(), error: io::ErrorKind::ConnectionRefused.into() }.is_retryable()
        );
        assert!(Error::Closed { addr: addr() }.is_retryable());
        assert!(Error::Reply { addr: addr(), error: ResponseError::NotObject }.is_retryable());
        assert!(!Error::Reply { addr: addr(), error: ResponseError::Missing("x".into()) }.is_retryable());
        assert!(Error::is_refusal(&io::ErrorKind::ConnectionRefused.into()));
        assert!(!Error::is_refusal(&io::ErrorKind::ConnectionReset.into()));
    }

    #[test]
    fn no_such_child_lists_the_outlets() {
        let e = Error::NoSuchChild {
            addr: addr(),
            child: "7".into(),
            valid: (0..3).map(|i| format!("8006AF35494E7DB13DDE9B8F40BF2E001E770319{i:02}")).collect(),
        };
        assert_eq!(
            e.to_string(),
            "127.0.0.2:9999: no outlet \"7\"; valid: index 0-2, id suffix 00/01/02, or the full outlet id"
        );
        let e = Error::NoSuchChild { addr: addr(), child: "1".into(), valid: vec![] };
        assert!(e.to_string().contains("single outlet"), "{e}");
    }
}
