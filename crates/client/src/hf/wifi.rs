//! Wi-Fi set-up of a Hi-Flying plug in AP mode over the assist protocol on UDP 48899
//! (hf-protocol.md §3.2–§3.4).
//!
//! ```text
//! C→P  "HF-A11ASSISTHREAD"                    P→C  "10.10.100.254,ACCF23D78A6C,HF-LPB100"
//! C→P  "+ok"                                  (no reply)
//! C→P  "AT+WSCAN\r"                           P→C  "+ok=\r\nCh,SSID,BSSID,Security,Indicator\r\n…"
//! ```
//!
//! [`join`] checks SSID and key locally first (nothing is sent if they are invalid), then:
//! handshake; `AT+WMODE` (a plug already in `STA` mode is left alone); `AT+WSSSID=<ssid>`;
//! `AT+WSKEY=<auth>,<enc>,<key>`; reads both back and compares; only then `AT+WMODE=STA` and
//! `AT+Z` (reboot, no reply expected). The plug is at `10.10.100.254` on its own access point
//! (`Reco<serial>`); the caller must have joined that network.
//!
//! Each request waits `timeout` for its reply and is resent up to `retries` times (every
//! step is idempotent). A plug that never answers the password is reported as
//! [`HfFailure::AssistNoAnswer`]: a wrong assist password gets no answer at all.

use std::{
    fmt,
    net::{IpAddr, SocketAddr},
    str::FromStr,
};

use plugctl_proto::hf::{
    assist::{
        wifi::{wmode, wskey, wsssid, Auth, Encryption, WMode, WifiError, WsKey},
        wscan::{parse_wscan, ScanEntry, WscanError},
        AssistReply, AssistReplyError, AtReply, AtRequest, ASSIST_ACK,
    },
    ReplyError, MAX_DATAGRAM,
};
use tokio::net::UdpSocket;
use tracing::{debug, trace};

use super::{
    config::HfConfig,
    device::send_error,
    failure::{HfFailure, Shown},
    udp::{any_addr_for, drain, recv_until, tokio_udp},
};
use crate::error::{Error, Op, Result};
use crate::net::deadline_after;

/// The security of the network to join, as the command line names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Security {
    /// WPA2-PSK with AES (`wpa2-aes`): `AT+WSKEY=WPA2PSK,AES,<key>`. The default.
    #[default]
    Wpa2Aes,
    /// WPA-PSK with TKIP (`wpa-tkip`): `AT+WSKEY=WPAPSK,TKIP,<key>`.
    WpaTkip,
    /// An open network (`open`): `AT+WSKEY=OPEN,NONE`; takes no key.
    Open,
}

impl Security {
    /// All values, in the order the command line lists them.
    pub const ALL: [Security; 3] = [Security::Wpa2Aes, Security::WpaTkip, Security::Open];

    /// `wpa2-aes`, `wpa-tkip` or `open`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wpa2Aes => "wpa2-aes",
            Self::WpaTkip => "wpa-tkip",
            Self::Open => "open",
        }
    }

    /// The `WSKEY` authentication mode.
    pub fn auth(self) -> Auth {
        match self {
            Self::Wpa2Aes => Auth::Wpa2Psk,
            Self::WpaTkip => Auth::WpaPsk,
            Self::Open => Auth::Open,
        }
    }

    /// The `WSKEY` encryption.
    pub fn encryption(self) -> Encryption {
        match self {
            Self::Wpa2Aes => Encryption::Aes,
            Self::WpaTkip => Encryption::Tkip,
            Self::Open => Encryption::None,
        }
    }

    /// The validated `WSKEY` value for `key` (empty for none): WPA keys are 8–63 printable
    /// ASCII characters or 64 hex digits; an open network takes no key.
    pub fn wskey(self, key: &str) -> Result<WsKey, WifiError> {
        WsKey::new(self.auth(), self.encryption(), key)
    }
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A security name that is not `wpa2-aes`, `wpa-tkip` or `open`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown security {0:?} (expected wpa2-aes, wpa-tkip or open)")]
pub struct UnknownSecurity(pub String);

impl FromStr for Security {
    type Err = UnknownSecurity;

    /// `wpa2-aes`, `wpa-tkip`, `open`, ignoring ASCII case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownSecurity(s.to_string()))
    }
}

/// What [`join`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HfJoined {
    /// The module's answer to the assist password (IP, MAC, module id).
    pub module: AssistReply,
    /// The Wi-Fi mode before the change (`AP` or `APSTA`).
    pub previous_mode: WMode,
}

/// Lists the networks the plug sees: handshake, then `AT+WSCAN`.
pub async fn scan(ip: IpAddr, cfg: &HfConfig) -> Result<Vec<ScanEntry>> {
    let (mut session, module) = Assist::open(ip, cfg).await?;
    debug!(%ip, module = %module.module_id, "assist session open; scanning");
    session.wscan().await
}

/// Points the plug at a network and switches it to station mode (see the module docs).
///
/// Errors, all as [`Error::Hf`] unless noted: [`HfFailure::InvalidWifi`] for an SSID over 32
/// bytes or a key the security does not allow (before anything is sent);
/// [`HfFailure::AssistNoAnswer`] when the password gets no answer;
/// [`HfFailure::AlreadySta`]; [`HfFailure::Rejected`] when the plug answers `+ERR=<n>`;
/// [`HfFailure::ReadBackMismatch`]; [`Error::Timeout`] when a step goes unanswered.
pub async fn join(
    ip: IpAddr,
    ssid: &str,
    security: Security,
    password: Option<&str>,
    cfg: &HfConfig,
) -> Result<HfJoined> {
    let addr = SocketAddr::new(ip, cfg.udp_port);
    let invalid = |error| Error::Hf { addr, error: HfFailure::InvalidWifi(error) };
    let set_ssid = wsssid(ssid).map_err(invalid)?;
    let key = security.wskey(password.unwrap_or_default()).map_err(invalid)?;
    let set_key = wskey(&key);

    let (mut s, module) = Assist::open(ip, cfg).await?;
    let mode_query = query(addr, "WMODE")?;
    let mode_value = s.value(&mode_query).await?;
    let previous_mode: WMode =
        mode_value.parse().map_err(|e: WifiError| s.unexpected(&mode_query, e.to_string()))?;
    if previous_mode == WMode::Sta {
        return Err(Error::Hf { addr, error: HfFailure::AlreadySta });
    }

    s.request(&set_ssid).await?;
    s.request(&set_key).await?;

    let read_ssid = s.value(&query(addr, "WSSSID")?).await?;
    if read_ssid != ssid {
        return Err(mismatch(addr, "AT+WSSSID", format!("sent {ssid:?}, the plug reports {read_ssid:?}")));
    }
    let read_key = s.value(&query(addr, "WSKEY")?).await?;
    match WsKey::parse(&read_key) {
        Ok(k) if k == key => {}
        Ok(k) => {
            return Err(mismatch(
                addr,
                "AT+WSKEY",
                format!("sent {}, the plug reports {}", describe(&key), describe_vs(&k, &key)),
            ))
        }
        Err(e) => {
            return Err(mismatch(
                addr,
                "AT+WSKEY",
                format!("sent {}, the plug reports an unreadable value ({e})", describe(&key)),
            ))
        }
    }

    s.request(&wmode(WMode::Sta)).await?;
    s.send(&query(addr, "Z")?).await?;
    debug!(%ip, "AT+Z sent; the plug reboots into STA mode");
    Ok(HfJoined { module, previous_mode })
}

fn mismatch(addr: SocketAddr, setting: &'static str, detail: String) -> Error {
    Error::Hf { addr, error: HfFailure::ReadBackMismatch { setting, detail } }
}

/// `WPA2PSK,AES with an 9-character key` (never the key itself).
fn describe(k: &WsKey) -> String {
    if k.key().is_empty() {
        format!("{},{}", k.auth(), k.encryption())
    } else {
        format!("{},{} with a {}-character key", k.auth(), k.encryption(), k.key().len())
    }
}

fn describe_vs(read: &WsKey, sent: &WsKey) -> String {
    if read.auth() == sent.auth()
        && read.encryption() == sent.encryption()
        && read.key().len() == sent.key().len()
    {
        format!("{} (a different key)", describe(read))
    } else {
        describe(read)
    }
}

fn query(addr: SocketAddr, verb: &str) -> Result<AtRequest> {
    AtRequest::query(verb).map_err(|e| Error::InvalidArgument { addr, reason: e.to_string() })
}

/// An open assist session: a UDP socket connected to the plug's port.
struct Assist<'a> {
    socket: UdpSocket,
    addr: SocketAddr,
    cfg: &'a HfConfig,
    buf: Vec<u8>,
}

impl<'a> Assist<'a> {
    /// Sends the assist password until the plug answers `ip,MAC,module`, then `+ok`.
    async fn open(ip: IpAddr, cfg: &'a HfConfig) -> Result<(Self, AssistReply)> {
        let addr = SocketAddr::new(ip, cfg.udp_port);
        let socket = tokio_udp(any_addr_for(ip, 0), false, false).map_err(|error| Error::Io {
            addr,
            op: Op::Bind,
            error,
        })?;
        socket.connect(addr).await.map_err(|error| send_error(addr, error))?;
        let mut s = Self { socket, addr, cfg, buf: vec![0; MAX_DATAGRAM] };
        let mut bad: Option<AssistReplyError> = None;
        let mut module = None;
        for attempt in 0..=cfg.retries {
            if attempt > 0 {
                tokio::time::sleep(cfg.backoff_for(attempt - 1)).await;
            }
            s.send_bytes(cfg.assist_password.as_bytes()).await?;
            let deadline = deadline_after(cfg.timeout);
            while let Some(bytes) = s.recv(deadline).await? {
                match AssistReply::parse(bytes) {
                    Ok(r) => {
                        module = Some(r);
                        break;
                    }
                    Err(e) => {
                        debug!(%addr, error = %e, "not an answer to the assist password; ignored");
                        bad = Some(e);
                    }
                }
            }
            if module.is_some() {
                break;
            }
        }
        let Some(module) = module else {
            let error = match bad {
                Some(e) => HfFailure::BadAssistReply(e),
                None => HfFailure::AssistNoAnswer { after: cfg.timeout },
            };
            return Err(Error::Hf { addr, error });
        };
        trace!(%addr, ?module, "assist password accepted");
        s.send_bytes(ASSIST_ACK.as_bytes()).await?;
        // Most firmwares stay silent after "+ok", some echo it: let an echo (and any late
        // duplicate answer to a resent password) arrive and discard it, so it is not taken
        // for the answer to the first AT command.
        tokio::time::sleep(cfg.quiet).await;
        drain(&s.socket);
        Ok((s, module))
    }

    async fn send_bytes(&self, bytes: &[u8]) -> Result<()> {
        match self.socket.send(bytes).await {
            Ok(_) => Ok(()),
            Err(error) => Err(send_error(self.addr, error)),
        }
    }

    /// Sends a request that gets no reply (`AT+Z`).
    async fn send(&self, req: &AtRequest) -> Result<()> {
        drain(&self.socket);
        self.send_bytes(req.encode().as_bytes()).await
    }

    /// The next datagram before `deadline`; `None` at the deadline.
    async fn recv(&mut self, deadline: tokio::time::Instant) -> Result<Option<&[u8]>> {
        let addr = self.addr;
        match recv_until(&self.socket, &mut self.buf, deadline).await {
            Ok(Some((n, _))) => Ok(self.buf.get(..n)),
            Ok(None) => Ok(None),
            Err(error) if Error::is_refusal(&error) => Err(Error::Refused { addr, error }),
            Err(error) => Err(Error::Io { addr, op: Op::Reply, error }),
        }
    }

    /// Sends `req` and returns the raw bytes of the first AT reply (`+ok…` / `+ERR=…`),
    /// resending on silence; `+ERR=<n>` is [`HfFailure::Rejected`].
    async fn exchange(&mut self, req: &AtRequest) -> Result<(AtReply, Vec<u8>)> {
        let shown = Shown(&req.line()).to_string();
        let mut bad: Option<ReplyError> = None;
        for attempt in 0..=self.cfg.retries {
            if attempt > 0 {
                debug!(addr = %self.addr, command = %shown, "no reply; resending");
                tokio::time::sleep(self.cfg.backoff_for(attempt - 1)).await;
            }
            drain(&self.socket);
            self.send_bytes(req.encode().as_bytes()).await?;
            let deadline = deadline_after(self.cfg.timeout);
            while let Some(bytes) = self.recv(deadline).await? {
                match AtReply::parse(bytes) {
                    Ok(AtReply::Err(code)) => {
                        return Err(Error::Hf {
                            addr: self.addr,
                            error: HfFailure::Rejected { command: shown, code: Some(code) },
                        })
                    }
                    Ok(reply) => return Ok((reply, bytes.to_vec())),
                    Err(e) => {
                        debug!(addr = %self.addr, command = %shown, error = %e, "not an AT reply; ignored");
                        bad = Some(e);
                    }
                }
            }
        }
        Err(match bad {
            Some(error) => {
                Error::Hf { addr: self.addr, error: HfFailure::BadReply { command: shown, error } }
            }
            None => Error::Timeout { addr: self.addr, op: Op::Reply, after: self.cfg.timeout },
        })
    }

    /// A set command: expects `+ok` (a value, if any, is ignored).
    async fn request(&mut self, req: &AtRequest) -> Result<()> {
        self.exchange(req).await.map(drop)
    }

    /// A query: expects `+ok=<value>`.
    async fn value(&mut self, req: &AtRequest) -> Result<String> {
        match self.exchange(req).await? {
            (AtReply::Ok(Some(v)), _) => Ok(v),
            _ => Err(self.unexpected(req, "+ok without a value".into())),
        }
    }

    fn unexpected(&self, req: &AtRequest, detail: String) -> Error {
        Error::Hf {
            addr: self.addr,
            error: HfFailure::UnexpectedValue { command: Shown(&req.line()).to_string(), detail },
        }
    }

    /// `AT+WSCAN`: the first datagram, plus any continuation arriving within `quiet`.
    async fn wscan(&mut self) -> Result<Vec<ScanEntry>> {
        let req = query(self.addr, "WSCAN")?;
        let (_, mut table) = self.exchange(&req).await?;
        loop {
            let until = deadline_after(self.cfg.quiet);
            let Some(more) = self.recv(until).await? else { break };
            table.extend_from_slice(more);
            if table.len() > 16 * MAX_DATAGRAM {
                break;
            }
        }
        let addr = self.addr;
        parse_wscan(&table).map_err(|e| {
            let error = match e {
                WscanError::Device(code) => {
                    HfFailure::Rejected { command: "AT+WSCAN".into(), code: Some(code) }
                }
                WscanError::Reply(error) => HfFailure::BadReply { command: "AT+WSCAN".into(), error },
                other => HfFailure::BadWscan(other),
            };
            Error::Hf { addr, error }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_names_and_keys() {
        assert_eq!("wpa2-aes".parse::<Security>(), Ok(Security::Wpa2Aes));
        assert_eq!("WPA-TKIP".parse::<Security>(), Ok(Security::WpaTkip));
        assert_eq!("open".parse::<Security>(), Ok(Security::Open));
        assert_eq!(
            "wep".parse::<Security>().unwrap_err().to_string(),
            "unknown security \"wep\" (expected wpa2-aes, wpa-tkip or open)"
        );
        for s in Security::ALL {
            assert_eq!(s.to_string().parse::<Security>(), Ok(s));
        }
        assert_eq!(Security::Wpa2Aes.wskey("secret123").unwrap().to_value(), "WPA2PSK,AES,secret123");
        assert_eq!(Security::WpaTkip.wskey("secret123").unwrap().to_value(), "WPAPSK,TKIP,secret123");
        assert_eq!(Security::Open.wskey("").unwrap().to_value(), "OPEN,NONE");
        assert_eq!(Security::Open.wskey("x"), Err(WifiError::KeyNotAllowed));
        assert!(matches!(Security::Wpa2Aes.wskey("1234567"), Err(WifiError::KeyLength { len: 7, .. })));
    }

    #[test]
    fn key_descriptions_hide_the_key() {
        let a = Security::Wpa2Aes.wskey("secret123").unwrap();
        let b = Security::Wpa2Aes.wskey("secret999").unwrap();
        assert_eq!(describe(&a), "WPA2PSK,AES with a 9-character key");
        assert_eq!(describe_vs(&b, &a), "WPA2PSK,AES with a 9-character key (a different key)");
        assert_eq!(describe(&Security::Open.wskey("").unwrap()), "OPEN,NONE");
    }
}
