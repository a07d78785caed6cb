//! `plugctl discover`: broadcast discovery of both families, or probing of explicit hosts.

use std::{net::SocketAddr, time::Duration};

use anyhow::Result;
use futures::StreamExt;
use plugctl_client::{
    device::{discover, DiscoverOptions},
    hf::{HfConfig, HfDiscoveryConfig},
    kasa::{ClientConfig, DiscoveryConfig},
    ConnectOptions, Device, Family,
};
use serde_json::Value;

use super::usage;
use crate::{args::DiscoverArgs, output, target};

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

/// One table row for a found device's JSON document.
pub fn row(v: &Value) -> String {
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

/// Prints found devices as they come: JSON lines or a table.
struct Printer {
    json: bool,
    found: usize,
}

impl Printer {
    fn emit(&mut self, v: &Value) {
        if self.json {
            output::json_line(v);
        } else {
            if self.found == 0 {
                println!("{}", header());
            }
            println!("{}", row(v));
        }
        self.found += 1;
    }
}

/// Broadcast discovery options for the given target and families.
pub fn options(
    target: std::net::IpAddr,
    args_port: u16,
    hf_port: u16,
    hf_control_port: u16,
    timeout: Duration,
    family: Option<Family>,
) -> DiscoverOptions {
    let want = |f| family.is_none_or(|x| x == f);
    DiscoverOptions {
        kasa: want(Family::Kasa).then(|| DiscoveryConfig {
            target: SocketAddr::new(target, args_port),
            timeout,
            ..DiscoveryConfig::default()
        }),
        hf: want(Family::Hf).then(|| HfDiscoveryConfig {
            target: SocketAddr::new(target, hf_port),
            timeout,
            reply_port: hf_port,
            ..HfDiscoveryConfig::default()
        }),
        hf_control_port,
    }
}

/// Runs discovery, printing each device as soon as it answers.
pub async fn run(args: &DiscoverArgs) -> Result<()> {
    let timeout = Duration::from_secs_f64(args.timeout);
    let mut out = Printer { json: args.json, found: 0 };
    if !args.hosts.is_empty() {
        return probe_hosts(args, timeout, &mut out).await;
    }
    let target = target::resolve_host(&args.target).await.map_err(|e| usage(format!("--target: {e:#}")))?;
    let opts = options(target, args.port, args.hf_port, args.hf_control_port, timeout, args.family);
    let mut stream = discover(opts)?;
    while let Some(d) = stream.next().await {
        out.emit(&serde_json::to_value(&d)?);
    }
    if !args.json {
        eprintln!("{} device(s) found", out.found);
    }
    Ok(())
}

/// `--host`: asks each host directly (both families unless `--family`), in parallel.
async fn probe_hosts(args: &DiscoverArgs, timeout: Duration, out: &mut Printer) -> Result<()> {
    let kasa = ClientConfig { timeout, retries: 1, ..ClientConfig::default() };
    let hf = HfConfig {
        control_port: args.hf_control_port,
        udp_port: args.hf_port,
        reply_port: args.hf_port,
        ..HfConfig::from_client(&kasa)
    };
    let mut jobs = Vec::new();
    for h in &args.hosts {
        let (ip, port) = target::resolve(h).await.map_err(|e| usage(format!("--host {h}: {e:#}")))?;
        let opts = ConnectOptions {
            family: args.family,
            // A port given with the host wins. Otherwise each family is probed on its own
            // port: Kasa on --port, HF on --hf-control-port; a --port other than the Kasa
            // default, with no --family, applies to both (as before).
            port: port.or(match args.family {
                Some(Family::Hf) => None,
                Some(Family::Kasa) => Some(args.port),
                None => (args.port != plugctl_proto::kasa::DEFAULT_PORT).then_some(args.port),
            }),
            kasa: kasa.clone(),
            hf: hf.clone(),
        };
        jobs.push(async move {
            let dev = Device::connect(ip, &opts).await?;
            let found = dev.describe().await?;
            serde_json::to_value(&found).map_err(|e| plugctl_client::Error::InvalidArgument {
                addr: dev.addr(),
                reason: format!("cannot represent the device as JSON: {e}"),
            })
        });
    }
    let results = futures::future::join_all(jobs).await;
    let total = results.len();
    for r in results {
        match r {
            Ok(v) => out.emit(&v),
            Err(e) => eprintln!("warning: {e}"),
        }
    }
    if out.found == 0 {
        anyhow::bail!("no device answered ({total} probed)");
    }
    Ok(())
}
