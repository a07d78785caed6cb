//! `plugctl demo`: emulated Kasa and Hi-Flying plugs started in-process, discovered together
//! by broadcast on loopback, one plug of each family switched and metered — everything a real
//! session does, with no plugs.

use std::{net::Ipv4Addr, time::Duration};

use anyhow::{Context, Result};
use futures::StreamExt;
use plugctl_client::{
    device::{discover, Discovered},
    hf::HfConfig,
    kasa::ClientConfig,
    ConnectOptions, Device, Family,
};
use plugctl_emulator::{hf, kasa};

use super::{discover::options, emulate::LOOPBACK_BROADCAST};
use crate::{args::DemoArgs, output};

const KASA_MODELS: [&str; 6] = ["hs110-hw4", "hs100-hw2", "hs300", "kp115", "hs110-hw1", "hs100-hw1"];

/// Runs the demo.
pub async fn run(args: &DemoArgs) -> Result<()> {
    let kasa_count = args.count.clamp(1, 200);
    let hf_count = (kasa_count / 3).max(1);
    let profiles = KASA_MODELS
        .iter()
        .map(|m| kasa::builtin(m).context("built-in profile"))
        .collect::<Result<Vec<_>>>()?;
    let kasa_fleet = kasa::fleet::start(kasa::FleetConfig {
        count: kasa_count,
        base: Ipv4Addr::new(127, 0, 0, 2),
        port: 0,
        profiles,
        broadcast: Some(LOOPBACK_BROADCAST),
        // Simulated time runs 60× faster so the energy counters visibly move.
        time_scale: 60.0,
        ..kasa::FleetConfig::default()
    })
    .await
    .context("cannot start the emulated Kasa plugs on 127.0.0.2…")?;
    let hf_base = Ipv4Addr::new(127, 0, 1, 2);
    let hf_fleet = hf::fleet::start(hf::FleetConfig {
        count: hf_count,
        base: hf_base,
        ports: hf::Ports { control: 0, udp: 0, http: None },
        broadcast: Some(LOOPBACK_BROADCAST),
        time_scale: 60.0,
        ..hf::FleetConfig::default()
    })
    .await
    .context("cannot start the emulated Hi-Flying plugs on 127.0.1.2…")?;
    let hp = hf_fleet.ports();
    println!(
        "Started {kasa_count} emulated Kasa plugs on 127.0.0.2… (port {}) and {hf_count} Hi-Flying plugs on {hf_base}… (TCP {}, UDP {}).",
        kasa_fleet.port(),
        hp.control,
        hp.udp
    );
    println!("Discovering both families by broadcast on {LOOPBACK_BROADCAST} …\n");

    let opts = options(
        LOOPBACK_BROADCAST.into(),
        kasa_fleet.port(),
        hp.udp,
        hp.control,
        Duration::from_millis(1500),
        None,
    );
    let mut found: Vec<Discovered> = discover(opts)?.collect().await;
    found.sort_by_key(|d| (d.family.as_str(), d.addr()));
    let rows: Vec<Vec<String>> = found
        .iter()
        .map(|d| {
            vec![
                format!("{}:{}", d.host, d.port),
                d.family.to_string(),
                d.model.clone(),
                d.mac.clone(),
                output::on_off(d.on).into(),
                d.alias.clone(),
            ]
        })
        .collect();
    print!("{}", output::table(&["HOST", "FAMILY", "MODEL", "MAC", "STATE", "ALIAS"], &rows));
    println!("Found {} of {} devices.\n", found.len(), kasa_count + hf_count);

    let kasa_cfg = ClientConfig::default();
    let hf_cfg = HfConfig { udp_port: hp.udp, reply_port: hp.udp, ..HfConfig::default() };
    for family in [Family::Kasa, Family::Hf] {
        let Some(d) = found.iter().find(|d| {
            d.family == family
                && d.details.get("outlets").is_none()
                && (family == Family::Hf || d.model.starts_with("HS110"))
        }) else {
            continue;
        };
        let Some(addr) = d.addr() else { continue };
        let opts = ConnectOptions {
            family: Some(family),
            port: Some(addr.port()),
            kasa: kasa_cfg.clone(),
            hf: hf_cfg.clone(),
        };
        let dev = Device::connect(addr.ip(), &opts).await?;
        let name = format!("{} {} \"{}\" at {addr}", family, d.model, d.alias);
        dev.set_power(false, None).await?;
        println!("Switched {name} OFF: {:.1} W", dev.energy(None).await?.power_w);
        dev.set_power(true, None).await?;
        let on = dev.state(None).await?.on;
        println!("Switched {name} {} (read back from the plug)", if on { "ON" } else { "OFF?" });
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let e = dev.energy(None).await?;
        println!(
            "  energy now: {:.1} W at {:.1} V, {:.3} A; total {:.4} kWh\n",
            e.power_w, e.voltage_v, e.current_a, e.total_kwh
        );
    }
    kasa_fleet.shutdown().await;
    hf_fleet.shutdown().await;
    Ok(())
}
