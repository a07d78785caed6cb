//! The `AT+WSCAN` site-survey table (hf-protocol.md §3.4):
//!
//! ```text
//! +ok=\r\n
//! Ch,SSID,BSSID,Security,Indicator\r\n
//! 1,ZJSW,3C:E5:A6:61:B4:41,OPEN/NONE,74\r\n
//! …\r\n\r\n
//! ```
//!
//! SSIDs are not escaped, so an SSID may contain commas: the first field is the channel,
//! the last three are BSSID, security and indicator, and everything in between is the SSID
//! (re-joined with `,`). Lines may end with `\r\n`, `\r`, `\n` or `\n\r` (firmwares differ,
//! §4.1 item 10); empty lines and a stray trailing `+ok` line are skipped. An SSID that
//! itself contains CR or LF cannot be represented.
//!
//! The other known header, `RSSI,SSID,BSSID,Channel,Encryption,Authentication`, is reported
//! as [`WscanError::UnsupportedHeader`] rather than misread.

use std::fmt;

use serde::Serialize;

use crate::hf::assist::at::{AtReply, HfError};
use crate::hf::mac::{Mac, MacError};
use crate::hf::reply::ReplyError;
use crate::hf::text::{lines, preview, strip_prefix_ci, text, trim_field};

/// The table header HF-LPB100-family firmware sends.
pub const WSCAN_HEADER: &str = "Ch,SSID,BSSID,Security,Indicator";

/// An `AT+WSCAN` reply that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WscanError {
    /// The reply is not a valid AT reply.
    #[error("unparseable AT+WSCAN reply: {0}")]
    Reply(#[from] ReplyError),
    /// The module answered with an error.
    #[error("AT+WSCAN failed: {0}")]
    Device(HfError),
    /// A table in another column order.
    #[error("unsupported AT+WSCAN table header {0:?} (only Ch,SSID,BSSID,Security,Indicator is understood)")]
    UnsupportedHeader(String),
    /// A row that does not parse.
    #[error("AT+WSCAN table line {line}: {error}")]
    Row {
        /// 1-based line number among the non-empty lines of the table (header included).
        line: usize,
        /// What is wrong with it.
        error: RowError,
    },
}

/// What is wrong with one `AT+WSCAN` row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    /// Fewer than five comma-separated fields.
    #[error("{0} fields, expected at least 5 (Ch,SSID,BSSID,Security,Indicator)")]
    FieldCount(usize),
    /// The channel is not an integer 0..=255.
    #[error("channel {0:?} is not a number")]
    Channel(String),
    /// The BSSID is not a MAC address.
    #[error("BSSID: {0}")]
    Bssid(#[from] MacError),
    /// The indicator is not an integer 0..=255.
    #[error("signal indicator {0:?} is not a number")]
    Signal(String),
}

/// The `Security` column, `<auth>/<encryption>` (`WPA2PSK/AES`, `OPEN/NONE`,
/// `WPAPSKWPA2PSK/TKIPAES`, …), kept as text because scan results use more combinations
/// than `AT+WSKEY` accepts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize)]
pub struct Security {
    /// The part before the first `/`.
    pub auth: String,
    /// The part after the first `/`; empty when there is no `/`.
    pub encryption: String,
}

impl Security {
    /// Splits at the first `/`; each part is trimmed like a field, so that `WPA2PSK /AES`
    /// and `WPA2PSK/AES` are the same and a parsed value always prints back to itself.
    pub fn parse(s: &str) -> Self {
        match s.split_once('/') {
            Some((auth, encryption)) => {
                Self { auth: trim_field(auth).into(), encryption: trim_field(encryption).into() }
            }
            None => Self { auth: trim_field(s).into(), encryption: String::new() },
        }
    }
}

impl fmt::Display for Security {
    /// `auth/encryption`, or `auth` alone when the encryption is empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.encryption.is_empty() {
            f.write_str(&self.auth)
        } else {
            write!(f, "{}/{}", self.auth, self.encryption)
        }
    }
}

/// One network found by `AT+WSCAN`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ScanEntry {
    /// Wi-Fi channel.
    pub channel: u8,
    /// The SSID, verbatim (may be empty, contain commas, spaces or UTF-8).
    pub ssid: String,
    /// The access point's MAC (written `AA:BB:CC:DD:EE:FF`).
    pub bssid: Mac,
    /// The `Security` column.
    pub security: Security,
    /// The `Indicator` column: signal quality, 0–100 on known firmware.
    pub signal: u8,
}

impl ScanEntry {
    /// Parses one table row; commas in the SSID are re-joined.
    pub fn parse_row(row: &str) -> Result<Self, RowError> {
        let mut back = row.rsplitn(4, ',');
        let (Some(signal), Some(security), Some(bssid), Some(head)) =
            (back.next(), back.next(), back.next(), back.next())
        else {
            return Err(RowError::FieldCount(row.split(',').count()));
        };
        let Some((channel, ssid)) = head.split_once(',') else {
            return Err(RowError::FieldCount(row.split(',').count()));
        };
        let channel_t = trim_field(channel);
        let signal_t = trim_field(signal);
        Ok(Self {
            channel: small_number(channel_t).ok_or_else(|| RowError::Channel(preview(channel_t)))?,
            ssid: ssid.to_string(),
            bssid: Mac::parse(trim_field(bssid))?,
            security: Security::parse(trim_field(security)),
            signal: small_number(signal_t).ok_or_else(|| RowError::Signal(preview(signal_t)))?,
        })
    }

    /// The table row: `Ch,SSID,BSSID,Security,Indicator`.
    pub fn to_row(&self) -> String {
        format!(
            "{},{},{},{},{}",
            self.channel,
            self.ssid,
            self.bssid.to_colon_string(),
            self.security,
            self.signal
        )
    }
}

fn small_number(s: &str) -> Option<u8> {
    if crate::hf::text::all_digits(s) {
        s.parse().ok()
    } else {
        None
    }
}

/// Decodes an `AT+WSCAN` reply: either the whole datagram (`+ok=\r\n<table>\r\n\r\n`, or
/// `+ERR=…`) or the table alone (header optional). A bare `+ok` is an empty list.
pub fn parse_wscan(reply: &[u8]) -> Result<Vec<ScanEntry>, WscanError> {
    let text = text(reply);
    let start = text.trim_start_matches(|c: char| c == '\0' || c.is_ascii_whitespace());
    let table = if strip_prefix_ci(start, "+").is_some() {
        match AtReply::parse(reply)? {
            AtReply::Ok(value) => value.unwrap_or_default(),
            AtReply::Err(e) => return Err(WscanError::Device(e)),
        }
    } else {
        start.to_string()
    };
    let mut out = Vec::new();
    let rows = lines(&table).map(|l| l.trim_matches('\0')).filter(|l| !trim_field(l).is_empty());
    for (i, row) in rows.enumerate() {
        let line = i + 1;
        let trimmed = trim_field(row);
        if trimmed.eq_ignore_ascii_case(WSCAN_HEADER) || trimmed.eq_ignore_ascii_case("+ok") {
            continue;
        }
        if strip_prefix_ci(trimmed, "RSSI,").is_some() {
            return Err(WscanError::UnsupportedHeader(preview(trimmed)));
        }
        out.push(ScanEntry::parse_row(row).map_err(|error| WscanError::Row { line, error })?);
    }
    Ok(out)
}

/// The reply datagram an emulator sends for `AT+WSCAN`:
/// `+ok=\r\nCh,SSID,BSSID,Security,Indicator\r\n<row>\r\n…<row>\r\n\r\n`.
pub fn encode_wscan_reply(entries: &[ScanEntry]) -> String {
    let mut value = format!("\r\n{WSCAN_HEADER}");
    for e in entries {
        value.push_str("\r\n");
        value.push_str(&e.to_row());
    }
    AtReply::Ok(Some(value)).to_wire()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Found by the `hf_wscan` fuzz target: whitespace before an empty encryption part
    /// (`S\t\t/`) survived the first parse but not the print-and-parse-again.
    #[test]
    fn security_parts_are_trimmed_so_rows_print_back_to_themselves() {
        let e = ScanEntry::parse_row("6,H,02:35:CD:DD:73:47,S\t\t\t\t/,127").unwrap();
        assert_eq!(e.security, Security { auth: "S".into(), encryption: String::new() });
        assert_eq!(ScanEntry::parse_row(&e.to_row()), Ok(e));
        assert_eq!(Security::parse(" WPA2PSK / AES "), Security::parse("WPA2PSK/AES"));
    }

    fn zjsw() -> ScanEntry {
        ScanEntry {
            channel: 1,
            ssid: "ZJSW".into(),
            bssid: Mac([0x3C, 0xE5, 0xA6, 0x61, 0xB4, 0x41]),
            security: Security { auth: "OPEN".into(), encryption: "NONE".into() },
            signal: 74,
        }
    }

    #[test]
    fn example_of_3_4() {
        let wire =
            "+ok=\r\nCh,SSID,BSSID,Security,Indicator\r\n1,ZJSW,3C:E5:A6:61:B4:41,OPEN/NONE,74\r\n\r\n";
        assert_eq!(parse_wscan(wire.as_bytes()).unwrap(), vec![zjsw()]);
        assert_eq!(encode_wscan_reply(&[zjsw()]), wire);
        assert_eq!(zjsw().to_row(), "1,ZJSW,3C:E5:A6:61:B4:41,OPEN/NONE,74");
        assert_eq!(encode_wscan_reply(&[]), "+ok=\r\nCh,SSID,BSSID,Security,Indicator\r\n\r\n");
        assert_eq!(parse_wscan(encode_wscan_reply(&[]).as_bytes()).unwrap(), vec![]);
    }

    #[test]
    fn ssids_with_commas_and_other_framings() {
        let wire = "+ok=\rCh,SSID,BSSID,Security,Indicator\r\
                    6,Home, sweet, home,00:11:22:33:44:55,WPA2PSK/AES,100\r\
                    11,,aa:bb:cc:dd:ee:ff,WPAPSKWPA2PSK/TKIPAES,0\r\
                    13, spaced ,001122334455,WEP,5\r\r";
        let got = parse_wscan(wire.as_bytes()).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].ssid, "Home, sweet, home");
        assert_eq!(got[0].security, Security { auth: "WPA2PSK".into(), encryption: "AES".into() });
        assert_eq!((got[0].channel, got[0].signal), (6, 100));
        assert_eq!(got[1].ssid, "");
        assert_eq!(got[1].bssid.to_colon_string(), "AA:BB:CC:DD:EE:FF");
        assert_eq!(got[1].security.encryption, "TKIPAES");
        assert_eq!(got[2].ssid, " spaced ");
        assert_eq!(got[2].security, Security { auth: "WEP".into(), encryption: String::new() });
        assert_eq!(got[2].security.to_string(), "WEP");
        // "\n" (ZG firmwares) and "\n\r" + trailing "+ok" (Deye test)
        let nl = "+ok=\nCh,SSID,BSSID,Security,Indicator\n1,ZJSW,3C:E5:A6:61:B4:41,OPEN/NONE,74\n\n";
        assert_eq!(parse_wscan(nl.as_bytes()).unwrap(), vec![zjsw()]);
        let deye = "+ok=\n\rCh,SSID,BSSID,Security,Indicator\n\r1,ZJSW,3C:E5:A6:61:B4:41,OPEN/NONE,74\n\r\n\r+ok\r\n\r\n";
        assert_eq!(parse_wscan(deye.as_bytes()).unwrap(), vec![zjsw()]);
        // the table alone, with or without header
        assert_eq!(parse_wscan(b"1,ZJSW,3C:E5:A6:61:B4:41,OPEN/NONE,74").unwrap(), vec![zjsw()]);
        assert_eq!(parse_wscan(b"").unwrap(), vec![]);
        assert_eq!(parse_wscan(b"+ok\r\n\r\n").unwrap(), vec![]);
    }

    #[test]
    fn errors() {
        assert_eq!(parse_wscan(b"+ERR=-5\r\n\r\n"), Err(WscanError::Device(HfError::NotPermitted)));
        assert_eq!(
            parse_wscan(b"+ERR=-5\r\n\r\n").unwrap_err().to_string(),
            "AT+WSCAN failed: +ERR=-5 (operation not permitted)"
        );
        assert!(matches!(parse_wscan(b"+ERR=\r\n"), Err(WscanError::Reply(ReplyError::Truncated(_)))));
        assert!(matches!(parse_wscan(b"+okay"), Err(WscanError::Reply(ReplyError::Garbage(_)))));
        let alt = "+ok=\r\nRSSI,SSID,BSSID,Channel,Encryption,Authentication\r\n-70,x,00:11:22:33:44:55,6,AES,WPA2PSK\r\n\r\n";
        assert!(matches!(parse_wscan(alt.as_bytes()), Err(WscanError::UnsupportedHeader(_))));
        let short = "+ok=\r\nCh,SSID,BSSID,Security,Indicator\r\n1,ZJSW,OPEN/NONE,74\r\n\r\n";
        assert_eq!(
            parse_wscan(short.as_bytes()).unwrap_err().to_string(),
            "AT+WSCAN table line 2: 4 fields, expected at least 5 (Ch,SSID,BSSID,Security,Indicator)"
        );
        let row = |r: &str| ScanEntry::parse_row(r).unwrap_err();
        assert!(matches!(row("x,ZJSW,3C:E5:A6:61:B4:41,OPEN/NONE,74"), RowError::Channel(_)));
        assert!(matches!(row("256,ZJSW,3C:E5:A6:61:B4:41,OPEN/NONE,74"), RowError::Channel(_)));
        assert!(matches!(row("1,ZJSW,3C:E5:A6:61:B4,OPEN/NONE,74"), RowError::Bssid(_)));
        assert!(matches!(row("1,ZJSW,3C:E5:A6:61:B4:41,OPEN/NONE,-70"), RowError::Signal(_)));
        assert!(matches!(row("1,ZJSW,3C:E5:A6:61:B4:41,OPEN/NONE,"), RowError::Signal(_)));
        assert_eq!(row("a,b,c,d"), RowError::FieldCount(4));
        assert_eq!(row(""), RowError::FieldCount(1));
    }

    fn entry() -> impl Strategy<Value = ScanEntry> {
        (any::<u8>(), "[^\r\n]{0,32}", any::<[u8; 6]>(), "[A-Z0-9]{0,14}", "[A-Z0-9/]{0,10}", any::<u8>())
            .prop_map(|(channel, ssid, mac, auth, encryption, signal)| ScanEntry {
                channel,
                ssid,
                bssid: Mac(mac),
                security: if encryption.is_empty() {
                    Security { auth: auth.replace('/', ""), encryption }
                } else {
                    Security { auth, encryption }
                },
                signal,
            })
    }

    proptest! {
        #[test]
        fn round_trip(entries in proptest::collection::vec(entry(), 0..6), with_commas in proptest::collection::vec("[^\r\n]{0,8},[^\r\n]{0,8}", 0..3)) {
            let mut entries = entries;
            for (e, ssid) in entries.iter_mut().zip(with_commas) {
                e.ssid = ssid;
            }
            let wire = encode_wscan_reply(&entries);
            prop_assert_eq!(parse_wscan(wire.as_bytes()).unwrap(), entries.clone());
            for e in &entries {
                prop_assert_eq!(&ScanEntry::parse_row(&e.to_row()).unwrap(), e);
            }
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..160)) {
            let _ = parse_wscan(&bytes);
        }

        #[test]
        fn never_panics_near_valid(s in "(\\+ok=\r\n)?([0-9a-fA-F:,/ \r\n\0é]{0,30}\r\n){0,4}") {
            let _ = parse_wscan(s.as_bytes());
        }
    }
}
