//! Wi-Fi provisioning values of the assist channel (hf-protocol.md §3.3): `AT+WSSSID`,
//! `AT+WSKEY=<auth>,<encry>,<key>`, `AT+WMODE=AP|STA|APSTA`.
//!
//! `WSKEY` rules: auth `OPEN|SHARED|WPAPSK|WPA2PSK`; encryption `NONE` (OPEN only),
//! `WEP-H` (10 or 26 hex digits) / `WEP-A` (5 or 13 ASCII characters) with OPEN or SHARED,
//! `TKIP|AES` with WPAPSK/WPA2PSK (key 8–63 printable ASCII characters, or 64 hex digits).
//! Keywords are matched ignoring case (clients send `wpa2psk,aes`) and written upper case.

use std::fmt;
use std::str::FromStr;

use crate::hf::assist::at::{AtRequest, HfError};
use crate::hf::text::{preview, trim_field};

/// Longest SSID, in bytes (IEEE 802.11).
pub const MAX_SSID_LEN: usize = 32;

/// A Wi-Fi setting that is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WifiError {
    /// An empty SSID.
    #[error("SSID is empty")]
    SsidEmpty,
    /// An SSID over 32 bytes.
    #[error("SSID is {0} bytes long, the maximum is 32")]
    SsidTooLong(usize),
    /// An SSID with CR, LF or NUL, which would end the AT command.
    #[error("SSID contains CR, LF or NUL")]
    SsidControl,
    /// Not `AP`, `STA` or `APSTA`.
    #[error("unknown WMODE {0:?} (expected AP, STA or APSTA)")]
    UnknownWMode(String),
    /// Fewer than two `WSKEY` fields.
    #[error("WSKEY needs <auth>,<encryption>[,<key>], got {0} field(s)")]
    WsKeyFieldCount(usize),
    /// An unknown authentication keyword.
    #[error("unknown WSKEY auth {0:?} (expected OPEN, SHARED, WPAPSK or WPA2PSK)")]
    UnknownAuth(String),
    /// An unknown encryption keyword.
    #[error("unknown WSKEY encryption {0:?} (expected NONE, WEP-H, WEP-A, TKIP or AES)")]
    UnknownEncryption(String),
    /// An encryption the authentication mode does not allow.
    #[error("encryption {encryption} cannot be used with auth {auth}")]
    Combination {
        /// The authentication mode.
        auth: Auth,
        /// The encryption.
        encryption: Encryption,
    },
    /// A key for an `OPEN,NONE` network.
    #[error("an OPEN,NONE network takes no key")]
    KeyNotAllowed,
    /// A key of the wrong length.
    #[error("a key for {encryption} must be {expected}, got {len} characters")]
    KeyLength {
        /// The encryption.
        encryption: Encryption,
        /// What is accepted, for the message.
        expected: &'static str,
        /// The key's length.
        len: usize,
    },
    /// A key that must be hexadecimal and is not.
    #[error("a {len}-character key for {encryption} must be hexadecimal")]
    KeyNotHex {
        /// The encryption.
        encryption: Encryption,
        /// The key's length.
        len: usize,
    },
    /// A key with characters outside printable ASCII.
    #[error("the key contains characters outside printable ASCII")]
    KeyNotPrintable,
}

impl WifiError {
    /// The error an HF module answers for this setting: `+ERR=-4` (invalid parameter).
    pub fn hf_error(&self) -> HfError {
        HfError::InvalidParameter
    }
}

/// Checks an SSID for `AT+WSSSID`: 1 to 32 bytes, no CR/LF/NUL. Commas and spaces are fine.
pub fn validate_ssid(ssid: &str) -> Result<(), WifiError> {
    if ssid.is_empty() {
        Err(WifiError::SsidEmpty)
    } else if ssid.len() > MAX_SSID_LEN {
        Err(WifiError::SsidTooLong(ssid.len()))
    } else if ssid.contains(['\r', '\n', '\0']) {
        Err(WifiError::SsidControl)
    } else {
        Ok(())
    }
}

/// The Wi-Fi mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WMode {
    /// Access point only (the unprovisioned plug).
    Ap,
    /// Station: join the configured network.
    Sta,
    /// Both.
    ApSta,
}

impl FromStr for WMode {
    type Err = WifiError;

    /// `AP`, `STA`, `APSTA`, ignoring case and surrounding spaces.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = trim_field(s);
        [Self::Ap, Self::Sta, Self::ApSta]
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| WifiError::UnknownWMode(preview(s)))
    }
}

impl WMode {
    /// `AP`, `STA` or `APSTA`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ap => "AP",
            Self::Sta => "STA",
            Self::ApSta => "APSTA",
        }
    }
}

impl fmt::Display for WMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `WSKEY` authentication mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Auth {
    /// `OPEN`.
    Open,
    /// `SHARED` (WEP shared key).
    Shared,
    /// `WPAPSK`.
    WpaPsk,
    /// `WPA2PSK`.
    Wpa2Psk,
}

impl Auth {
    /// The wire keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "OPEN",
            Self::Shared => "SHARED",
            Self::WpaPsk => "WPAPSK",
            Self::Wpa2Psk => "WPA2PSK",
        }
    }
}

impl FromStr for Auth {
    type Err = WifiError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = trim_field(s);
        [Self::Open, Self::Shared, Self::WpaPsk, Self::Wpa2Psk]
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| WifiError::UnknownAuth(preview(s)))
    }
}

impl fmt::Display for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `WSKEY` encryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encryption {
    /// `NONE`.
    None,
    /// `WEP-H`: WEP with a hex key.
    WepHex,
    /// `WEP-A`: WEP with an ASCII key.
    WepAscii,
    /// `TKIP`.
    Tkip,
    /// `AES`.
    Aes,
}

impl Encryption {
    /// The wire keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::WepHex => "WEP-H",
            Self::WepAscii => "WEP-A",
            Self::Tkip => "TKIP",
            Self::Aes => "AES",
        }
    }
}

impl FromStr for Encryption {
    type Err = WifiError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = trim_field(s);
        [Self::None, Self::WepHex, Self::WepAscii, Self::Tkip, Self::Aes]
            .into_iter()
            .find(|e| e.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| WifiError::UnknownEncryption(preview(s)))
    }
}

impl fmt::Display for Encryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated `WSKEY` value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WsKey {
    auth: Auth,
    encryption: Encryption,
    key: String,
}

impl WsKey {
    /// Checks the combination and the key (see the module docs).
    pub fn new(auth: Auth, encryption: Encryption, key: &str) -> Result<Self, WifiError> {
        use Encryption as E;
        let allowed = match auth {
            Auth::Open => matches!(encryption, E::None | E::WepHex | E::WepAscii),
            Auth::Shared => matches!(encryption, E::WepHex | E::WepAscii),
            Auth::WpaPsk | Auth::Wpa2Psk => matches!(encryption, E::Tkip | E::Aes),
        };
        if !allowed {
            return Err(WifiError::Combination { auth, encryption });
        }
        if encryption == E::None {
            return if key.is_empty() {
                Ok(Self { auth, encryption, key: String::new() })
            } else {
                Err(WifiError::KeyNotAllowed)
            };
        }
        if !key.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            return Err(WifiError::KeyNotPrintable);
        }
        let len = key.len();
        let hex = key.bytes().all(|b| b.is_ascii_hexdigit());
        let length_error = |expected| WifiError::KeyLength { encryption, expected, len };
        match encryption {
            E::WepHex if len != 10 && len != 26 => return Err(length_error("10 or 26 hex digits")),
            E::WepHex if !hex => return Err(WifiError::KeyNotHex { encryption, len }),
            E::WepAscii if len != 5 && len != 13 => return Err(length_error("5 or 13 characters")),
            E::Tkip | E::Aes if len == 64 && !hex => return Err(WifiError::KeyNotHex { encryption, len }),
            E::Tkip | E::Aes if !(8..=64).contains(&len) => {
                return Err(length_error("8 to 63 characters or 64 hex digits"))
            }
            _ => {}
        }
        Ok(Self { auth, encryption, key: key.to_string() })
    }

    /// Parses `<auth>,<encry>[,<key>]` (the `AT+WSKEY=` argument or `+ok=` value). The key
    /// is everything after the second comma, verbatim (it may contain commas and spaces);
    /// `OPEN,NONE` and `OPEN,NONE,` are both accepted.
    pub fn parse(value: &str) -> Result<Self, WifiError> {
        let mut it = value.splitn(3, ',');
        let auth = it.next().unwrap_or_default();
        let Some(encryption) = it.next() else {
            return Err(WifiError::WsKeyFieldCount(1));
        };
        Self::new(auth.parse()?, encryption.parse()?, it.next().unwrap_or_default())
    }

    /// The authentication mode.
    pub fn auth(&self) -> Auth {
        self.auth
    }

    /// The encryption.
    pub fn encryption(&self) -> Encryption {
        self.encryption
    }

    /// The key (empty for `OPEN,NONE`).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// `AUTH,ENCRY,key`, or `OPEN,NONE` for an open network.
    pub fn to_value(&self) -> String {
        self.to_string()
    }
}

impl fmt::Display for WsKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.encryption == Encryption::None {
            write!(f, "{},{}", self.auth, self.encryption)
        } else {
            write!(f, "{},{},{}", self.auth, self.encryption, self.key)
        }
    }
}

/// `AT+WSSSID=<ssid>`, after [`validate_ssid`].
pub fn wsssid(ssid: &str) -> Result<AtRequest, WifiError> {
    validate_ssid(ssid)?;
    Ok(AtRequest::from_parts("WSSSID", Some(ssid.to_string())))
}

/// `AT+WSKEY=<auth>,<encry>[,<key>]` (a [`WsKey`] holds printable ASCII only).
pub fn wskey(key: &WsKey) -> AtRequest {
    AtRequest::from_parts("WSKEY", Some(key.to_value()))
}

/// `AT+WMODE=<mode>`.
pub fn wmode(mode: WMode) -> AtRequest {
    AtRequest::from_parts("WMODE", Some(mode.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn provisioning_sequence_of_3_3() {
        assert_eq!(wsssid("MyNet").unwrap().encode(), "AT+WSSSID=MyNet\r");
        let key = WsKey::parse("WPA2PSK,AES,secret123").unwrap();
        assert_eq!((key.auth(), key.encryption(), key.key()), (Auth::Wpa2Psk, Encryption::Aes, "secret123"));
        assert_eq!(wskey(&key).encode(), "AT+WSKEY=WPA2PSK,AES,secret123\r");
        assert_eq!(wmode(WMode::Sta).encode(), "AT+WMODE=STA\r");
    }

    #[test]
    fn wskey_forms() {
        let open = WsKey::parse("OPEN,NONE").unwrap();
        assert_eq!(open, WsKey::parse("OPEN,NONE,").unwrap());
        assert_eq!(open.to_value(), "OPEN,NONE");
        assert_eq!(open.key(), "");
        let lower = WsKey::parse("wpa2psk,aes,secret123").unwrap();
        assert_eq!(lower.to_value(), "WPA2PSK,AES,secret123");
        // keys keep commas and spaces
        assert_eq!(WsKey::parse("WPAPSK,TKIP, a,b,c d ").unwrap().key(), " a,b,c d ");
        // 64-hex PSK
        let hex64 = "0123456789abcdef".repeat(4);
        assert!(WsKey::parse(&format!("WPA2PSK,AES,{hex64}")).is_ok());
        assert!(WsKey::parse(&format!("WPA2PSK,AES,{}", "x".repeat(63))).is_ok());
        assert!(WsKey::parse("WPA2PSK,TKIP,12345678").is_ok());
        // WEP
        assert!(WsKey::parse("OPEN,WEP-H,0123456789").is_ok());
        assert!(WsKey::parse("SHARED,WEP-H,0123456789ABCDEF0123456789").is_ok());
        assert!(WsKey::parse("OPEN,WEP-A,abcde").is_ok());
        assert!(WsKey::parse("SHARED,wep-a,abcdefghijklm").is_ok());
    }

    #[test]
    fn wskey_errors() {
        let err = |s: &str| WsKey::parse(s).unwrap_err();
        assert_eq!(err("OPEN"), WifiError::WsKeyFieldCount(1));
        assert_eq!(err(""), WifiError::WsKeyFieldCount(1));
        assert_eq!(
            err("WEP,NONE").to_string(),
            "unknown WSKEY auth \"WEP\" (expected OPEN, SHARED, WPAPSK or WPA2PSK)"
        );
        assert!(matches!(err("OPEN,CCMP,x"), WifiError::UnknownEncryption(_)));
        assert_eq!(err("OPEN,AES,secret123").to_string(), "encryption AES cannot be used with auth OPEN");
        assert!(matches!(err("SHARED,NONE"), WifiError::Combination { .. }));
        assert!(matches!(err("WPA2PSK,NONE"), WifiError::Combination { .. }));
        assert!(matches!(err("WPAPSK,WEP-H,0123456789"), WifiError::Combination { .. }));
        assert_eq!(err("OPEN,NONE,x"), WifiError::KeyNotAllowed);
        assert_eq!(
            err("WPA2PSK,AES,short").to_string(),
            "a key for AES must be 8 to 63 characters or 64 hex digits, got 5 characters"
        );
        assert!(matches!(err("WPA2PSK,AES"), WifiError::KeyLength { len: 0, .. }));
        assert!(matches!(
            err(&format!("WPA2PSK,AES,{}", "x".repeat(65))),
            WifiError::KeyLength { len: 65, .. }
        ));
        assert_eq!(
            err(&format!("WPA2PSK,AES,{}", "x".repeat(64))).to_string(),
            "a 64-character key for AES must be hexadecimal"
        );
        assert_eq!(
            err("WPA2PSK,AES,pässwörd").to_string(),
            "the key contains characters outside printable ASCII"
        );
        assert!(matches!(err("WPA2PSK,AES,pass\tword"), WifiError::KeyNotPrintable));
        assert!(matches!(err("OPEN,WEP-H,012345678"), WifiError::KeyLength { len: 9, .. }));
        assert!(matches!(err("OPEN,WEP-H,012345678g"), WifiError::KeyNotHex { len: 10, .. }));
        assert!(matches!(err("OPEN,WEP-A,abcdef"), WifiError::KeyLength { len: 6, .. }));
        assert_eq!(err("OPEN,WEP-A,abcdef").hf_error(), HfError::InvalidParameter);
    }

    #[test]
    fn wmode_and_ssid() {
        assert_eq!("AP".parse::<WMode>(), Ok(WMode::Ap));
        assert_eq!("sta".parse::<WMode>(), Ok(WMode::Sta));
        assert_eq!("ApSta".parse::<WMode>(), Ok(WMode::ApSta));
        assert_eq!(WMode::ApSta.to_string(), "APSTA");
        assert_eq!(
            "STAAP".parse::<WMode>().unwrap_err().to_string(),
            "unknown WMODE \"STAAP\" (expected AP, STA or APSTA)"
        );
        assert!(validate_ssid("My Net, 2.4 GHz").is_ok());
        assert!(validate_ssid("Café ☕").is_ok());
        assert!(validate_ssid(&"x".repeat(32)).is_ok());
        assert_eq!(validate_ssid(&"x".repeat(33)), Err(WifiError::SsidTooLong(33)));
        assert_eq!(
            validate_ssid(&"é".repeat(17)).unwrap_err().to_string(),
            "SSID is 34 bytes long, the maximum is 32"
        );
        assert_eq!(validate_ssid(""), Err(WifiError::SsidEmpty));
        assert_eq!(validate_ssid("a\rAT+Z"), Err(WifiError::SsidControl));
        assert!(wsssid("").is_err());
    }

    fn wskey_value() -> impl Strategy<Value = WsKey> {
        prop_oneof![
            Just(WsKey::new(Auth::Open, Encryption::None, "").unwrap()),
            (
                prop_oneof![Just(Auth::Open), Just(Auth::Shared)],
                prop_oneof!["[0-9a-fA-F]{10}", "[0-9a-fA-F]{26}"]
            )
                .prop_map(|(a, k)| WsKey::new(a, Encryption::WepHex, &k).unwrap()),
            (prop_oneof![Just(Auth::Open), Just(Auth::Shared)], prop_oneof!["[ -~]{5}", "[ -~]{13}"])
                .prop_map(|(a, k)| WsKey::new(a, Encryption::WepAscii, &k).unwrap()),
            (
                prop_oneof![Just(Auth::WpaPsk), Just(Auth::Wpa2Psk)],
                prop_oneof![Just(Encryption::Tkip), Just(Encryption::Aes)],
                prop_oneof!["[ -~]{8,63}", "[0-9a-fA-F]{64}"],
            )
                .prop_map(|(a, e, k)| WsKey::new(a, e, &k).unwrap()),
        ]
    }

    proptest! {
        #[test]
        fn wskey_round_trip(k in wskey_value()) {
            prop_assert_eq!(WsKey::parse(&k.to_value()).unwrap(), k.clone());
            let req = wskey(&k);
            let value = k.to_value();
            prop_assert_eq!(req.arg(), Some(value.as_str()));
        }

        #[test]
        fn never_panics(s in "\\PC{0,80}") {
            let _ = WsKey::parse(&s);
            let _ = s.parse::<WMode>();
            let _ = validate_ssid(&s);
        }

        #[test]
        fn never_panics_near_valid(s in "(?i)(open|shared|wpapsk|wpa2psk),(none|wep-h|wep-a|tkip|aes)(,[ -~é]{0,70})?") {
            let _ = WsKey::parse(&s);
        }
    }
}
