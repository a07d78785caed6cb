//! A read-only security audit of the plugs on the network: what puts their owner at risk
//! or off-line, each with the `plugctl` command that fixes it where one exists.
//!
//! Checks (see [`Check`]):
//!
//! - every plug: whether it answers at all ([`Check::Reachable`]) and what its local
//!   protocol exposes ([`Check::LocalProtocol`]: no authentication on either family; Kasa's
//!   XOR "encryption" is obfuscation with a fixed key);
//! - Kasa ([`kasa`]): the TP-Link cloud binding and server ([`Check::Cloud`]), firmware that
//!   has dropped or may drop the local protocol ([`Check::Firmware`]), the clock against this
//!   computer's ([`Check::Clock`]);
//! - Hi-Flying ([`hf`]): the factory assist password `HF-A11ASSISTHREAD`
//!   ([`Check::AssistPassword`]), the home Wi-Fi key readable with it ([`Check::WifiKey`];
//!   the key itself only with [`AuditOptions::show_secrets`]), the plug's own access point
//!   ([`Check::AccessPoint`]), the factory web login `ADMIN`/`ADMIN`
//!   ([`Check::WebPassword`]).
//!
//! The checks change nothing on any plug: only queries are sent (Kasa `get_*` methods,
//! Hi-Flying `AT+YZOUT`, assist queries `AT+WSKEY`/`AT+WSSSID`/`AT+WMODE` and `AT+Q`, HTTP
//! `GET /`). Every exchange is bounded by the configured timeouts and plugs are audited in
//! parallel, so a silent plug costs one timeout, not a hang.
//!
//! [`logins`] is the one part that writes: it replaces the Hi-Flying factory logins the audit
//! flags (`plugctl hf-passwords`, the fix the findings name).

mod assist;
pub mod hf;
pub mod kasa;
pub mod klap_scan;
pub mod logins;
mod web;

use std::{
    collections::HashSet,
    fmt,
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use futures::StreamExt;
use serde::Serialize;

use crate::{
    device::{self, DiscoverOptions, Discovered},
    error::{Error, Result},
    hf::{HfConfig, HfDevice},
    kasa::{klap::KlapEvidence, ClientConfig, KasaDevice, KlapProbe},
    Device, Family,
};

/// How many plugs are audited at once.
pub const MAX_PARALLEL: usize = 64;

/// How bad a finding is. Ordered from worst to best.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    /// Someone else can take over the plug, read a secret, or the plug reports to a third
    /// party.
    Risk,
    /// The plug is, or is about to be, out of local control.
    OfflineRisk,
    /// Worth knowing; nothing plugctl can change.
    Info,
    /// Checked and fine.
    Ok,
}

impl Severity {
    /// `risk`, `offline-risk`, `info` or `ok`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Risk => "risk",
            Self::OfflineRisk => "offline-risk",
            Self::Info => "info",
            Self::Ok => "ok",
        }
    }

    /// Whether this severity makes `plugctl audit` exit with "risks found".
    pub fn is_problem(self) -> bool {
        matches!(self, Self::Risk | Self::OfflineRisk)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Check {
    /// The plug answers on its control port.
    Reachable,
    /// What the local protocol lets anyone on the network do.
    LocalProtocol,
    /// Kasa: bound to a TP-Link cloud account, and which server it contacts.
    Cloud,
    /// Kasa: firmware that has dropped (KLAP/AES) or may drop the local protocol.
    Firmware,
    /// Kasa: the device clock against this computer's.
    Clock,
    /// Hi-Flying: the factory assist password opens the set-up protocol.
    AssistPassword,
    /// Hi-Flying: the home Wi-Fi key can be read over the assist protocol.
    WifiKey,
    /// Hi-Flying: the plug still runs its own access point.
    AccessPoint,
    /// Hi-Flying: the web page accepts the factory login.
    WebPassword,
}

impl Check {
    /// The kebab-case name used in JSON and text (`assist-password`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reachable => "reachable",
            Self::LocalProtocol => "local-protocol",
            Self::Cloud => "cloud",
            Self::Firmware => "firmware",
            Self::Clock => "clock",
            Self::AssistPassword => "assist-password",
            Self::WifiKey => "wifi-key",
            Self::AccessPoint => "access-point",
            Self::WebPassword => "web-password",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One result of one check on one plug.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The plug, `HOST:PORT` of its control port.
    pub device: String,
    /// What was checked.
    pub check: Check,
    /// How bad it is.
    pub severity: Severity,
    /// What was found, in one sentence (never a secret unless
    /// [`AuditOptions::show_secrets`] was set).
    pub detail: String,
    /// The `plugctl` command that fixes it, if plugctl has one.
    pub fix: Option<String>,
    /// What to do otherwise (or in addition), when there is something to do.
    pub advice: Option<String>,
}

impl Finding {
    /// A finding without fix or advice.
    pub fn new(device: &PlugRef, check: Check, severity: Severity, detail: impl Into<String>) -> Self {
        Self { device: device.addr_text(), check, severity, detail: detail.into(), fix: None, advice: None }
    }

    /// With the fixing command.
    pub fn fix(mut self, command: impl Into<String>) -> Self {
        self.fix = Some(command.into());
        self
    }

    /// With advice.
    pub fn advice(mut self, text: impl Into<String>) -> Self {
        self.advice = Some(text.into());
        self
    }
}

/// The audited plug, as far as it is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlugRef {
    /// Its IP.
    pub host: String,
    /// Its control port (Kasa 9999, Hi-Flying 8899).
    pub port: u16,
    /// The family, if known (not for a plug that never answered).
    pub family: Option<Family>,
    /// The model, if known.
    pub model: Option<String>,
    /// Its name, if known.
    pub alias: Option<String>,
}

impl PlugRef {
    /// `HOST:PORT`.
    pub fn addr_text(&self) -> String {
        match self.host.parse::<IpAddr>() {
            Ok(ip) => SocketAddr::new(ip, self.port).to_string(),
            Err(_) => format!("{}:{}", self.host, self.port),
        }
    }

    /// How `plugctl` commands name this plug: `HOST`, or `HOST:PORT` when the port is not
    /// the family default.
    pub fn command_target(&self) -> String {
        let default = match self.family {
            Some(Family::Hf) => plugctl_proto::hf::CONTROL_PORT,
            _ => crate::kasa::DEFAULT_PORT,
        };
        if self.port == default {
            self.host.clone()
        } else {
            self.addr_text()
        }
    }

    fn from_discovered(d: &Discovered) -> Self {
        Self {
            host: d.host.clone(),
            port: d.port,
            family: Some(d.family),
            model: Some(d.model.clone()).filter(|m| !m.is_empty()),
            alias: Some(d.alias.clone()).filter(|a| !a.is_empty()),
        }
    }
}

/// Everything found on one plug.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlugAudit {
    /// The plug.
    #[serde(flatten)]
    pub plug: PlugRef,
    /// The findings, in check order.
    pub findings: Vec<Finding>,
}

impl PlugAudit {
    /// The worst severity found (`None` without findings).
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).min()
    }
}

/// How many findings of each severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Plugs audited.
    pub plugs: usize,
    /// [`Severity::Risk`] findings.
    pub risk: usize,
    /// [`Severity::OfflineRisk`] findings.
    pub offline_risk: usize,
    /// [`Severity::Info`] findings.
    pub info: usize,
    /// [`Severity::Ok`] findings.
    pub ok: usize,
}

impl Summary {
    /// Counts the findings of `audits`.
    pub fn of(audits: &[PlugAudit]) -> Self {
        let mut s = Summary { plugs: audits.len(), ..Summary::default() };
        for f in audits.iter().flat_map(|a| &a.findings) {
            match f.severity {
                Severity::Risk => s.risk += 1,
                Severity::OfflineRisk => s.offline_risk += 1,
                Severity::Info => s.info += 1,
                Severity::Ok => s.ok += 1,
            }
        }
        s
    }

    /// Whether anything at [`Severity::Risk`] or [`Severity::OfflineRisk`] was found.
    pub fn has_problems(&self) -> bool {
        self.risk + self.offline_risk > 0
    }
}

/// How to audit.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    /// Kasa timeouts and retries.
    pub kasa: ClientConfig,
    /// Hi-Flying ports (control, UDP assist), timeouts and retries. Its
    /// `assist_password` is ignored: the audit always tries the factory one.
    pub hf: HfConfig,
    /// The Kasa port (TCP control) of hosts audited without an explicit port. Default 9999.
    pub kasa_port: u16,
    /// The Hi-Flying web port (80 on real plugs).
    pub http_port: u16,
    /// Where and how long to look for newer (KLAP) firmware signs.
    pub klap: KlapProbe,
    /// Largest tolerated difference between a plug's clock and this computer's, seconds.
    /// Default 60.
    pub max_drift_s: i64,
    /// Put secrets (the home Wi-Fi key) into findings. Default `false`.
    pub show_secrets: bool,
}

impl Default for AuditOptions {
    fn default() -> Self {
        let kasa = ClientConfig { timeout: Duration::from_secs(3), retries: 1, ..ClientConfig::default() };
        Self {
            hf: HfConfig { listen_reply_port: false, ..HfConfig::from_client(&kasa) },
            kasa,
            kasa_port: crate::kasa::DEFAULT_PORT,
            http_port: web::DEFAULT_PORT,
            klap: KlapProbe::default(),
            max_drift_s: 60,
            show_secrets: false,
        }
    }
}

/// Audits a plug found by discovery.
pub async fn audit_discovered(d: &Discovered, opts: &AuditOptions) -> PlugAudit {
    let plug = PlugRef::from_discovered(d);
    let Some(addr) = d.addr() else {
        let f = Finding::new(&plug, Check::Reachable, Severity::OfflineRisk, "unusable address");
        return PlugAudit { plug, findings: vec![f] };
    };
    let findings = match d.family {
        Family::Kasa => {
            let dev = KasaDevice::new(addr, opts.kasa.clone());
            let f = kasa::audit(&dev, &plug, opts).await;
            dev.close().await;
            f
        }
        Family::Hf => {
            let cfg = HfConfig { control_port: addr.port(), ..opts.hf.clone() };
            let dev = HfDevice::new(addr.ip(), cfg);
            let f = hf::audit(&dev, &plug, opts).await;
            dev.close().await;
            f
        }
    };
    PlugAudit { plug, findings }
}

/// Audits the plug at `ip`. Without `family` it probes Kasa first, then Hi-Flying, like
/// [`Device::connect`]; `port` is the control port for whichever family answers, else the
/// family's port in `opts` ([`AuditOptions::kasa_port`], the Hi-Flying `control_port`). A
/// plug that does not answer gives one [`Check::Reachable`] finding; one on newer firmware
/// one [`Check::Firmware`] finding.
pub async fn audit_host(
    ip: IpAddr,
    port: Option<u16>,
    family: Option<Family>,
    opts: &AuditOptions,
) -> PlugAudit {
    let kasa_addr = SocketAddr::new(ip, port.unwrap_or(opts.kasa_port));
    let hf_cfg = HfConfig { control_port: port.unwrap_or(opts.hf.control_port), ..opts.hf.clone() };
    let probing = family.is_none();
    let mut kasa_err = None;
    if family != Some(Family::Hf) {
        // While probing, one attempt: a plug of the other family must not cost retries.
        let retries = if probing { 0 } else { opts.kasa.retries };
        let cfg = ClientConfig { klap: Some(opts.klap.clone()), retries, ..opts.kasa.clone() };
        let probe = KasaDevice::new(kasa_addr, cfg);
        match probe.sysinfo().await {
            Ok(si) => {
                probe.close().await;
                let dev = KasaDevice::with_sysinfo(kasa_addr, opts.kasa.clone(), si.clone());
                let plug = PlugRef::from_discovered(&Discovered::from_sysinfo(kasa_addr, &si));
                let findings = kasa::audit(&dev, &plug, opts).await;
                dev.close().await;
                return PlugAudit { plug, findings };
            }
            Err(e) => {
                probe.close().await;
                kasa_err = Some(e);
            }
        }
    }
    let mut hf_err = None;
    if family != Some(Family::Kasa) {
        let dev = Device::Hf(HfDevice::new(ip, hf_cfg.clone()));
        match dev.describe().await {
            Ok(d) => {
                let plug = PlugRef::from_discovered(&d);
                let findings = match &dev {
                    Device::Hf(h) => hf::audit(h, &plug, opts).await,
                    Device::Kasa(k) => kasa::audit(k, &plug, opts).await,
                };
                dev.close().await;
                return PlugAudit { plug, findings };
            }
            Err(e) => {
                dev.close().await;
                hf_err = Some(e);
            }
        }
    }
    let (plug_port, plug_family) = match family {
        Some(Family::Hf) => (hf_cfg.control_port, Some(Family::Hf)),
        Some(Family::Kasa) => (kasa_addr.port(), Some(Family::Kasa)),
        None => (kasa_addr.port(), None),
    };
    let plug =
        PlugRef { host: ip.to_string(), port: plug_port, family: plug_family, model: None, alias: None };
    let error = match (kasa_err, hf_err) {
        (Some(k @ Error::NewerFirmware { .. }), _) => k,
        (Some(k), Some(h)) => Error::NoDevice { addr: kasa_addr, kasa: Box::new(k), hf: Box::new(h) },
        (Some(e), None) | (None, Some(e)) => e,
        (None, None) => Error::InvalidArgument { addr: kasa_addr, reason: "no family to probe".into() },
    };
    unreachable(plug, &error)
}

/// The audit of a plug that did not answer (or answered as a plug on newer KLAP firmware).
fn unreachable(mut plug: PlugRef, e: &Error) -> PlugAudit {
    if let Error::NewerFirmware { evidence, .. } = e {
        plug.family = Some(Family::Kasa);
        if let KlapEvidence::Discovery { model: Some(m), .. } = evidence {
            plug.model = Some(m.clone());
        }
        let findings = vec![kasa::klap_finding(&plug, evidence)];
        return PlugAudit { plug, findings };
    }
    let f = Finding::new(&plug, Check::Reachable, Severity::OfflineRisk, format!("no answer: {e}")).advice(
        "check that the plug is powered and on this network; a plug that answers nothing cannot be audited",
    );
    PlugAudit { plug, findings: vec![f] }
}

/// Where [`audit_network`] looks.
#[derive(Debug, Clone)]
pub struct NetworkScan {
    /// Discovery of the legacy families (Kasa on UDP 9999, Hi-Flying `YZ-RECOSCAN`).
    pub discover: DiscoverOptions,
    /// Where to send the newer (KLAP/AES) discovery probe, e.g. `255.255.255.255:20002`, or
    /// `None` to skip it. Plugs that answer it but not the legacy discovery have dropped
    /// the local protocol.
    pub klap_target: Option<SocketAddr>,
    /// How long to listen for KLAP discovery replies.
    pub klap_timeout: Duration,
}

/// Discovers plugs of both families (and plugs on newer firmware) and audits each, in
/// parallel (up to [`MAX_PARALLEL`] at once). The result is sorted by address.
pub async fn audit_network(scan: &NetworkScan, opts: &AuditOptions) -> Result<Vec<PlugAudit>> {
    let mut stream = device::discover(scan.discover.clone())?;
    let klap = async {
        match scan.klap_target {
            Some(t) => klap_scan::discover(t, scan.klap_timeout).await,
            None => Ok(Vec::new()),
        }
    };
    let legacy = async {
        let mut found = Vec::new();
        while let Some(d) = stream.next().await {
            found.push(d);
        }
        found
    };
    let (found, klap) = tokio::join!(legacy, klap);
    let klap = klap?;
    let legacy_ips: HashSet<String> = found.iter().map(|d| d.host.clone()).collect();
    let mut jobs: Vec<futures::future::BoxFuture<'_, PlugAudit>> = Vec::new();
    for d in &found {
        jobs.push(Box::pin(audit_discovered(d, opts)));
    }
    for k in klap {
        if legacy_ips.contains(&k.ip.to_string()) {
            continue;
        }
        let port = scan.discover.kasa.as_ref().map_or(crate::kasa::DEFAULT_PORT, |c| c.target.port());
        jobs.push(Box::pin(async move { klap_scan::audit(&k, port) }));
    }
    let mut out: Vec<PlugAudit> = futures::stream::iter(jobs).buffered(MAX_PARALLEL).collect().await;
    out.sort_by_key(|a| sort_key(&a.plug));
    Ok(out)
}

/// Audits explicit hosts (`(ip, control port)`), in parallel (up to [`MAX_PARALLEL`] at
/// once), in the order given.
pub async fn audit_hosts(
    hosts: &[(IpAddr, Option<u16>)],
    family: Option<Family>,
    opts: &AuditOptions,
) -> Vec<PlugAudit> {
    futures::stream::iter(hosts.iter().map(|(ip, port)| audit_host(*ip, *port, family, opts)))
        .buffered(MAX_PARALLEL)
        .collect()
        .await
}

fn sort_key(p: &PlugRef) -> (Option<IpAddr>, String, u16) {
    (p.host.parse().ok(), p.host.clone(), p.port)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plug(family: Family, port: u16) -> PlugRef {
        PlugRef { host: "127.0.0.2".into(), port, family: Some(family), model: None, alias: None }
    }

    #[test]
    fn names_and_order() {
        assert!(Severity::Risk < Severity::OfflineRisk && Severity::OfflineRisk < Severity::Info);
        assert_eq!(serde_json::to_value(Severity::OfflineRisk).unwrap(), "offline-risk");
        assert_eq!(serde_json::to_value(Check::AssistPassword).unwrap(), "assist-password");
        assert_eq!(Check::WebPassword.to_string(), "web-password");
        assert!(Severity::OfflineRisk.is_problem() && !Severity::Info.is_problem());
    }

    #[test]
    fn command_targets_omit_default_ports() {
        assert_eq!(plug(Family::Kasa, 9999).command_target(), "127.0.0.2");
        assert_eq!(plug(Family::Kasa, 4000).command_target(), "127.0.0.2:4000");
        assert_eq!(plug(Family::Hf, 8899).command_target(), "127.0.0.2");
        assert_eq!(plug(Family::Hf, 9999).command_target(), "127.0.0.2:9999");
    }

    #[test]
    fn summary_counts() {
        let p = plug(Family::Kasa, 9999);
        let a = PlugAudit {
            plug: p.clone(),
            findings: vec![
                Finding::new(&p, Check::Cloud, Severity::Risk, "x"),
                Finding::new(&p, Check::Clock, Severity::Ok, "y"),
                Finding::new(&p, Check::LocalProtocol, Severity::Info, "z"),
            ],
        };
        assert_eq!(a.worst(), Some(Severity::Risk));
        let s = Summary::of(&[a]);
        assert_eq!((s.plugs, s.risk, s.offline_risk, s.info, s.ok), (1, 1, 0, 1, 1));
        assert!(s.has_problems());
        assert!(!Summary::default().has_problems());
    }
}
