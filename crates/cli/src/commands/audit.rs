//! `plugctl audit`: finds plugs (or asks the given hosts) and reports, per plug, what puts
//! their owner at risk or off-line, each with the `plugctl` command that fixes it where one
//! exists. Read-only: nothing is changed on any plug.
//!
//! Exit codes: 0 no risk found; 3 at least one `risk` or `offline-risk` finding (like a
//! linter); 1 the audit could not run (nothing found, a socket could not be opened);
//! 2 bad arguments.

use std::{net::SocketAddr, time::Duration};

use anyhow::Result;
use clap::Args;
use plugctl_client::{
    audit::{self, AuditOptions, NetworkScan, PlugAudit, Severity, Summary},
    hf::HfConfig,
    kasa::{ClientConfig, KlapProbe},
    Family,
};
use serde_json::json;

use super::usage;
use crate::{output, target};

/// The exit code when risks were found.
pub const RISKS_FOUND_EXIT: u8 = 3;

/// Returned by [`run`] when the audit found risks (exit code [`RISKS_FOUND_EXIT`]; the report
/// is already printed).
#[derive(Debug, thiserror::Error)]
#[error("the audit found risks")]
pub struct RisksFound;

/// `plugctl audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Broadcast (or unicast) address the discovery queries go to.
    #[arg(long, value_name = "ADDR", default_value = "255.255.255.255")]
    pub target: String,
    /// Audit these hosts (HOST or HOST:PORT) instead of discovering plugs.
    #[arg(long = "host", value_name = "HOST[:PORT]")]
    pub hosts: Vec<String>,
    /// Only this family (both by default).
    #[arg(long, value_name = "kasa|hf", value_parser = parse_family)]
    pub family: Option<Family>,
    /// Kasa port (UDP discovery and TCP control).
    #[arg(long, value_name = "P", default_value_t = 9999)]
    pub port: u16,
    /// Hi-Flying UDP port (discovery and the assist protocol).
    #[arg(long, value_name = "P", default_value_t = 48899)]
    pub hf_port: u16,
    /// Hi-Flying control port (TCP).
    #[arg(long, value_name = "P", default_value_t = 8899)]
    pub hf_control_port: u16,
    /// Hi-Flying web port (TCP) checked for the factory login.
    #[arg(long, value_name = "P", default_value_t = 80)]
    pub http_port: u16,
    /// UDP port of the newer (KLAP/AES) discovery, which finds plugs that dropped the
    /// local protocol.
    #[arg(long, value_name = "P", default_value_t = plugctl_client::kasa::klap::DEFAULT_UDP_PORT)]
    pub klap_port: u16,
    /// HTTP port probed for the KLAP handshake when a host refuses port 9999 (tests).
    #[arg(long, hide = true, value_name = "P", default_value_t = plugctl_client::kasa::klap::DEFAULT_HTTP_PORT)]
    pub klap_http_port: u16,
    /// Seconds to listen for discovery replies, and to wait for each reply from a plug.
    #[arg(long, value_name = "SECS", default_value_t = 3.0, value_parser = parse_secs)]
    pub timeout: f64,
    /// Retries of an unanswered request.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(0..=5))]
    pub retries: u32,
    /// Largest tolerated clock difference to this computer, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub max_drift: u32,
    /// Show secrets found (the home Wi-Fi key) instead of only saying they are readable.
    #[arg(long)]
    pub show_secrets: bool,
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}

fn parse_family(s: &str) -> Result<Family, String> {
    s.parse().map_err(|e: plugctl_client::device::UnknownFamily| e.to_string())
}

fn parse_secs(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if !(v > 0.0 && v <= 3600.0) {
        return Err(format!("{s} s is out of range (0 < SECS <= 3600)"));
    }
    Ok(v)
}

/// The audit settings of the command line.
fn options(args: &AuditArgs, timeout: Duration) -> AuditOptions {
    let kasa = ClientConfig { timeout, retries: args.retries, ..ClientConfig::default() };
    AuditOptions {
        hf: HfConfig {
            control_port: args.hf_control_port,
            udp_port: args.hf_port,
            reply_port: args.hf_port,
            listen_reply_port: false,
            ..HfConfig::from_client(&kasa)
        },
        kasa,
        kasa_port: args.port,
        http_port: args.http_port,
        klap: KlapProbe { http_port: args.klap_http_port, udp_port: args.klap_port, timeout },
        max_drift_s: i64::from(args.max_drift),
        show_secrets: args.show_secrets,
    }
}

/// Runs the audit and prints the report.
pub async fn run(args: &AuditArgs) -> Result<()> {
    let timeout = Duration::from_secs_f64(args.timeout);
    let opts = options(args, timeout);
    let audits = if args.hosts.is_empty() {
        let target =
            target::resolve_host(&args.target).await.map_err(|e| usage(format!("--target: {e:#}")))?;
        let discover = super::discover::options(
            target,
            args.port,
            args.hf_port,
            args.hf_control_port,
            timeout,
            args.family,
        );
        let kasa_wanted = args.family.is_none_or(|f| f == Family::Kasa);
        let scan = NetworkScan {
            discover,
            klap_target: kasa_wanted.then(|| SocketAddr::new(target, args.klap_port)),
            klap_timeout: timeout,
        };
        let found = audit::audit_network(&scan, &opts).await?;
        if found.is_empty() {
            anyhow::bail!("no plug answered discovery on {target}; nothing to audit");
        }
        found
    } else {
        let mut hosts = Vec::new();
        for h in &args.hosts {
            hosts.push(target::resolve(h).await.map_err(|e| usage(format!("--host {h}: {e:#}")))?);
        }
        audit::audit_hosts(&hosts, args.family, &opts).await
    };
    let summary = Summary::of(&audits);
    if args.json {
        output::json_line(&json!({
            "plugs": audits,
            "summary": summary,
            "risks_found": summary.has_problems(),
        }));
    } else {
        print!("{}", text(&audits, &summary));
    }
    if summary.has_problems() {
        return Err(RisksFound.into());
    }
    Ok(())
}

/// The human report: one block per plug, worst findings first, then a summary line.
pub fn text(audits: &[PlugAudit], summary: &Summary) -> String {
    let mut out = String::new();
    for a in audits {
        let p = &a.plug;
        let family = p.family.map_or("?", Family::as_str);
        let mut head = format!("{}  {family}", p.addr_text());
        if let Some(m) = &p.model {
            head.push_str(&format!("  {m}"));
        }
        if let Some(alias) = &p.alias {
            head.push_str(&format!("  \"{alias}\""));
        }
        out.push_str(&head);
        out.push('\n');
        let mut findings: Vec<_> = a.findings.iter().collect();
        findings.sort_by_key(|f| f.severity);
        for f in findings {
            let sev = match f.severity {
                Severity::Risk => "RISK",
                Severity::OfflineRisk => "OFFLINE-RISK",
                Severity::Info => "info",
                Severity::Ok => "ok",
            };
            out.push_str(&format!("  {sev:<12}  {:<15}  {}\n", f.check.as_str(), f.detail));
            let pad = " ".repeat(2 + 12 + 2 + 15 + 2);
            if let Some(fix) = &f.fix {
                out.push_str(&format!("{pad}fix: {fix}\n"));
            }
            if let Some(advice) = &f.advice {
                out.push_str(&format!("{pad}advice: {advice}\n"));
            }
        }
        out.push('\n');
    }
    out.push_str(&format!(
        "{} plug(s): {} risk, {} offline-risk, {} info, {} ok{}\n",
        summary.plugs,
        summary.risk,
        summary.offline_risk,
        summary.info,
        summary.ok,
        if summary.has_problems() { " (exit code 3)" } else { "" }
    ));
    out
}
