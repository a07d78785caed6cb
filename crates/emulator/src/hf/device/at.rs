//! The assist AT command table (hf-protocol.md §3.3, §3.4, §5.3).
//!
//! | Verb | Query | Set |
//! |---|---|---|
//! | `WSCAN` | the simulated networks | `-5` |
//! | `WSSSID` | stored SSID | 1–32 bytes, else `-4` |
//! | `WSKEY` | `AUTH,ENCRY,key` | validated by [`WsKey::parse`], else `-4` |
//! | `WMODE` | `AP`/`STA`/`APSTA` | same, else `-4` |
//! | `WANN` | `DHCP,ip,mask,gw` / `STATIC,…` | `DHCP` or `static,ip,mask,gw`, else `-4` |
//! | `WSLK` | `SSID(BSSID)` or `Disconnected` | `-5` |
//! | `WSMAC`, `MID`, `VER`, `WAP`, `WAKEY` | identity | `-5` |
//! | `NETP` | `TCP,Server,<port>,<ip>` | `-5` (the Reco firmware depends on it \[G\]) |
//! | `UART`, `TCPTO`, `NDBGL` | stored value | simple validation, else `-4` |
//! | `WEBU` | `user,password` | `user,password`, else `-4` |
//! | `ASWD` | the assist password | new password, else `-4` |
//! | `ENTM` | `+ok` | `-4` |
//! | `Q` | `+ok`, ends the session | `-4` |
//! | `Z` | no reply, reboot | `-4` |
//! | `RELD` | `+ok=rebooting...`, factory reset and reboot | `-4` |
//!
//! Unknown verbs get `-2`; `AT+X=` on a read-only verb gets `-5` \[G\].

use std::net::Ipv4Addr;

use plugctl_proto::hf::assist::{encode_wscan_reply, validate_ssid, AtReply, HfError, WMode, WsKey};

use super::{
    wifi::{Wann, WifiSettings},
    Link, PlugState,
};
use crate::hf::config::check_text;

/// Longest `TCPTO` value the HF firmware accepts, seconds.
const MAX_TCPTO_S: u32 = 600;

/// What an AT command does besides its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Nothing.
    None,
    /// `AT+Q`: the peer's session ends.
    EndSession,
    /// `AT+Z` / `AT+RELD`: the plug reboots after the reply (if any).
    Reboot,
}

/// A reply datagram (`None` = silence) and its effect.
pub(crate) type AtOutcome = (Option<String>, Effect);

fn ok(value: Option<String>) -> AtOutcome {
    (Some(AtReply::Ok(value).to_wire()), Effect::None)
}

fn err(e: HfError) -> AtOutcome {
    (Some(AtReply::Err(e).to_wire()), Effect::None)
}

fn value(v: impl Into<String>) -> AtOutcome {
    ok(Some(v.into()))
}

impl PlugState {
    /// Runs one assist AT command received on `local_ip`.
    pub(crate) fn at_command(&mut self, verb: &str, arg: Option<&str>, local_ip: Ipv4Addr) -> AtOutcome {
        match (verb, arg) {
            ("WSCAN", None) => {
                let entries: Vec<_> = self.cfg.networks.iter().map(|n| n.scan_entry()).collect();
                (Some(encode_wscan_reply(&entries)), Effect::None)
            }
            ("WSSSID", None) => value(self.wifi.ssid.clone()),
            ("WSSSID", Some(ssid)) => match validate_ssid(ssid) {
                Ok(()) => {
                    self.wifi.ssid = ssid.to_string();
                    ok(None)
                }
                Err(e) => err(e.hf_error()),
            },
            ("WSKEY", None) => value(self.wifi.key.to_value()),
            ("WSKEY", Some(k)) => match WsKey::parse(k) {
                Ok(key) => {
                    self.wifi.key = key;
                    ok(None)
                }
                Err(e) => err(e.hf_error()),
            },
            ("WMODE", None) => value(self.wifi.wmode.as_str()),
            ("WMODE", Some(m)) => match m.parse::<WMode>() {
                Ok(mode) => {
                    self.wifi.wmode = mode;
                    ok(None)
                }
                Err(e) => err(e.hf_error()),
            },
            ("WANN", None) => value(self.wann_value()),
            ("WANN", Some(a)) => match Wann::parse(a) {
                Some(w) => {
                    self.wifi.wann = w;
                    ok(None)
                }
                None => err(HfError::InvalidParameter),
            },
            ("WSLK", None) => value(self.wslk_value()),
            ("WSMAC", None) => value(self.cfg.mac.to_string()),
            ("MID", None) => value(self.cfg.module_id.clone()),
            ("VER", None) => value(self.cfg.version.clone()),
            ("WAP", None) => value(format!("11BGN,Reco{},CH1", self.cfg.serial)),
            ("WAKEY", None) => value(format!("WPA2PSK,AES,{}", self.label_key)),
            ("NETP", None) => value(format!("TCP,Server,{},{local_ip}", self.control_port)),
            ("UART", None) => value(self.wifi.uart.clone()),
            ("UART", Some(u)) => self.set_if(valid_uart(u), |s| s.wifi.uart = u.trim().to_string()),
            ("TCPTO", None) => value(self.wifi.tcpto_s.to_string()),
            ("TCPTO", Some(t)) => match small_number(t).filter(|n| *n <= MAX_TCPTO_S) {
                Some(n) => {
                    self.wifi.tcpto_s = n;
                    ok(None)
                }
                None => err(HfError::InvalidParameter),
            },
            ("NDBGL", None) => value(self.wifi.ndbgl.clone()),
            ("NDBGL", Some(d)) => self.set_if(valid_ndbgl(d), |s| s.wifi.ndbgl = d.trim().to_string()),
            ("WEBU", None) => value(format!("{},{}", self.web_user, self.web_password)),
            ("WEBU", Some(a)) => match a.split_once(',') {
                Some((u, p))
                    if check_text("web user", u, 15, false).is_ok()
                        && check_text("web password", p, 15, false).is_ok() =>
                {
                    self.web_user = u.to_string();
                    self.web_password = p.to_string();
                    ok(None)
                }
                _ => err(HfError::InvalidParameter),
            },
            ("ASWD", None) => value(self.assist_password.clone()),
            ("ASWD", Some(p)) => self.set_if(check_text("assist password", p, 20, false).is_ok(), |s| {
                s.assist_password = p.into()
            }),
            ("ENTM", None) => ok(None),
            ("Q", None) => (Some(AtReply::Ok(None).to_wire()), Effect::EndSession),
            ("Z", None) => (None, Effect::Reboot),
            ("RELD", None) => {
                self.factory_reset();
                (Some(AtReply::Ok(Some("rebooting...".into())).to_wire()), Effect::Reboot)
            }
            ("ENTM" | "Q" | "Z" | "RELD", Some(_)) => err(HfError::InvalidParameter),
            ("WSCAN" | "WSLK" | "WSMAC" | "MID" | "VER" | "WAP" | "WAKEY" | "NETP", Some(_)) => {
                err(HfError::NotPermitted)
            }
            _ => err(HfError::InvalidCommand),
        }
    }

    fn set_if(&mut self, valid: bool, apply: impl FnOnce(&mut Self)) -> AtOutcome {
        if valid {
            apply(self);
            ok(None)
        } else {
            err(HfError::InvalidParameter)
        }
    }

    fn wann_value(&self) -> String {
        match (&self.wifi.wann, &self.link) {
            (Wann::Static([ip, mask, gw]), _) => format!("STATIC,{ip},{mask},{gw}"),
            (Wann::Dhcp, Link::Ap) => "DHCP,0.0.0.0,0.0.0.0,0.0.0.0".into(),
            (Wann::Dhcp, _) => format!("DHCP,{},255.0.0.0,127.0.0.1", self.cfg.home_ip),
        }
    }

    fn wslk_value(&self) -> String {
        match self.link.ssid().and_then(|ssid| self.cfg.networks.iter().find(|n| n.ssid == ssid)) {
            Some(n) => format!("{}({})", n.ssid, n.bssid.to_colon_string()),
            None => "Disconnected".into(),
        }
    }

    /// `AT+RELD`: Wi-Fi, web and assist settings back to the configured defaults (relays,
    /// energy and identity are kept).
    pub(crate) fn factory_reset(&mut self) {
        self.wifi = WifiSettings::factory(tcpto_secs(&self.cfg));
        self.assist_password = self.cfg.assist_password.clone();
        self.web_user = self.cfg.web_user.clone();
        self.web_password = self.cfg.web_password.clone();
    }
}

/// The configured idle timeout in whole seconds, as `AT+TCPTO` reports it.
pub(crate) fn tcpto_secs(cfg: &crate::hf::config::PlugConfig) -> u32 {
    u32::try_from(cfg.tcp_timeout.as_secs()).unwrap_or(u32::MAX)
}

fn small_number(s: &str) -> Option<u32> {
    let t = s.trim();
    if !t.is_empty() && t.len() <= 6 && t.bytes().all(|b| b.is_ascii_digit()) {
        t.parse().ok()
    } else {
        None
    }
}

/// `<baud>,<data>,<stop>,<parity>[,<flow>]` with numeric baud/data/stop.
fn valid_uart(u: &str) -> bool {
    let f: Vec<&str> = u.split(',').map(str::trim).collect();
    (4..=5).contains(&f.len())
        && f.iter().take(3).all(|x| small_number(x).is_some())
        && f.iter().skip(3).all(|x| !x.is_empty() && x.bytes().all(|b| b.is_ascii_alphabetic()))
}

/// `<level>[,<uart>]`, numeric.
fn valid_ndbgl(d: &str) -> bool {
    let f: Vec<&str> = d.split(',').collect();
    (1..=2).contains(&f.len()) && f.iter().all(|x| small_number(x).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validators() {
        assert!(valid_uart("115200,8,1,None,NFC"));
        assert!(valid_uart("9600,8,1,EVEN"));
        assert!(!valid_uart("fast,8,1,None"));
        assert!(!valid_uart("9600"));
        assert!(valid_ndbgl("2,0"));
        assert!(!valid_ndbgl("x"));
        assert_eq!(small_number(" 300 "), Some(300));
        assert_eq!(small_number("-1"), None);
    }
}
