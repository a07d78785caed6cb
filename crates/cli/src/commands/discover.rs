//! `plugctl discover`: broadcast discovery, or unicast probing of explicit hosts.

use std::{net::SocketAddr, time::Duration};

use anyhow::Result;
use futures::StreamExt;
use plugctl_client::kasa::{discover, probe, Discovered, DiscoveryConfig};
use plugctl_proto::kasa::DEFAULT_PORT;
use serde_json::{json, Value};

use super::usage;
use crate::{args::DiscoverArgs, output, target};

/// The JSON line printed for one found device.
pub fn doc(d: &Discovered) -> Value {
    let si = &d.sysinfo;
    let mut v = json!({
        "host": d.addr.ip().to_string(),
        "port": d.addr.port(),
        "family": "kasa",
        "model": si.model,
        "mac": si.mac,
        "alias": si.alias,
        "on": si.is_on(),
        "device_id": si.device_id,
        "kind": si.kind(),
        "hw_ver": si.hw_ver,
        "sw_ver": si.sw_ver,
    });
    if let Some(r) = si.rssi {
        v["rssi"] = json!(r);
    }
    if !si.children.is_empty() {
        v["outlets"] = json!(si.children.len());
    }
    v
}

const COLUMNS: [(&str, usize); 6] =
    [("HOST", 22), ("MODEL", 11), ("MAC", 18), ("STATE", 6), ("FAMILY", 7), ("ALIAS", 0)];

fn header() -> String {
    COLUMNS
        .iter()
        .map(|(h, w)| format!("{h:<w$}", w = *w))
        .collect::<Vec<_>>()
        .join(" ")
        .trim_end()
        .to_string()
}

fn row(v: &Value) -> String {
    let s = |k: &str| v[k].as_str().unwrap_or("").to_string();
    let cells = [
        format!("{}:{}", s("host"), v["port"]),
        s("model"),
        s("mac"),
        output::on_off(v["on"].as_bool().unwrap_or(false)).to_string(),
        s("family"),
        s("alias"),
    ];
    cells
        .iter()
        .zip(COLUMNS)
        .map(|(c, (_, w))| format!("{c:<w$}"))
        .collect::<Vec<_>>()
        .join(" ")
        .trim_end()
        .to_string()
}

/// Runs discovery, printing each device as soon as it answers.
pub async fn run(args: &DiscoverArgs) -> Result<()> {
    let timeout = Duration::from_secs_f64(args.timeout);
    let mut found = 0usize;
    let emit = |v: Value, found: &mut usize| {
        if args.json {
            output::json_line(&v);
        } else {
            if *found == 0 {
                println!("{}", header());
            }
            println!("{}", row(&v));
        }
        *found += 1;
    };
    if !args.hosts.is_empty() {
        let mut addrs: Vec<SocketAddr> = Vec::new();
        for h in &args.hosts {
            addrs.push(target::resolve(h, args.port).await.map_err(|e| usage(format!("--host {h}: {e:#}")))?);
        }
        let cfg = DiscoveryConfig { timeout, ..DiscoveryConfig::default() };
        let mut failures = Vec::new();
        for (addr, res) in probe(&addrs, cfg).await {
            match res {
                Ok(d) => emit(doc(&d), &mut found),
                Err(e) => failures.push(format!("{addr}: {e}")),
            }
        }
        for f in &failures {
            eprintln!("warning: {f}");
        }
        if found == 0 {
            anyhow::bail!("no device answered ({} probed)", addrs.len());
        }
        return Ok(());
    }
    let target =
        target::resolve(&args.target, DEFAULT_PORT).await.map_err(|e| usage(format!("--target: {e:#}")))?;
    let target = SocketAddr::new(target.ip(), args.port);
    let cfg = DiscoveryConfig { target, timeout, ..DiscoveryConfig::default() };
    let stream = discover(cfg)?;
    futures::pin_mut!(stream);
    while let Some(d) = stream.next().await {
        emit(doc(&d), &mut found);
    }
    if !args.json {
        eprintln!("{found} device(s) found");
    }
    Ok(())
}
