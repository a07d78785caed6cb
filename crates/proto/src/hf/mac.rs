//! MAC addresses as the Hi-Flying firmware writes them: 12 upper-case hex digits without
//! separators (`ACCF23484D70`, discovery replies, `AT+WSMAC`) or colon-separated
//! (`3C:E5:A6:61:B4:41`, `AT+WSCAN` BSSIDs).

use std::fmt;
use std::str::FromStr;

/// A 48-bit MAC address.
///
/// [`Display`](fmt::Display) gives the 12-digit upper-case form used in discovery replies;
/// [`Mac::to_colon_string`] the `AA:BB:…` form used in `AT+WSCAN` tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac(pub [u8; 6]);

/// A string that is not a MAC address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MAC address {0:?}: expected 12 hex digits, optionally separated by ':' or '-'")]
pub struct MacError(pub String);

impl Mac {
    /// The six octets.
    pub fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// Parses `ACCF23484D70`, `accf23484d70`, `AC:CF:23:48:4D:70` or `ac-cf-23-48-4d-70`.
    ///
    /// Lower case and separators are accepted although the firmware is only seen sending
    /// upper case (lenient decoding); encoders always write upper case.
    pub fn parse(s: &str) -> Result<Self, MacError> {
        let bad = || MacError(crate::hf::text::preview(s));
        let b = s.as_bytes();
        let mut out = [0u8; 6];
        match b.len() {
            12 => {
                for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
                    *o = hex_pair(pair).ok_or_else(bad)?;
                }
            }
            17 => {
                let sep = b.get(2).copied().ok_or_else(bad)?;
                if sep != b':' && sep != b'-' {
                    return Err(bad());
                }
                for (i, (o, group)) in out.iter_mut().zip(b.chunks(3)).enumerate() {
                    let (pair, rest) = group.split_at(group.len().min(2));
                    let sep_ok = if i < 5 { rest == [sep] } else { rest.is_empty() };
                    if !sep_ok {
                        return Err(bad());
                    }
                    *o = hex_pair(pair).ok_or_else(bad)?;
                }
            }
            _ => return Err(bad()),
        }
        Ok(Self(out))
    }

    /// `AC:CF:23:48:4D:70`.
    pub fn to_colon_string(&self) -> String {
        let [a, b, c, d, e, f] = self.0;
        format!("{a:02X}:{b:02X}:{c:02X}:{d:02X}:{e:02X}:{f:02X}")
    }
}

impl fmt::Display for Mac {
    /// `ACCF23484D70`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|o| write!(f, "{o:02X}"))
    }
}

impl FromStr for Mac {
    type Err = MacError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for Mac {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

fn hex_pair(pair: &[u8]) -> Option<u8> {
    match pair {
        [hi, lo] => Some((hex_val(*hi)? << 4) | hex_val(*lo)?),
        _ => None,
    }
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const M: Mac = Mac([0xAC, 0xCF, 0x23, 0x48, 0x4D, 0x70]);

    #[test]
    fn forms() {
        assert_eq!(Mac::parse("ACCF23484D70").unwrap(), M);
        assert_eq!(Mac::parse("accf23484d70").unwrap(), M);
        assert_eq!(Mac::parse("AC:CF:23:48:4D:70").unwrap(), M);
        assert_eq!(Mac::parse("ac-cf-23-48-4d-70").unwrap(), M);
        assert_eq!(M.to_string(), "ACCF23484D70");
        assert_eq!(M.to_colon_string(), "AC:CF:23:48:4D:70");
        assert_eq!(serde_json::to_string(&M).unwrap(), "\"ACCF23484D70\"");
    }

    #[test]
    fn rejects() {
        for s in [
            "",
            "ACCF23484D7",
            "ACCF23484D700",
            "ACCF23484D7G",
            "AC:CF:23-48:4D:70",
            "AC:CF:23:48:4D:7:0",
            "ACC:F23:484:D70:0",
            "AC.CF.23.48.4D.70",
            "+CCF23484D70",
            "ÄCF23484D70",
        ] {
            let e = Mac::parse(s).unwrap_err();
            assert!(e.to_string().contains("12 hex digits"), "{s}: {e}");
        }
    }

    proptest! {
        #[test]
        fn round_trips(bytes: [u8; 6]) {
            let m = Mac(bytes);
            prop_assert_eq!(Mac::parse(&m.to_string()).unwrap(), m);
            prop_assert_eq!(Mac::parse(&m.to_colon_string()).unwrap(), m);
        }

        #[test]
        fn never_panics(s in "\\PC{0,20}") {
            let _ = Mac::parse(&s);
        }
    }
}
