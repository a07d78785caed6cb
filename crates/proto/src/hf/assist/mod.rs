//! The Hi-Flying "assist" protocol on UDP 48899 (hf-protocol.md §3.2–§3.4): network AT
//! command mode of the HF-LPB100 module.
//!
//! ```text
//! C→P  "HF-A11ASSISTHREAD"                       (the assist password, no terminator)
//! P→C  "10.10.100.254,ACCF23D78A6C,HF-LPB100"    (AssistReply: ip,MAC,module-id)
//! C→P  "+ok"                                     (ASSIST_ACK, no reply)
//! C→P  "AT+<CMD>[=<args>]\r"                     (AtRequest)
//! P→C  "+ok[=<value>]\r\n\r\n" | "+ERR=<n>\r\n\r\n"   (AtReply)
//! ```
//!
//! - [`at`]: AT requests, replies and the HF error codes −1…−5;
//! - [`wifi`]: `WSSSID`, `WSKEY`, `WMODE` values with their validation;
//! - [`wscan`]: the `AT+WSCAN` table.

pub mod at;
pub mod wifi;
pub mod wscan;

use std::net::Ipv4Addr;

use serde::Serialize;

use crate::hf::mac::{Mac, MacError};
use crate::hf::text::{preview, text, trim_datagram};

pub use at::{AtReply, AtRequest, AtRequestError, HfError, AT_REPLY_TERMINATOR, AT_TERMINATOR};
pub use wifi::{
    validate_ssid, wmode, wskey, wsssid, Auth, Encryption, WMode, WifiError, WsKey, MAX_SSID_LEN,
};
pub use wscan::{encode_wscan_reply, parse_wscan, RowError, ScanEntry, Security, WscanError, WSCAN_HEADER};

/// What a client sends after the discovery reply to enter AT mode (no reply expected).
pub const ASSIST_ACK: &str = "+ok";

/// A discovery reply that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AssistReplyError {
    /// An empty datagram.
    #[error("empty assist discovery reply")]
    Empty,
    /// Not exactly three comma-separated fields.
    #[error("assist discovery reply has {0} fields, expected exactly 3 (ip,MAC,module-id)")]
    FieldCount(usize),
    /// Field 1 is not a dotted-quad IPv4 address.
    #[error("field 1 (ip) is not a dotted-quad IPv4 address: {0:?}")]
    Ip(String),
    /// Field 2 is not a MAC address.
    #[error("field 2 (MAC): {0}")]
    Mac(#[from] MacError),
    /// Field 3 is empty or not printable ASCII.
    #[error("field 3 (module id) must be printable ASCII without spaces, got {0:?}")]
    ModuleId(String),
}

/// The module's answer to the assist password: `<ip>,<MAC12>,<module-id>`, e.g.
/// `10.10.100.254,ACCF23D78A6C,HF-LPB100`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct AssistReply {
    /// The module's IP.
    pub ip: Ipv4Addr,
    /// The module's MAC (12 upper-case hex digits on the wire).
    pub mac: Mac,
    /// The module id (`AT+MID`): `HF-LPB100`, or customised like `HF-LPB100-ZJ200`.
    pub module_id: String,
}

impl AssistReply {
    /// Decodes the reply datagram (exactly three fields; `\r`, `\n`, NUL around it are
    /// ignored).
    pub fn parse(datagram: &[u8]) -> Result<Self, AssistReplyError> {
        let text = text(datagram);
        let s = trim_datagram(&text);
        if s.is_empty() {
            return Err(AssistReplyError::Empty);
        }
        let fields: Vec<&str> = s.split(',').collect();
        let [ip, mac, module_id] = fields.as_slice() else {
            return Err(AssistReplyError::FieldCount(fields.len()));
        };
        let ip = ip.parse().map_err(|_| AssistReplyError::Ip(preview(ip)))?;
        let mac = Mac::parse(mac)?;
        if module_id.is_empty() || !module_id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AssistReplyError::ModuleId(preview(module_id)));
        }
        Ok(Self { ip, mac, module_id: module_id.to_string() })
    }

    /// The reply datagram, no terminator: `ip,MAC,module-id`.
    pub fn to_wire(&self) -> String {
        format!("{},{},{}", self.ip, self.mac, self.module_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn reference_vector() {
        // §3.2 / §5.6
        let wire = "10.10.100.254,ACCF23D78A6C,HF-LPB100";
        let r = AssistReply::parse(wire.as_bytes()).unwrap();
        assert_eq!(r.ip, Ipv4Addr::new(10, 10, 100, 254));
        assert_eq!(r.mac, Mac([0xAC, 0xCF, 0x23, 0xD7, 0x8A, 0x6C]));
        assert_eq!(r.module_id, "HF-LPB100");
        assert_eq!(r.to_wire(), wire);
        assert_eq!(
            AssistReply::parse(b"10.10.100.254,ACCF23D78A6C,HF-LPB100-ZJ200\r\n").unwrap().module_id,
            "HF-LPB100-ZJ200"
        );
    }

    #[test]
    fn malformed() {
        let err = |s: &str| AssistReply::parse(s.as_bytes()).unwrap_err();
        assert_eq!(err(""), AssistReplyError::Empty);
        assert_eq!(err("HF-A11ASSISTHREAD"), AssistReplyError::FieldCount(1));
        assert_eq!(
            err("192.168.29.66,ACCF23484D70,040002298,1,1,0").to_string(),
            "assist discovery reply has 6 fields, expected exactly 3 (ip,MAC,module-id)"
        );
        assert!(matches!(err("10.10.100,ACCF23D78A6C,HF-LPB100"), AssistReplyError::Ip(_)));
        assert!(matches!(err("10.10.100.254,ACCF23D78A6,HF-LPB100"), AssistReplyError::Mac(_)));
        assert!(matches!(err("10.10.100.254,ACCF23D78A6C,"), AssistReplyError::ModuleId(_)));
        assert!(matches!(err("10.10.100.254,ACCF23D78A6C,HF LPB100"), AssistReplyError::ModuleId(_)));
    }

    proptest! {
        #[test]
        fn round_trip(ip: [u8; 4], mac: [u8; 6], mid in "[!-+\\--~]{1,20}") {
            let r = AssistReply { ip: Ipv4Addr::from(ip), mac: Mac(mac), module_id: mid };
            prop_assert_eq!(AssistReply::parse(r.to_wire().as_bytes()).unwrap(), r);
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = AssistReply::parse(&bytes);
        }
    }
}
