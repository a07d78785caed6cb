//! What an emulated HF plug is: identity, addresses, simulated Wi-Fi networks, meter model
//! and protocol options (hf-protocol.md §5.1). Every choice the research marks \[G\] is a
//! field here, with the recommended default.

use std::{fmt, net::Ipv4Addr, str::FromStr, time::Duration};

use plugctl_proto::hf::{
    assist::{validate_ssid, Auth, Encryption, ScanEntry, Security, WsKey},
    LineEnding, Mac, DEFAULT_ASSIST_PASSWORD,
};

use super::device::rng::{hash, Rng};

/// The Hi-Flying OUI every emulated MAC starts with (`AC:CF:23`).
pub const HF_OUI: [u8; 3] = [0xAC, 0xCF, 0x23];

/// Default module id (`AT+MID`, 3rd field of the assist reply).
pub const DEFAULT_MODULE_ID: &str = "HF-LPB100";

/// Default firmware version (`AT+VER`); the Reco firmware's is unknown \[G\].
pub const DEFAULT_VERSION: &str = "1.0.06 (2016-03-10 14:09)";

/// Default web user and password (HTTP Basic auth, `AT+WEBU`): Maginon's `ADMIN`/`ADMIN`.
pub const DEFAULT_WEB_CREDENTIALS: (&str, &str) = ("ADMIN", "ADMIN");

/// SSID of the default home network the plug can join.
pub const HOME_SSID: &str = "HomeNet";

/// WPA2 key of [`HOME_SSID`].
pub const HOME_KEY: &str = "correct horse battery";

/// How the plug starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StartMode {
    /// Unprovisioned: access point `Reco<SN>` on [`PlugConfig::ap_ip`]; answers assist and
    /// `YZ-RECOSCAN` there.
    Ap,
    /// Provisioned: joined to the first simulated network, on [`PlugConfig::home_ip`].
    #[default]
    Sta,
}

impl StartMode {
    /// `ap` or `sta`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ap => "ap",
            Self::Sta => "sta",
        }
    }
}

impl fmt::Display for StartMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StartMode {
    type Err = ConfigError;

    /// `ap` or `sta`, ignoring case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("ap") {
            Ok(Self::Ap)
        } else if s.eq_ignore_ascii_case("sta") {
            Ok(Self::Sta)
        } else {
            Err(ConfigError::StartMode(s.chars().take(16).collect()))
        }
    }
}

/// When assist AT commands are answered (§5.3 \[G\]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AssistMode {
    /// Always, from any peer (what lenient clients that skip the handshake need).
    #[default]
    Lenient,
    /// Only from a peer that sent the password and then `+ok`, within the session timeout.
    Strict,
}

/// A Wi-Fi network the plug "sees" (listed by `AT+WSCAN`, joinable with `AT+WSSSID` and a
/// matching `AT+WSKEY`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SimNetwork {
    /// The SSID (may contain spaces and commas).
    pub ssid: String,
    /// The access point's MAC.
    pub bssid: Mac,
    /// Channel, 1–13.
    pub channel: u8,
    /// Signal indicator, 0–100.
    pub signal: u8,
    /// Security and key; the plug joins only with the same key (see [`SimNetwork::accepts`]).
    pub security: WsKey,
}

impl SimNetwork {
    /// A network with a derived BSSID, channel 6 and signal 70.
    pub fn new(ssid: &str, security: WsKey) -> Self {
        let h = hash(&[ssid.as_bytes(), b"bssid"]).to_le_bytes();
        // locally administered, unicast
        let bssid = Mac([0x02, h[0], h[1], h[2], h[3], h[4]]);
        Self { ssid: ssid.to_string(), bssid, channel: 6, signal: 70, security }
    }

    /// The default home network: `HomeNet`, WPA2PSK/AES, key `correct horse battery`.
    pub fn home() -> Self {
        let key = WsKey::new(Auth::Wpa2Psk, Encryption::Aes, HOME_KEY).expect("constant WPA2 key is valid");
        Self { channel: 6, signal: 82, ..Self::new(HOME_SSID, key) }
    }

    /// Whether a plug configured with `key` can associate \[G\]: an open network needs
    /// `OPEN,NONE`; a WEP network the same WEP key; a WPA/WPA2 network a WPA-family auth and
    /// the same passphrase (TKIP/AES and WPA/WPA2 differences are tolerated, as mixed-mode
    /// access points do).
    pub fn accepts(&self, key: &WsKey) -> bool {
        let net = &self.security;
        match net.encryption() {
            Encryption::None => key.encryption() == Encryption::None,
            Encryption::WepHex | Encryption::WepAscii => {
                key.encryption() == net.encryption() && key.key() == net.key()
            }
            Encryption::Tkip | Encryption::Aes => {
                matches!(key.auth(), Auth::WpaPsk | Auth::Wpa2Psk) && key.key() == net.key()
            }
        }
    }

    /// The `AT+WSCAN` row of this network.
    pub fn scan_entry(&self) -> ScanEntry {
        ScanEntry {
            channel: self.channel,
            ssid: self.ssid.clone(),
            bssid: self.bssid,
            security: Security {
                auth: self.security.auth().as_str().to_string(),
                encryption: self.security.encryption().as_str().to_string(),
            },
            signal: self.signal,
        }
    }
}

/// `OPEN,NONE` (a constant that always validates).
fn open_key() -> WsKey {
    WsKey::new(Auth::Open, Encryption::None, "").expect("OPEN,NONE without key is valid")
}

/// The default simulated networks: `HomeNet` (WPA2PSK/AES, joinable with [`HOME_KEY`]), an
/// open network whose SSID contains a comma and spaces, a WPA/TKIP one and a weak WPA2 one
/// with a UTF-8 SSID.
pub fn default_networks() -> Vec<SimNetwork> {
    let mut out = vec![SimNetwork::home()];
    out.push(SimNetwork { channel: 1, signal: 54, ..SimNetwork::new("Cafe, Guest WiFi", open_key()) });
    let tkip =
        WsKey::new(Auth::WpaPsk, Encryption::Tkip, "fritzbox-key-7530").expect("constant key is valid");
    out.push(SimNetwork { channel: 11, signal: 38, ..SimNetwork::new("FRITZ!Box 7530 XY", tkip) });
    let aes = WsKey::new(Auth::Wpa2Psk, Encryption::Aes, "nachbar-geheim").expect("constant key is valid");
    out.push(SimNetwork { channel: 13, signal: 17, ..SimNetwork::new("Nachbar Café", aes) });
    out
}

/// The energy meter model (§2.3, §5.1).
///
/// While an outlet is ON its load draws `load_va` volt-amperes at `power_factor`: active
/// power P = S·PF, current I = S/U (so P ≤ U·I always holds). OFF: I = P = 0, U and F keep
/// reporting. Energy E integrates P over simulated time.
#[derive(Debug, Clone, PartialEq)]
pub struct MeterConfig {
    /// Apparent power of the load per ON outlet, VA. Default 63.2 (60 W at PF 0.95).
    pub load_va: f64,
    /// Power factor of the load, 0–1 (0 = purely reactive: current but no power, as in
    /// the captured `+ok=3,22694,5007,0,0,3548,0`). Default 0.95.
    pub power_factor: f64,
    /// Nominal mains voltage, 0.01 V. Default 23000.
    pub voltage: u32,
    /// Nominal mains frequency, 0.01 Hz. Default 5000.
    pub frequency: u32,
    /// Measurement noise: U ±0.5 %, F ±0.05 Hz, P ±2 %, resampled at most once per simulated
    /// second. Default on; off gives exact, reproducible readings.
    pub noise: bool,
    /// Energy counter at start, Wh; `None` = a plausible per-plug value (0.5–50 kWh).
    pub energy_wh: Option<f64>,
}

impl Default for MeterConfig {
    fn default() -> Self {
        Self::load_w(60.0, 0.95)
    }
}

impl MeterConfig {
    /// A load of `watts` active power at `power_factor` (clamped to 0.01–1).
    pub fn load_w(watts: f64, power_factor: f64) -> Self {
        let pf = if power_factor.is_finite() { power_factor.clamp(0.01, 1.0) } else { 1.0 };
        let w = if watts.is_finite() { watts.max(0.0) } else { 0.0 };
        Self {
            load_va: w / pf,
            power_factor: pf,
            voltage: 23_000,
            frequency: 5_000,
            noise: true,
            energy_wh: None,
        }
    }

    /// Exactly the captured reading `+ok=3,22694,5007,0,0,3548,0` while ON (no noise, a
    /// 6.8 VA purely reactive load, 3548 Wh).
    pub fn captured() -> Self {
        Self {
            load_va: 6.81,
            power_factor: 0.0,
            voltage: 22_694,
            frequency: 5_007,
            noise: false,
            energy_wh: Some(3548.0),
        }
    }
}

/// An invalid [`PlugConfig`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// Not `ap` or `sta`.
    #[error("unknown start mode {0:?} (expected ap or sta)")]
    StartMode(String),
    /// The serial must be 1–32 ASCII letters or digits (9 digits on real plugs).
    #[error("serial {0:?} must be 1 to 32 ASCII letters or digits")]
    Serial(String),
    /// Field 6 of the discovery reply must not contain `.` or `,` (one client counts them).
    #[error("discovery field 6 {0:?} must be printable ASCII without '.', ',' or spaces")]
    Field6(String),
    /// The module id must be printable ASCII without `,` (3-field assist reply).
    #[error("module id {0:?} must be 1 to 32 printable ASCII characters without ',' or spaces")]
    ModuleId(String),
    /// A text setting (version, web credentials, assist password) is unusable.
    #[error("{what} {value:?} must be 1 to {max} printable ASCII characters without ','")]
    Text {
        /// Which setting.
        what: &'static str,
        /// Its value (shortened).
        value: String,
        /// Maximum length.
        max: usize,
    },
    /// Outlets must be 1–16.
    #[error("{0} outlets: an HF plug has 1 to 16")]
    Outlets(u16),
    /// A simulated network with an invalid SSID.
    #[error("simulated network SSID {0:?} is not a valid SSID")]
    NetworkSsid(String),
    /// Starting in STA mode needs a network to be joined to.
    #[error("start mode sta needs at least one simulated network")]
    NoNetwork,
    /// A non-finite or negative meter value.
    #[error("meter setting {0} must be finite and not negative")]
    Meter(&'static str),
}

/// Everything that makes one emulated plug. Build one with [`PlugConfig::numbered`] (unique
/// MAC and serial per index) and adjust fields.
#[derive(Debug, Clone, PartialEq)]
pub struct PlugConfig {
    /// Station MAC, reported everywhere (`ACCF23` + 6 hex digits).
    pub mac: Mac,
    /// Serial number, 9 digits (discovery field 3; the AP SSID is `Reco<serial>`).
    pub serial: String,
    /// Discovery field 4, the "online" (cloud) flag. Default true.
    pub online_flag: bool,
    /// Discovery field 6, meaning unknown \[G\]. Default `0`.
    pub field6: String,
    /// Module id (`AT+MID`). Default `HF-LPB100`.
    pub module_id: String,
    /// Firmware version (`AT+VER`).
    pub version: String,
    /// Number of outlets (`AT+YZSWITCH=<n>,…` accepts 1..=outlets). Default 1.
    pub outlets: u16,
    /// Initial relay state of every outlet. Default off.
    pub relay_on: bool,
    /// The plug's address in AP mode (stands in for 10.10.100.254).
    pub ap_ip: Ipv4Addr,
    /// The plug's address once joined to a simulated network (stands in for its DHCP
    /// address on the home LAN).
    pub home_ip: Ipv4Addr,
    /// How the plug starts.
    pub start: StartMode,
    /// Networks in range; the first is joined when starting in STA mode.
    pub networks: Vec<SimNetwork>,
    /// Assist password. Default `HF-A11ASSISTHREAD`.
    pub assist_password: String,
    /// Strict or lenient assist sessions. Default lenient.
    pub assist_mode: AssistMode,
    /// An assist session ends after this much silence from its peer \[G\]. Default 30 s.
    pub assist_timeout: Duration,
    /// HTTP Basic user (`AT+WEBU`). Default `ADMIN`.
    pub web_user: String,
    /// HTTP Basic password. Default `ADMIN`.
    pub web_password: String,
    /// Line ending after TCP control replies. Default `\r\n` \[G\].
    pub line_ending: LineEnding,
    /// Reproduce the captured quirk: after a successful switch OFF, append `\r\n+error`.
    pub captured_quirk: bool,
    /// Idle TCP connections close after this long (`AT+TCPTO`, 0 = never). Default 300 s.
    pub tcp_timeout: Duration,
    /// The meter.
    pub meter: MeterConfig,
    /// Simulated time runs this many times faster than real time (energy, `AT+YZDELAY`).
    /// Non-finite or non-positive values mean 1.
    pub time_scale: f64,
    /// Seed of the measurement noise.
    pub seed: u64,
}

impl Default for PlugConfig {
    fn default() -> Self {
        Self::numbered(0, 0)
    }
}

impl PlugConfig {
    /// Plug `index` of a fleet seeded with `seed`: unique MAC (`ACCF23` + a 24-bit value
    /// that increments with the index) and 9-digit serial; STA mode on 127.0.0.2 with AP
    /// fallback 127.0.0.3 (fleets set the addresses).
    pub fn numbered(index: usize, seed: u64) -> Self {
        let key = hash(&[&seed.to_le_bytes(), b"hf-plug"]);
        let low = (key as u32 & 0x00FF_FFFF).wrapping_add(index as u32) & 0x00FF_FFFF;
        let [_, a, b, c] = low.to_be_bytes();
        let mac = Mac([HF_OUI[0], HF_OUI[1], HF_OUI[2], a, b, c]);
        let serial_base = 40_000_000 + (key >> 32) % 900_000_000;
        let serial = format!("{:09}", serial_base.wrapping_add(index as u64) % 1_000_000_000);
        let mut rng = Rng::new(key ^ index as u64);
        Self {
            mac,
            serial,
            online_flag: true,
            field6: "0".into(),
            module_id: DEFAULT_MODULE_ID.into(),
            version: DEFAULT_VERSION.into(),
            outlets: 1,
            relay_on: false,
            ap_ip: Ipv4Addr::new(127, 0, 0, 3),
            home_ip: Ipv4Addr::new(127, 0, 0, 2),
            start: StartMode::Sta,
            networks: default_networks(),
            assist_password: DEFAULT_ASSIST_PASSWORD.into(),
            assist_mode: AssistMode::Lenient,
            assist_timeout: Duration::from_secs(30),
            web_user: DEFAULT_WEB_CREDENTIALS.0.into(),
            web_password: DEFAULT_WEB_CREDENTIALS.1.into(),
            line_ending: LineEnding::CrLf,
            captured_quirk: false,
            tcp_timeout: Duration::from_secs(300),
            meter: MeterConfig {
                load_va: 20.0 + 120.0 * rng.unit(),
                power_factor: 0.6 + 0.4 * rng.unit(),
                ..MeterConfig::default()
            },
            time_scale: 1.0,
            seed: seed ^ (index as u64).rotate_left(32),
        }
    }

    /// The address the plug starts on.
    pub fn start_ip(&self) -> Ipv4Addr {
        match self.start {
            StartMode::Ap => self.ap_ip,
            StartMode::Sta => self.home_ip,
        }
    }

    /// The address the plug does not start on but may move to (home after joining, AP
    /// after a factory reset or a failed join).
    pub fn other_ip(&self) -> Ipv4Addr {
        match self.start {
            StartMode::Ap => self.home_ip,
            StartMode::Sta => self.ap_ip,
        }
    }

    /// The effective time scale (1 if the configured one is unusable).
    pub fn effective_time_scale(&self) -> f64 {
        if self.time_scale.is_finite() && self.time_scale > 0.0 {
            self.time_scale.min(1e9)
        } else {
            1.0
        }
    }

    /// Checks every field (see [`ConfigError`]).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let short = |s: &str| s.chars().take(40).collect::<String>();
        if self.serial.is_empty()
            || self.serial.len() > 32
            || !self.serial.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            return Err(ConfigError::Serial(short(&self.serial)));
        }
        if self.field6.is_empty()
            || !self.field6.bytes().all(|b| b.is_ascii_graphic() && b != b'.' && b != b',')
        {
            return Err(ConfigError::Field6(short(&self.field6)));
        }
        if self.module_id.is_empty()
            || self.module_id.len() > 32
            || !self.module_id.bytes().all(|b| b.is_ascii_graphic() && b != b',')
        {
            return Err(ConfigError::ModuleId(short(&self.module_id)));
        }
        check_text("version", &self.version, 64, true)?;
        check_text("web user", &self.web_user, 32, false)?;
        check_text("web password", &self.web_password, 32, false)?;
        check_text("assist password", &self.assist_password, 32, false)?;
        if !(1..=16).contains(&self.outlets) {
            return Err(ConfigError::Outlets(self.outlets));
        }
        for n in &self.networks {
            if validate_ssid(&n.ssid).is_err() {
                return Err(ConfigError::NetworkSsid(short(&n.ssid)));
            }
        }
        if self.start == StartMode::Sta && self.networks.is_empty() {
            return Err(ConfigError::NoNetwork);
        }
        let m = &self.meter;
        for (name, v) in [("load_va", m.load_va), ("power_factor", m.power_factor)] {
            if !v.is_finite() || v < 0.0 {
                return Err(ConfigError::Meter(name));
            }
        }
        if let Some(e) = m.energy_wh {
            if !e.is_finite() || e < 0.0 {
                return Err(ConfigError::Meter("energy_wh"));
            }
        }
        Ok(())
    }
}

/// Checks a text setting: 1..=max printable ASCII, no comma (spaces only if allowed).
pub(crate) fn check_text(
    what: &'static str,
    value: &str,
    max: usize,
    spaces: bool,
) -> Result<(), ConfigError> {
    let ok_byte = |b: u8| (b.is_ascii_graphic() || (spaces && b == b' ')) && b != b',';
    if value.is_empty() || value.len() > max || !value.bytes().all(ok_byte) {
        return Err(ConfigError::Text { what, value: value.chars().take(40).collect(), max });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbered_plugs_are_unique_and_valid() {
        let a = PlugConfig::numbered(0, 7);
        let b = PlugConfig::numbered(1, 7);
        assert_ne!(a.mac, b.mac);
        assert_ne!(a.serial, b.serial);
        assert_eq!(a.serial.len(), 9);
        assert_eq!(&a.mac.0[..3], &HF_OUI);
        a.validate().unwrap();
        PlugConfig::default().validate().unwrap();
        assert_eq!(PlugConfig::numbered(3, 1), PlugConfig::numbered(3, 1));
    }

    #[test]
    fn invalid_settings_are_rejected() {
        let mut c = PlugConfig { field6: "1.2".into(), ..PlugConfig::default() };
        assert!(matches!(c.validate(), Err(ConfigError::Field6(_))));
        c.field6 = "0".into();
        c.module_id = "HF,LPB".into();
        assert!(matches!(c.validate(), Err(ConfigError::ModuleId(_))));
        c.module_id = DEFAULT_MODULE_ID.into();
        c.serial = String::new();
        assert!(c.validate().is_err());
        c.serial = "040002298".into();
        c.networks.clear();
        assert_eq!(c.validate(), Err(ConfigError::NoNetwork));
        c.start = StartMode::Ap;
        c.validate().unwrap();
        assert_eq!("AP".parse::<StartMode>().unwrap(), StartMode::Ap);
        assert!("x".parse::<StartMode>().is_err());
    }

    #[test]
    fn networks_accept_only_their_key() {
        let home = SimNetwork::home();
        let good = WsKey::parse("WPA2PSK,AES,correct horse battery").unwrap();
        let mixed = WsKey::parse("wpapsk,tkip,correct horse battery").unwrap();
        let bad = WsKey::parse("WPA2PSK,AES,wrong horse battery").unwrap();
        assert!(home.accepts(&good));
        assert!(home.accepts(&mixed));
        assert!(!home.accepts(&bad));
        assert!(!home.accepts(&open_key()));
        let nets = default_networks();
        assert!(nets.iter().any(|n| n.ssid.contains(',')));
        let open = nets.iter().find(|n| n.security.encryption() == Encryption::None).unwrap();
        assert!(open.accepts(&open_key()));
        assert!(!open.accepts(&good));
        assert_eq!(home.scan_entry().security.to_string(), "WPA2PSK/AES");
    }
}
