//! One emulated HF plug as a sans-I/O state machine (hf-protocol.md §5.1–§5.3).
//!
//! [`PlugState`] takes decoded TCP control requests ([`PlugState::handle_control`]) and raw
//! UDP datagrams ([`PlugState::handle_datagram`]) together with the current [`Instant`] and
//! returns the reply bytes. No sockets and no clock reads: time is injected and runs
//! [`PlugConfig::time_scale`] times faster in the simulation, so a test can let minutes of
//! `AT+YZDELAY` and energy pass in milliseconds.
//!
//! State: relay and pending delay per outlet, the meter, Wi-Fi settings, per-peer assist
//! sessions, and the [`Link`] (AP, station, or both) decided at each boot. `AT+Z` and
//! `AT+RELD` put the plug into "rebooting" ([`PlugState::is_booting`]): it answers nothing
//! until [`PlugState::finish_boot`], which applies the stored Wi-Fi settings; the server
//! layer drops and rebinds sockets in between.

pub(crate) mod assist;
mod at;
pub(crate) mod clock;
mod control;
pub(crate) mod meter;
pub(crate) mod rng;
#[cfg(test)]
mod tests;
mod wifi;

use std::{
    net::{Ipv4Addr, SocketAddr},
    time::{Duration, Instant},
};

use plugctl_proto::hf::{
    assist::{AssistReply, AtReply, HfError, WMode, WsKey},
    classify, Mac, RawMeasurement, RecoScanReply, Timestamp, UdpRequest, CONTROL_PORT, MAX_DATAGRAM,
};

pub use wifi::Link;

use self::{
    assist::Sessions,
    at::{tcpto_secs, Effect},
    clock::SimClock,
    meter::Meter,
    rng::{hash, Rng},
    wifi::WifiSettings,
};
use super::config::{ConfigError, PlugConfig, StartMode};

/// A pending `AT+YZDELAY`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct PendingDelay {
    on: bool,
    /// Simulated seconds.
    due: f64,
}

/// A delayed switch that took effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DelayFired {
    /// The outlet (1-based).
    pub outlet: u16,
    /// Its new state.
    pub on: bool,
}

/// What the plug does with one UDP datagram.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UdpOutcome {
    /// The reply datagram, if any (to the sender).
    pub reply: Option<Vec<u8>>,
    /// The reply answers `YZ-RECOSCAN` (servers also copy it to the discovery port when the
    /// sender used another one, §3.1).
    pub discovery: bool,
    /// The plug started rebooting (`AT+Z`, `AT+RELD`): servers drop their sockets and call
    /// [`PlugState::finish_boot`] after a short silence.
    pub reboot: bool,
}

/// See the module docs.
#[derive(Debug, Clone)]
pub struct PlugState {
    cfg: PlugConfig,
    clock: SimClock,
    rng: Rng,
    relays: Vec<bool>,
    delays: Vec<Option<PendingDelay>>,
    meter: Meter,
    wifi: WifiSettings,
    assist_password: String,
    web_user: String,
    web_password: String,
    label_key: String,
    link: Link,
    booting: bool,
    boots: u64,
    sessions: Sessions,
    last_client_time: Option<Timestamp>,
    control_port: u16,
}

impl PlugState {
    /// A plug as configured, booted in its start mode.
    pub fn new(cfg: PlugConfig) -> Result<Self, ConfigError> {
        cfg.validate()?;
        let mut rng = Rng::new(hash(&[&cfg.seed.to_le_bytes(), &cfg.mac.0, b"noise"]));
        let meter = Meter::new(&cfg.meter, &mut rng);
        let tcpto = tcpto_secs(&cfg);
        let (wifi, link) = match (cfg.start, cfg.networks.first()) {
            (StartMode::Sta, Some(net)) => {
                (WifiSettings::joined(net, tcpto), Link::Station { ssid: net.ssid.clone() })
            }
            (StartMode::Sta, None) => return Err(ConfigError::NoNetwork),
            (StartMode::Ap, _) => (WifiSettings::factory(tcpto), Link::Ap),
        };
        let outlets = usize::from(cfg.outlets);
        let label_key = format!("{:08}", hash(&[cfg.serial.as_bytes(), b"label"]) % 100_000_000);
        Ok(Self {
            clock: SimClock::new(cfg.effective_time_scale()),
            rng,
            relays: vec![cfg.relay_on; outlets],
            delays: vec![None; outlets],
            meter,
            wifi,
            assist_password: cfg.assist_password.clone(),
            web_user: cfg.web_user.clone(),
            web_password: cfg.web_password.clone(),
            label_key,
            link,
            booting: false,
            boots: 0,
            sessions: Sessions::new(cfg.assist_mode, cfg.assist_timeout),
            last_client_time: None,
            control_port: CONTROL_PORT,
            cfg,
        })
    }

    /// The configuration the plug was built from.
    pub fn config(&self) -> &PlugConfig {
        &self.cfg
    }

    /// The station MAC.
    pub fn mac(&self) -> Mac {
        self.cfg.mac
    }

    /// The serial number.
    pub fn serial(&self) -> &str {
        &self.cfg.serial
    }

    /// Where the plug is since its last boot.
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// True between `AT+Z`/`AT+RELD` and [`PlugState::finish_boot`].
    pub fn is_booting(&self) -> bool {
        self.booting
    }

    /// Completed reboots since the plug was created.
    pub fn boots(&self) -> u64 {
        self.boots
    }

    /// The addresses the plug answers on now: AP address, home address, or both; none while
    /// rebooting.
    pub fn addresses(&self) -> Vec<Ipv4Addr> {
        if self.booting {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(2);
        if self.link.has_ap() {
            out.push(self.cfg.ap_ip);
        }
        if self.link.has_station() && !out.contains(&self.cfg.home_ip) {
            out.push(self.cfg.home_ip);
        }
        out
    }

    /// Stored `AT+WMODE`.
    pub fn wifi_mode(&self) -> WMode {
        self.wifi.wmode
    }

    /// Stored `AT+WSSSID`.
    pub fn ssid(&self) -> &str {
        &self.wifi.ssid
    }

    /// Stored `AT+WSKEY`.
    pub fn wifi_key(&self) -> &WsKey {
        &self.wifi.key
    }

    /// The current assist password (`AT+ASWD`).
    pub fn assist_password(&self) -> &str {
        &self.assist_password
    }

    /// Whether HTTP Basic credentials match the web user and password (`AT+WEBU`; exact,
    /// case-sensitive \[G\]).
    pub fn web_credentials_match(&self, user: &str, password: &str) -> bool {
        user == self.web_user && password == self.web_password
    }

    /// How long an idle TCP connection stays open (`AT+TCPTO`); `None` = forever (0).
    pub fn tcp_timeout(&self) -> Option<Duration> {
        (self.wifi.tcpto_s > 0).then(|| Duration::from_secs(u64::from(self.wifi.tcpto_s)))
    }

    /// Tells the plug which TCP port its control server uses (reported by `AT+NETP`).
    pub fn set_control_port(&mut self, port: u16) {
        self.control_port = port;
    }

    /// The last 12/14-digit timestamp a client sent with `AT+YZSWITCH`/`AT+YZDELAY`.
    pub fn last_client_time(&self) -> Option<Timestamp> {
        self.last_client_time
    }

    /// Relay state of `outlet` (1-based); `None` for an outlet that does not exist.
    pub fn relay(&self, outlet: u16) -> Option<bool> {
        self.relays.get(usize::from(outlet).checked_sub(1)?).copied()
    }

    /// Switches `outlet` (1-based) as `AT+YZSWITCH` would; false if it does not exist.
    pub fn set_relay(&mut self, outlet: u16, on: bool, now: Instant) -> bool {
        self.advance(now);
        match usize::from(outlet).checked_sub(1).filter(|i| *i < self.relays.len()) {
            Some(i) => {
                self.switch(i, on);
                true
            }
            None => false,
        }
    }

    /// The pending `AT+YZDELAY` of `outlet`: target state and the real instant it fires.
    pub fn pending_delay(&self, outlet: u16) -> Option<(bool, Instant)> {
        let d = (*self.delays.get(usize::from(outlet).checked_sub(1)?)?)?;
        Some((d.on, self.clock.instant_of(d.due)?))
    }

    /// When the next pending delay fires (real time), for a server's timer.
    pub fn next_due(&self) -> Option<Instant> {
        let due = self.delays.iter().flatten().map(|d| d.due).min_by(f64::total_cmp)?;
        self.clock.instant_of(due)
    }

    /// Advances simulated time to `now`: fires due delays (in order, with energy integrated
    /// piecewise) and returns them.
    pub fn tick(&mut self, now: Instant) -> Vec<DelayFired> {
        self.advance(now)
    }

    /// The meter reading at `now` (what `AT+YZOUT` reports).
    pub fn reading(&mut self, now: Instant) -> RawMeasurement {
        self.advance(now);
        self.meter.raw()
    }

    /// The energy counter, Wh (fractional; `AT+YZOUT` reports it rounded down).
    pub fn energy_wh(&self) -> f64 {
        self.meter.energy_wh()
    }

    /// The `YZ-RECOSCAN` reply sent from `local_ip`.
    pub fn discovery_reply(&self, local_ip: Ipv4Addr) -> RecoScanReply {
        RecoScanReply {
            ip: local_ip,
            mac: self.cfg.mac,
            serial: self.cfg.serial.clone(),
            online: self.cfg.online_flag,
            relay_on: self.relays.first().copied().unwrap_or(false),
            extra: vec![self.cfg.field6.clone()],
        }
    }

    /// The reply to the assist password sent from `local_ip`.
    pub fn assist_reply(&self, local_ip: Ipv4Addr) -> AssistReply {
        AssistReply { ip: local_ip, mac: self.cfg.mac, module_id: self.cfg.module_id.clone() }
    }

    /// Answers one UDP datagram from `peer`, received on the plug's address `local_ip`
    /// (which the replies report, as clients compare it with the source address).
    pub fn handle_datagram(
        &mut self,
        datagram: &[u8],
        peer: SocketAddr,
        local_ip: Ipv4Addr,
        now: Instant,
    ) -> UdpOutcome {
        if self.booting || datagram.len() > MAX_DATAGRAM {
            return UdpOutcome::default();
        }
        self.advance(now);
        let text = |s: String| Some(s.into_bytes());
        match classify(datagram, &self.assist_password) {
            UdpRequest::RecoScan => UdpOutcome {
                reply: text(self.discovery_reply(local_ip).to_wire()),
                discovery: true,
                reboot: false,
            },
            UdpRequest::AssistPassword(_) => {
                self.sessions.discovered(peer, now);
                UdpOutcome { reply: text(self.assist_reply(local_ip).to_wire()), ..UdpOutcome::default() }
            }
            UdpRequest::Ok => {
                self.sessions.ack(peer, now);
                UdpOutcome::default()
            }
            UdpRequest::At { verb, arg } => {
                if !self.sessions.allows_at(peer, now) {
                    return UdpOutcome::default();
                }
                let (reply, effect) = self.at_command(&verb, arg.as_deref(), local_ip);
                match effect {
                    Effect::None => {}
                    Effect::EndSession => self.sessions.end(&peer),
                    Effect::Reboot => self.begin_reboot(),
                }
                UdpOutcome { reply: reply.and_then(text), discovery: false, reboot: effect == Effect::Reboot }
            }
            UdpRequest::MalformedAt(_) => {
                if !self.sessions.allows_at(peer, now) {
                    return UdpOutcome::default();
                }
                UdpOutcome {
                    reply: text(AtReply::Err(HfError::InvalidFormat).to_wire()),
                    ..UdpOutcome::default()
                }
            }
            UdpRequest::Ignore => UdpOutcome::default(),
        }
    }

    /// Whether `peer` is in assist AT mode (sent the password and `+ok`) now.
    pub fn in_assist_session(&self, peer: &SocketAddr, now: Instant) -> bool {
        self.sessions.in_at_mode(peer, now)
    }

    /// Starts a reboot (what `AT+Z` does): the plug goes silent, sessions and pending delays
    /// end \[G\]; relays and energy are kept.
    pub fn begin_reboot(&mut self) {
        self.booting = true;
        self.sessions.clear();
        self.delays.iter_mut().for_each(|d| *d = None);
    }

    /// Ends a reboot: the plug applies its stored Wi-Fi settings (joining a simulated network
    /// only if SSID and key match, else AP mode) and answers again on
    /// [`addresses`](Self::addresses).
    pub fn finish_boot(&mut self, now: Instant) -> &Link {
        self.advance(now);
        if self.booting {
            self.booting = false;
            self.boots += 1;
            self.link = self.wifi.link_after_boot(&self.cfg.networks);
        }
        &self.link
    }

    fn on_count(&self) -> usize {
        self.relays.iter().filter(|on| **on).count()
    }

    fn switch(&mut self, index: usize, on: bool) {
        if let Some(r) = self.relays.get_mut(index) {
            *r = on;
        }
        let n = self.on_count();
        self.meter.resample(n, self.clock.sim(), &mut self.rng, true);
    }

    fn advance(&mut self, now: Instant) -> Vec<DelayFired> {
        let target = self.clock.target(now);
        let mut fired = Vec::new();
        loop {
            let next = self
                .delays
                .iter()
                .enumerate()
                .filter_map(|(i, d)| d.filter(|d| d.due <= target).map(|d| (i, d)))
                .min_by(|a, b| a.1.due.total_cmp(&b.1.due));
            let Some((i, d)) = next else { break };
            let at = d.due.max(self.clock.sim());
            self.meter.integrate(at - self.clock.sim());
            self.clock.set_sim(at);
            if let Some(slot) = self.delays.get_mut(i) {
                *slot = None;
            }
            self.switch(i, d.on);
            fired.push(DelayFired { outlet: u16::try_from(i + 1).unwrap_or(u16::MAX), on: d.on });
        }
        self.meter.integrate(target - self.clock.sim());
        self.clock.set_sim(target);
        let n = self.on_count();
        self.meter.resample(n, self.clock.sim(), &mut self.rng, false);
        fired
    }
}
