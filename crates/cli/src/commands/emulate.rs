//! `plugctl emulate …`: emulated plugs in the foreground until interrupted.

use std::net::Ipv4Addr;

use anyhow::{Context, Result};
use plugctl_emulator::kasa::{builtin, builtin_names, fleet, FleetConfig, Profile, ServerConfig};
use serde_json::json;

use super::usage;
use crate::{args::EmulateKasaArgs, output};

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
    let profile = kasa_profile(args.model.as_deref(), args.profile.as_deref())?;
    let cfg = FleetConfig {
        count: args.count,
        base: args.base,
        port: args.port,
        profiles: vec![profile],
        broadcast: default_broadcast(args.base, args.broadcast),
        server: ServerConfig { close_after_reply: args.close_after_reply, ..ServerConfig::default() },
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
            }));
        } else {
            println!(
                "kasa {:<10} listening on {} (TCP+UDP)  mac {}  \"{}\"",
                d.model, d.addr, d.mac, d.alias
            );
        }
    }
    if !args.json {
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
