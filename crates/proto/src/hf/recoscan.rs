//! The Reco discovery reply to `YZ-RECOSCAN` on UDP 48899 (hf-protocol.md §3.1):
//! `<ip>,<MAC12>,<SN>,<flag>,<state>[,<field6>…]`, e.g.
//! `192.168.29.66,ACCF23484D70,040002298,1,1,0`.
//!
//! At least five fields; anything after the fifth is kept verbatim in
//! [`RecoScanReply::extra`] (the 6th field's meaning is unknown; one client requires it).

use std::net::Ipv4Addr;

use serde::Serialize;

use crate::hf::mac::{Mac, MacError};
use crate::hf::text::{preview, text, trim_datagram, trim_field};
use crate::hf::RECOSCAN;

/// Fields every reply has: ip, MAC, serial, online flag, relay state.
pub const MIN_FIELDS: usize = 5;

/// Longest serial number accepted (the known ones have 9 digits; one client allows 12).
pub const MAX_SERIAL_LEN: usize = 32;

/// A discovery reply that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecoScanError {
    /// An empty datagram.
    #[error("empty YZ-RECOSCAN reply")]
    Empty,
    /// The datagram is the `YZ-RECOSCAN` request itself, typically the client's own broadcast
    /// received back on port 48899.
    #[error("datagram is a YZ-RECOSCAN request (e.g. the client's own broadcast echo), not a reply")]
    IsRequest,
    /// Fewer than five comma-separated fields.
    #[error("YZ-RECOSCAN reply has {got} fields, expected at least 5 (ip,MAC,SN,flag,state)")]
    FieldCount {
        /// Fields found.
        got: usize,
    },
    /// Field 1 is not a dotted-quad IPv4 address.
    #[error("field 1 (ip) is not a dotted-quad IPv4 address: {0:?}")]
    Ip(String),
    /// Field 2 is not a MAC address.
    #[error("field 2 (MAC): {0}")]
    Mac(#[from] MacError),
    /// Field 3 is empty, too long, or not letters/digits.
    #[error("field 3 (serial) must be 1 to 32 ASCII letters or digits, got {0:?}")]
    Serial(String),
    /// Field 4 or 5 is not `0` or `1`.
    #[error("field {index} ({name}) must be 0 or 1, got {value:?}")]
    Flag {
        /// 4 or 5.
        index: usize,
        /// `online flag` or `relay state`.
        name: &'static str,
        /// The field as received (shortened).
        value: String,
    },
}

/// A decoded `YZ-RECOSCAN` reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct RecoScanReply {
    /// Field 1: the plug's IP; clients expect it to equal the datagram's source address.
    pub ip: Ipv4Addr,
    /// Field 2: the station MAC (12 upper-case hex digits on the wire).
    pub mac: Mac,
    /// Field 3: the serial number (9 digits on known devices, e.g. `040002298`).
    pub serial: String,
    /// Field 4: the `0`/`1` flag node-reco calls "res" and one client `is_online`
    /// (probably the cloud connection).
    pub online: bool,
    /// Field 5: relay state, `1` = ON.
    pub relay_on: bool,
    /// Fields 6 and later, verbatim (an emulator sends one, default `0`). Must not contain
    /// `,` to survive encoding.
    pub extra: Vec<String>,
}

impl RecoScanReply {
    /// Decodes a reply datagram. `\r`, `\n` and NUL around it are ignored; the MAC may be in
    /// lower case or colon-separated; spaces around the flags are tolerated.
    pub fn parse(datagram: &[u8]) -> Result<Self, RecoScanError> {
        let text = text(datagram);
        let s = trim_datagram(&text);
        if s.is_empty() {
            return Err(RecoScanError::Empty);
        }
        if s == RECOSCAN {
            return Err(RecoScanError::IsRequest);
        }
        let fields: Vec<&str> = s.split(',').collect();
        let [ip, mac, serial, online, relay, extra @ ..] = fields.as_slice() else {
            return Err(RecoScanError::FieldCount { got: fields.len() });
        };
        let ip_text = trim_field(ip);
        let ip = ip_text.parse().map_err(|_| RecoScanError::Ip(preview(ip_text)))?;
        let mac = Mac::parse(trim_field(mac))?;
        let serial = trim_field(serial);
        if serial.is_empty()
            || serial.len() > MAX_SERIAL_LEN
            || !serial.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(RecoScanError::Serial(preview(serial)));
        }
        Ok(Self {
            ip,
            mac,
            serial: serial.to_string(),
            online: flag(online, 4, "online flag")?,
            relay_on: flag(relay, 5, "relay state")?,
            extra: extra.iter().map(|f| f.to_string()).collect(),
        })
    }

    /// The reply datagram, without terminator: `ip,MAC,SN,flag,state[,extra…]`.
    pub fn to_wire(&self) -> String {
        let mut out = format!(
            "{},{},{},{},{}",
            self.ip,
            self.mac,
            self.serial,
            u8::from(self.online),
            u8::from(self.relay_on)
        );
        for f in &self.extra {
            out.push(',');
            out.push_str(f);
        }
        out
    }
}

fn flag(field: &str, index: usize, name: &'static str) -> Result<bool, RecoScanError> {
    match trim_field(field) {
        "1" => Ok(true),
        "0" => Ok(false),
        other => Err(RecoScanError::Flag { index, name, value: preview(other) }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> RecoScanReply {
        RecoScanReply {
            ip: Ipv4Addr::new(192, 168, 29, 66),
            mac: Mac([0xAC, 0xCF, 0x23, 0x48, 0x4D, 0x70]),
            serial: "040002298".into(),
            online: true,
            relay_on: true,
            extra: vec!["0".into()],
        }
    }

    #[test]
    fn reference_vector() {
        // §5.6
        let wire = "192.168.29.66,ACCF23484D70,040002298,1,1,0";
        let r = RecoScanReply::parse(wire.as_bytes()).unwrap();
        assert_eq!(r, sample());
        assert_eq!(r.to_wire(), wire);
        // node-reco README, five fields
        let r5 = RecoScanReply::parse(b"192.168.29.66,ACCF23484D70,040002298,1,1").unwrap();
        assert!(r5.extra.is_empty());
        assert_eq!(r5.to_wire(), "192.168.29.66,ACCF23484D70,040002298,1,1");
    }

    #[test]
    fn lenient_where_harmless() {
        let r = RecoScanReply::parse(b"192.168.29.66,accf23484d70,040002298, 0 ,0,0,x y,\r\n\0").unwrap();
        assert!(!r.online && !r.relay_on);
        assert_eq!(r.mac.to_string(), "ACCF23484D70");
        assert_eq!(r.extra, vec!["0".to_string(), "x y".to_string(), String::new()]);
        assert!(RecoScanReply::parse(b"10.0.0.1,AC:CF:23:48:4D:70,SN12ab,1,0").is_ok());
    }

    #[test]
    fn malformed_replies_are_typed() {
        let err = |s: &str| RecoScanReply::parse(s.as_bytes()).unwrap_err();
        assert_eq!(err(""), RecoScanError::Empty);
        assert_eq!(err("\r\n"), RecoScanError::Empty);
        assert_eq!(err("YZ-RECOSCAN"), RecoScanError::IsRequest);
        assert_eq!(err("YZ-RECOSCAN\0"), RecoScanError::IsRequest);
        assert_eq!(
            err("192.168.29.66,ACCF23484D70,040002298").to_string(),
            "YZ-RECOSCAN reply has 3 fields, expected at least 5 (ip,MAC,SN,flag,state)"
        );
        assert_eq!(err("HF-A11ASSISTHREAD"), RecoScanError::FieldCount { got: 1 });
        assert!(matches!(err("192.168.29,ACCF23484D70,040002298,1,1"), RecoScanError::Ip(_)));
        assert!(matches!(err("192.168.029.066,ACCF23484D70,040002298,1,1"), RecoScanError::Ip(_)));
        assert!(matches!(err("::1,ACCF23484D70,040002298,1,1"), RecoScanError::Ip(_)));
        assert!(matches!(err("192.168.29.66,ACCF23484D7,040002298,1,1"), RecoScanError::Mac(_)));
        assert_eq!(
            err("192.168.29.66,ACCF23484D70,,1,1").to_string(),
            "field 3 (serial) must be 1 to 32 ASCII letters or digits, got \"\""
        );
        assert!(matches!(err("192.168.29.66,ACCF23484D70,04.0002298,1,1"), RecoScanError::Serial(_)));
        assert_eq!(
            err("192.168.29.66,ACCF23484D70,040002298,2,1").to_string(),
            "field 4 (online flag) must be 0 or 1, got \"2\""
        );
        assert!(matches!(
            err("192.168.29.66,ACCF23484D70,040002298,1,on"),
            RecoScanError::Flag { index: 5, .. }
        ));
        assert!(matches!(
            err("192.168.29.66,ACCF23484D70,040002298,1,"),
            RecoScanError::Flag { index: 5, .. }
        ));
    }

    fn reply() -> impl Strategy<Value = RecoScanReply> {
        (
            any::<[u8; 4]>(),
            any::<[u8; 6]>(),
            "[0-9A-Za-z]{1,32}",
            any::<bool>(),
            any::<bool>(),
            proptest::collection::vec("[^,\r\n\0]{0,12}", 0..4),
        )
            .prop_map(|(ip, mac, serial, online, relay_on, extra)| RecoScanReply {
                ip: Ipv4Addr::from(ip),
                mac: Mac(mac),
                serial,
                online,
                relay_on,
                extra,
            })
    }

    proptest! {
        #[test]
        fn round_trip(r in reply(), tail in prop_oneof![Just(""), Just("\r\n"), Just("\0")]) {
            let wire = format!("{}{tail}", r.to_wire());
            prop_assert_eq!(RecoScanReply::parse(wire.as_bytes()).unwrap(), r);
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
            let _ = RecoScanReply::parse(&bytes);
        }

        #[test]
        fn never_panics_near_valid(s in "[0-9.,A-Fa-f:\r\n \0é]{0,48}") {
            let _ = RecoScanReply::parse(s.as_bytes());
        }
    }
}
