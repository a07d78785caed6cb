//! `plugctl emulate …`: emulated plugs in the foreground until interrupted.

use std::{net::Ipv4Addr, time::Duration};

use anyhow::{Context, Result};
use plugctl_emulator::kasa::{
    builtin, builtin_names,
    fleet::{self, FleetSockets},
    FleetConfig, Profile, ServerConfig,
};
use serde_json::json;

use plugctl_emulator::fault::Faults;

use super::usage;
use crate::{
    args::{EmulateKasaArgs, FaultArgs},
    output,
};

/// The loopback broadcast address fleets answer discovery on.
pub const LOOPBACK_BROADCAST: Ipv4Addr = Ipv4Addr::new(127, 255, 255, 255);

/// Resolves `--model`/`--profile` to a profile.
pub fn kasa_profile(model: Option<&str>, profile: Option<&std::path::Path>) -> Result<Profile> {
    if let Some(path) = profile {
        return Profile::from_dump_file(path)
            .map_err(|e| usage(format!("--profile {}: {e}", path.display())));
    }
    let name = model.unwrap_or("hs110-hw4");
    builtin(name).ok_or_else(|| {
        usage(format!("--model {name}: unknown model; built-in models: {}", builtin_names().join(", ")))
    })
}

/// The fault switch of `--fault`/`--fault-seed` (not started yet: see [`start_faults`]).
/// `hf` rejects the kinds that family cannot inject.
pub fn faults(args: &FaultArgs, hf: bool) -> Result<Faults> {
    if let Some(f) = args.faults.iter().find(|f| hf && !f.kind.applies_to_hf()) {
        return Err(usage(format!(
            "--fault {f}: applies to Kasa plugs only (the Hi-Flying protocol has no length prefix)"
        )));
    }
    Ok(Faults::new(args.faults.clone(), args.fault_seed))
}

/// Starts the `--fault-for` clock and says which faults are active (text mode only).
fn start_faults(faults: &Faults, args: &FaultArgs, json: bool) {
    if faults.specs().is_empty() {
        return;
    }
    if let Some(secs) = args.fault_for {
        faults.stop_after(Duration::from_secs_f64(secs));
    }
    if !json {
        let list: Vec<String> = faults.specs().iter().map(ToString::to_string).collect();
        let until = args.fault_for.map(|s| format!(" for the first {s} s")).unwrap_or_default();
        println!("injecting faults{until}: {} (seed {})", list.join(", "), args.fault_seed);
    }
}

/// The broadcast address a fleet on `base` answers by default.
pub fn default_broadcast(base: Ipv4Addr, explicit: Option<Ipv4Addr>) -> Option<Ipv4Addr> {
    explicit.or(base.is_loopback().then_some(LOOPBACK_BROADCAST))
}

/// `plugctl emulate kasa`.
pub async fn kasa(args: &EmulateKasaArgs) -> Result<()> {
    if args.list_models {
        for m in builtin_names() {
            let p = builtin(m).context("built-in profile")?;
            println!("{m:<12} {}", p.model());
        }
        return Ok(());
    }
    if args.count == 0 {
        return Err(usage("--count must be at least 1"));
    }
    if !(args.time_scale.is_finite() && args.time_scale > 0.0) {
        return Err(usage("--time-scale must be a positive number"));
    }
    let profile = kasa_profile(args.model.as_deref(), args.profile.as_deref())?;
    if args.klap || plugctl_emulator::kasa::klap::is_klap_profile(&profile) {
        if !args.fault.faults.is_empty() {
            return Err(usage("--fault does not apply to KLAP plugs (they have no port-9999 service)"));
        }
        return kasa_klap(args, &profile).await;
    }
    let faults = faults(&args.fault, false)?;
    let cfg = FleetConfig {
        time_scale: args.time_scale,
        count: args.count,
        base: args.base,
        port: args.port,
        profiles: vec![profile],
        broadcast: default_broadcast(args.base, args.broadcast),
        server: ServerConfig {
            close_after_reply: args.close_after_reply,
            faults: faults.clone(),
            ..ServerConfig::default()
        },
        sockets: if args.shared_sockets { FleetSockets::Shared } else { FleetSockets::Auto },
        ..FleetConfig::default()
    };
    let fleet = fleet::start(cfg)
        .await
        .with_context(|| format!("cannot start the emulated fleet on {}", args.base))?;
    for d in fleet.devices() {
        if args.json {
            output::json_line(&json!({
                "family": "kasa",
                "host": d.addr.ip().to_string(),
                "port": d.addr.port(),
                "model": d.model,
                "mac": d.mac,
                "alias": d.alias,
                "device_id": d.device_id,
                "sockets": fleet.sockets().as_str(),
            }));
        } else {
            println!(
                "kasa {:<10} listening on {} (TCP+UDP)  mac {}  \"{}\"",
                d.model, d.addr, d.mac, d.alias
            );
        }
    }
    start_faults(&faults, &args.fault, args.json);
    if !args.json {
        println!("{} devices on {} sockets", fleet.len(), fleet.sockets().as_str());
        if let Some(b) = default_broadcast(args.base, args.broadcast) {
            println!("answering discovery broadcasts on {b}:{}; Ctrl-C to stop", fleet.port());
        } else {
            println!("Ctrl-C to stop");
        }
    }
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    fleet.shutdown().await;
    Ok(())
}

/// `plugctl emulate kasa --klap` (or a dump of a KLAP plug): plugs on newer firmware, with
/// no port-9999 service, for the "newer firmware" error path.
async fn kasa_klap(args: &EmulateKasaArgs, profile: &Profile) -> Result<()> {
    use plugctl_emulator::kasa::klap::{self, KlapConfig, LegacyPort};
    let cfg = KlapConfig {
        legacy_port: args.port,
        legacy: if args.klap_refuse { LegacyPort::Refuse } else { LegacyPort::Close },
        http_port: args.klap_http_port,
        udp_port: args.klap_udp_port,
    };
    let running = klap::start(profile, args.count, args.base, 0, &cfg).await.with_context(|| {
        format!("cannot start the emulated KLAP plugs on {} (ports below 1024 need root; --klap-http-port 0 picks a free one)", args.base)
    })?;
    let legacy = if args.klap_refuse { "refused" } else { "closed without reply" };
    for d in running.devices() {
        if args.json {
            output::json_line(&json!({
                "family": "kasa",
                "host": d.ip.to_string(),
                "port": running.legacy_port(),
                "model": d.model,
                "mac": d.mac,
                "alias": d.alias,
                "device_id": d.device_id,
                "klap": true,
                "klap_http_port": running.http_port(),
                "klap_udp_port": running.udp_port(),
                "legacy_port": legacy,
            }));
        } else {
            println!(
                "kasa {:<10} KLAP firmware on {}: TCP {} {legacy}, handshake on HTTP {}, discovery on UDP {}",
                d.model,
                d.ip,
                running.legacy_port(),
                running.http_port(),
                running.udp_port()
            );
        }
    }
    if !args.json {
        println!("Ctrl-C to stop");
    }
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    running.shutdown().await;
    Ok(())
}

/// `plugctl emulate hf`.
pub async fn hf(args: &crate::args::EmulateHfArgs) -> Result<()> {
    use plugctl_emulator::hf::{fleet as hf_fleet, FleetConfig as HfFleetConfig, Link, Ports, StartMode};

    if args.count == 0 {
        return Err(usage("--count must be at least 1"));
    }
    if !(args.time_scale.is_finite() && args.time_scale > 0.0) {
        return Err(usage("--time-scale must be a positive number"));
    }
    let mode = match args.mode {
        crate::args::HfMode::Ap => StartMode::Ap,
        crate::args::HfMode::Sta => StartMode::Sta,
    };
    let faults = faults(&args.fault, true)?;
    let cfg = HfFleetConfig {
        server: plugctl_emulator::hf::ServerConfig { faults: faults.clone(), ..Default::default() },
        count: args.count,
        base: args.base,
        mode,
        other_base: args.home_base,
        ports: Ports { control: args.port, udp: args.udp_port, http: args.http_port },
        broadcast: default_broadcast(args.base, args.broadcast),
        time_scale: args.time_scale,
        ..HfFleetConfig::default()
    };
    let fleet = hf_fleet::start(cfg)
        .await
        .with_context(|| format!("cannot start the emulated plugs on {}", args.base))?;
    let ports = fleet.ports();
    for p in fleet.plugs() {
        if args.json {
            output::json_line(&json!({
                "family": "hf",
                "host": p.ip.to_string(),
                "port": ports.control,
                "udp_port": ports.udp,
                "http_port": ports.http,
                "mac": p.mac.to_string(),
                "serial": p.serial,
                "mode": mode.as_str(),
                "ap_ip": p.ap_ip.to_string(),
                "home_ip": p.home_ip.to_string(),
            }));
        } else {
            let http = ports.http.map(|h| format!(", HTTP {h}")).unwrap_or_default();
            println!(
                "hf HF-LPB100 Reco{} ({}) on {} TCP {} UDP {}{http}  mac {}  (home address {})",
                p.serial,
                mode.as_str(),
                p.ip,
                ports.control,
                ports.udp,
                p.mac,
                p.home_ip
            );
        }
    }
    start_faults(&faults, &args.fault, args.json);
    // Report reboots and address changes (e.g. after `wifi join`) as they happen.
    for i in 0..fleet.len() {
        let Some(plug) = fleet.plug(i) else { continue };
        let mut rx = plug.watch();
        let (json_out, serial) = (args.json, plug.serial().to_string());
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let st = rx.borrow_and_update().clone();
                let link = match &st.link {
                    Link::Ap => "ap".to_string(),
                    Link::Station { ssid } => format!("sta:{ssid}"),
                    Link::Both { ssid } => format!("apsta:{ssid}"),
                };
                let addrs: Vec<String> = st.addresses.iter().map(|a| a.to_string()).collect();
                if json_out {
                    output::json_line(&json!({
                        "event": "status", "serial": serial, "online": st.online,
                        "link": link, "addresses": addrs, "boots": st.boots,
                    }));
                } else {
                    println!(
                        "plug Reco{serial}: {} {link} on {}",
                        if st.online { "online" } else { "rebooting" },
                        addrs.join(", ")
                    );
                }
            }
        });
    }
    if !args.json {
        println!("Ctrl-C to stop");
    }
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    fleet.shutdown().await;
    Ok(())
}
