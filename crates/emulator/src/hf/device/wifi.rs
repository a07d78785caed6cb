//! The plug's Wi-Fi settings (what `AT+WSSSID`, `AT+WSKEY`, `AT+WMODE`, `AT+WANN`, … store)
//! and the association decision taken at boot (hf-protocol.md §3.3).

use std::{fmt, net::Ipv4Addr};

use plugctl_proto::hf::assist::{Auth, Encryption, WMode, WsKey};

use crate::hf::config::SimNetwork;

/// Factory `AT+UART` value.
pub(crate) const FACTORY_UART: &str = "115200,8,1,None,NFC";

/// Factory `AT+NDBGL` value.
pub(crate) const FACTORY_NDBGL: &str = "0,0";

/// Where the plug is on the (simulated) network after its last boot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Link {
    /// Access point only, on the AP address (unprovisioned, or the join failed \[G\]).
    Ap,
    /// Joined to a simulated network, on the home address.
    Station {
        /// The network joined.
        ssid: String,
    },
    /// `WMODE=APSTA` and joined: on both addresses.
    Both {
        /// The network joined.
        ssid: String,
    },
}

impl Link {
    /// The joined network, if any.
    pub fn ssid(&self) -> Option<&str> {
        match self {
            Self::Ap => None,
            Self::Station { ssid } | Self::Both { ssid } => Some(ssid),
        }
    }

    /// Whether the AP address is served.
    pub fn has_ap(&self) -> bool {
        matches!(self, Self::Ap | Self::Both { .. })
    }

    /// Whether the home address is served.
    pub fn has_station(&self) -> bool {
        !matches!(self, Self::Ap)
    }
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ap => f.write_str("AP"),
            Self::Station { ssid } => write!(f, "STA on {ssid:?}"),
            Self::Both { ssid } => write!(f, "AP+STA on {ssid:?}"),
        }
    }
}

/// `AT+WANN`: how the station interface gets its address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Wann {
    /// `DHCP` (the plug reports its home address).
    Dhcp,
    /// `STATIC,<ip>,<mask>,<gateway>` (stored and reported; the emulator keeps serving the
    /// configured home address \[G\]).
    Static([Ipv4Addr; 3]),
}

impl Wann {
    /// Parses `DHCP` or `static,<ip>,<mask>,<gw>` (keywords in any case).
    pub(crate) fn parse(arg: &str) -> Option<Self> {
        let fields: Vec<&str> = arg.split(',').map(str::trim).collect();
        match fields.as_slice() {
            [mode] if mode.eq_ignore_ascii_case("DHCP") => Some(Self::Dhcp),
            [mode, ip, mask, gw] if mode.eq_ignore_ascii_case("STATIC") => {
                Some(Self::Static([ip.parse().ok()?, mask.parse().ok()?, gw.parse().ok()?]))
            }
            _ => None,
        }
    }
}

/// The settings a factory reset restores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WifiSettings {
    pub(crate) wmode: WMode,
    pub(crate) ssid: String,
    pub(crate) key: WsKey,
    pub(crate) wann: Wann,
    pub(crate) uart: String,
    pub(crate) ndbgl: String,
    pub(crate) tcpto_s: u32,
}

impl WifiSettings {
    /// Factory settings: AP mode, no SSID, `OPEN,NONE` \[G\].
    pub(crate) fn factory(tcpto_s: u32) -> Self {
        Self {
            wmode: WMode::Ap,
            ssid: String::new(),
            key: open(),
            wann: Wann::Dhcp,
            uart: FACTORY_UART.into(),
            ndbgl: FACTORY_NDBGL.into(),
            tcpto_s,
        }
    }

    /// Provisioned for `net` in STA mode.
    pub(crate) fn joined(net: &SimNetwork, tcpto_s: u32) -> Self {
        Self {
            wmode: WMode::Sta,
            ssid: net.ssid.clone(),
            key: net.security.clone(),
            ..Self::factory(tcpto_s)
        }
    }

    /// What the plug ends up as when it boots with these settings among `networks`: it joins
    /// only a network with the stored SSID that accepts the stored key; otherwise it falls
    /// back to AP mode (a real plug would be unreachable on the home LAN) \[G\].
    pub(crate) fn link_after_boot(&self, networks: &[SimNetwork]) -> Link {
        if self.wmode == WMode::Ap {
            return Link::Ap;
        }
        let joined = networks.iter().find(|n| n.ssid == self.ssid && n.accepts(&self.key));
        match (joined, self.wmode) {
            (Some(n), WMode::ApSta) => Link::Both { ssid: n.ssid.clone() },
            (Some(n), _) => Link::Station { ssid: n.ssid.clone() },
            (None, _) => Link::Ap,
        }
    }
}

/// `OPEN,NONE`.
fn open() -> WsKey {
    WsKey::new(Auth::Open, Encryption::None, "").expect("OPEN,NONE without key is valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hf::config::default_networks;

    #[test]
    fn join_needs_ssid_and_key() {
        let nets = default_networks();
        let mut w = WifiSettings::factory(300);
        assert_eq!(w.link_after_boot(&nets), Link::Ap);
        w.wmode = WMode::Sta;
        assert_eq!(w.link_after_boot(&nets), Link::Ap, "no SSID");
        w.ssid = "HomeNet".into();
        assert_eq!(w.link_after_boot(&nets), Link::Ap, "open key on a WPA2 network");
        w.key = WsKey::parse("WPA2PSK,AES,correct horse battery").unwrap();
        assert_eq!(w.link_after_boot(&nets), Link::Station { ssid: "HomeNet".into() });
        w.wmode = WMode::ApSta;
        assert!(w.link_after_boot(&nets).has_ap());
        w.ssid = "Elsewhere".into();
        assert_eq!(w.link_after_boot(&nets), Link::Ap);
        assert_eq!(WifiSettings::joined(&nets[0], 300).link_after_boot(&nets).ssid(), Some("HomeNet"));
    }

    #[test]
    fn wann_values() {
        assert_eq!(Wann::parse("dhcp"), Some(Wann::Dhcp));
        assert!(matches!(Wann::parse("static,192.168.1.9,255.255.255.0,192.168.1.1"), Some(Wann::Static(_))));
        assert_eq!(Wann::parse("static,1.2.3"), None);
        assert_eq!(Wann::parse("static,a,b,c"), None);
        assert_eq!(Wann::parse(""), None);
    }
}
