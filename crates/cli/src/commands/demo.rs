//! `plugctl demo`: an emulated fleet started in-process, discovered by broadcast on loopback,
//! one plug switched and its energy read — everything a real session does, with no plugs.

use std::{net::Ipv4Addr, time::Duration};

use anyhow::{Context, Result};
use futures::StreamExt;
use plugctl_client::kasa::{discover, ClientConfig, DiscoveryConfig, KasaDevice};
use plugctl_emulator::kasa::{builtin, fleet, FleetConfig};

use super::{discover::doc, emulate::LOOPBACK_BROADCAST};
use crate::{args::DemoArgs, output};

const MODELS: [&str; 6] = ["hs110-hw4", "hs100-hw2", "hs300", "kp115", "hs110-hw1", "hs100-hw1"];

/// Runs the demo.
pub async fn run(args: &DemoArgs) -> Result<()> {
    let count = args.count.clamp(1, 250);
    let profiles =
        MODELS.iter().map(|m| builtin(m).context("built-in profile")).collect::<Result<Vec<_>>>()?;
    let cfg = FleetConfig {
        count,
        base: Ipv4Addr::new(127, 0, 0, 2),
        port: 0,
        profiles,
        broadcast: Some(LOOPBACK_BROADCAST),
        // Simulated time runs 60× faster so the energy counter visibly moves.
        time_scale: 60.0,
        ..FleetConfig::default()
    };
    let fleet = fleet::start(cfg).await.context("cannot start the emulated fleet on 127.0.0.2…")?;
    println!("Started {count} emulated Kasa plugs on 127.0.0.2… port {}.", fleet.port());
    println!("Discovering by broadcast on {LOOPBACK_BROADCAST}:{} …\n", fleet.port());

    let dcfg = DiscoveryConfig {
        target: (LOOPBACK_BROADCAST, fleet.port()).into(),
        timeout: Duration::from_millis(1500),
        ..DiscoveryConfig::default()
    };
    let mut found = Vec::new();
    let stream = discover(dcfg)?;
    futures::pin_mut!(stream);
    while let Some(d) = stream.next().await {
        found.push(d);
    }
    found.sort_by_key(|d| d.addr);
    let rows: Vec<Vec<String>> = found
        .iter()
        .map(|d| {
            let v = doc(d);
            vec![
                d.addr.to_string(),
                d.sysinfo.model.clone(),
                d.sysinfo.mac.clone(),
                output::on_off(d.sysinfo.is_on()).into(),
                v["alias"].as_str().unwrap_or("").into(),
            ]
        })
        .collect();
    print!("{}", output::table(&["HOST", "MODEL", "MAC", "STATE", "ALIAS"], &rows));
    println!("Found {} of {count} devices.\n", found.len());

    let metered = found
        .iter()
        .find(|d| d.sysinfo.has_emeter() && d.sysinfo.children.is_empty())
        .context("no plug with an energy meter answered")?;
    let plug = KasaDevice::new(metered.addr, ClientConfig::default());
    let name = format!("{} \"{}\" at {}", metered.sysinfo.model, metered.sysinfo.alias, metered.addr);
    plug.set_power(false, None).await?;
    println!("Switched {name} OFF: {:.1} W", plug.energy(None).await?.power_w);
    plug.set_power(true, None).await?;
    let on = plug.sysinfo().await?.is_on();
    println!("Switched {name} {} (read back from the plug)", if on { "ON" } else { "OFF?" });
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let e = plug.energy(None).await?;
    println!(
        "Energy now: {:.1} W at {:.1} V, {:.3} A; total {:.4} kWh",
        e.power_w, e.voltage_v, e.current_a, e.total_kwh
    );
    fleet.shutdown().await;
    Ok(())
}
