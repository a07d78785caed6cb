//! Typed errors of the Kasa protocol: framing, reply decoding, and device error codes
//! (kasa-protocol.md §7).

use std::fmt;

/// A TCP frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The length prefix announces more than the configured cap; nothing was allocated.
    #[error("frame length prefix announces {announced} bytes, over the {max}-byte cap")]
    TooLarge {
        /// The announced payload length.
        announced: usize,
        /// The cap in force.
        max: usize,
    },
    /// The stream ended inside a frame.
    #[error("truncated frame: stream ended after {have} of {need} bytes")]
    Truncated {
        /// Bytes received of the frame (header included).
        have: usize,
        /// Bytes the header announced (header included).
        need: usize,
    },
    /// A zero-length header (2016 firmware) where a payload was required.
    #[error("frame has a zero-length header and no payload")]
    ZeroLength,
    /// More bytes followed a complete frame where exactly one was expected.
    #[error("{0} unexpected bytes after the frame")]
    TrailingBytes(usize),
}

/// The class of a device error code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceErrorKind {
    /// -1 `module not support`: the top-level module is unknown to this device.
    ModuleNotSupported,
    /// -2 `member not support`: the method is unknown inside a known module.
    MethodNotSupported,
    /// -3 `invalid argument`.
    InvalidArgument,
    /// -10 `table is full` (a second countdown rule, …).
    TableFull,
    /// -11 `time not sync`: the device clock was never set.
    TimeNotSynced,
    /// -14 `entry not exist`: unknown rule id or child id.
    EntryNotFound,
    /// Any other non-zero code.
    Other,
}

impl DeviceErrorKind {
    /// Classifies an `err_code`.
    pub fn from_code(code: i64) -> Self {
        match code {
            -1 | -2001 => Self::ModuleNotSupported,
            -2 | -2000 => Self::MethodNotSupported,
            -3 => Self::InvalidArgument,
            -10 => Self::TableFull,
            -11 => Self::TimeNotSynced,
            -14 => Self::EntryNotFound,
            _ => Self::Other,
        }
    }
}

/// A non-zero `err_code` returned by a device, with where it was reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceError {
    /// The raw `err_code`.
    pub code: i64,
    /// The device's `err_msg`, if it sent one.
    pub msg: Option<String>,
    /// The module that failed.
    pub module: String,
    /// The method that failed; `None` for a module-level error.
    pub method: Option<String>,
}

impl DeviceError {
    /// The class of the code.
    pub fn kind(&self) -> DeviceErrorKind {
        DeviceErrorKind::from_code(self.code)
    }
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = match &self.method {
            Some(m) => format!("{}.{}", self.module, m),
            None => self.module.clone(),
        };
        let msg = self.msg.as_deref().unwrap_or(match self.kind() {
            DeviceErrorKind::ModuleNotSupported => "module not support",
            DeviceErrorKind::MethodNotSupported => "member not support",
            DeviceErrorKind::InvalidArgument => "invalid argument",
            _ => "no message",
        });
        write!(f, "device error {} on {place}: {msg}", self.code)
    }
}

impl std::error::Error for DeviceError {}

/// A reply could not be turned into the requested result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResponseError {
    /// The payload is not valid UTF-8 JSON.
    #[error("reply is not JSON: {0}")]
    NotJson(String),
    /// The payload is JSON but not an object.
    #[error("reply is not a JSON object")]
    NotObject,
    /// The reply has no entry for the requested module or method.
    #[error("reply has no {0}")]
    Missing(String),
    /// The device reported an error code.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// A field is missing or has the wrong type.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// What was being read (`sysinfo`, `emeter reading`, …).
        what: &'static str,
        /// What was wrong.
        detail: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_messages() {
        let e = DeviceError {
            code: -1,
            msg: Some("module not support".into()),
            module: "emeter".into(),
            method: None,
        };
        assert_eq!(e.kind(), DeviceErrorKind::ModuleNotSupported);
        assert_eq!(e.to_string(), "device error -1 on emeter: module not support");
        let e = DeviceError {
            code: -2,
            msg: None,
            module: "schedule".into(),
            method: Some("get_realtime".into()),
        };
        assert_eq!(e.kind(), DeviceErrorKind::MethodNotSupported);
        assert_eq!(e.to_string(), "device error -2 on schedule.get_realtime: member not support");
        assert_eq!(DeviceErrorKind::from_code(-99), DeviceErrorKind::Other);
    }
}
