//! Line 4, ours: time until the last of N emulated plugs is reported by broadcast discovery.
//!
//! Usage: `discover_fleet --target ADDR --port P --expect N [--timeout S] [--cli PLUGCTL]`.
//! Without `--cli` it calls the library (`plugctl_client::kasa::discover`, 3 datagrams spread
//! over the timeout, as python-kasa sends) and stops as soon as N distinct devices came in;
//! with `--cli` it runs the whole `plugctl discover --family kasa --json` process and times
//! its N-th output line from the spawn. Prints
//! `{"bench":"discovery","impl":…,"found":…,"expected":N,"first_ms":…,"last_ms":…}`
//! (`last_ms` is null if fewer than N came before the timeout).

use std::{
    net::{IpAddr, SocketAddr},
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use futures::StreamExt;
use plugctl_bench::flags::Flags;
use plugctl_client::kasa::{discover, DiscoveryConfig};
use tokio::io::{AsyncBufReadExt, BufReader};

#[tokio::main]
async fn main() -> Result<()> {
    plugctl_bench::process::raise_nofile_limit()?;
    let flags = Flags::from_env(&[])?;
    let target: IpAddr = flags.need("target")?;
    let port: u16 = flags.need("port")?;
    let expect: usize = flags.need("expect")?;
    let timeout = Duration::from_secs_f64(flags.get("timeout", 10.0)?);
    let cli: Option<String> = flags.opt("cli")?;
    let (found, first, last) = match &cli {
        None => library(SocketAddr::new(target, port), expect, timeout).await?,
        Some(exe) => whole_process(exe, target, port, expect, timeout).await?,
    };
    let ms = |d: Option<Duration>| d.map(|d| (d.as_secs_f64() * 1e4).round() / 10.0);
    println!(
        "{}",
        serde_json::json!({
            "bench": "discovery",
            "impl": if cli.is_some() { "plugctl-cli" } else { "plugctl" },
            "found": found,
            "expected": expect,
            "first_ms": ms(first),
            "last_ms": ms(last.filter(|_| found >= expect)),
        })
    );
    Ok(())
}

/// Discovery through the library; returns (found, first, last) times from the call.
async fn library(
    target: SocketAddr,
    expect: usize,
    timeout: Duration,
) -> Result<(usize, Option<Duration>, Option<Duration>)> {
    let start = Instant::now();
    let mut stream = discover(DiscoveryConfig { target, timeout, packets: 3, ..DiscoveryConfig::default() })?;
    let (mut found, mut first, mut last) = (0, None, None);
    while let Some(_device) = stream.next().await {
        found += 1;
        last = Some(start.elapsed());
        first = first.or(last);
        if found >= expect {
            break;
        }
    }
    Ok((found, first, last))
}

/// Discovery by the `plugctl` binary, timed from the spawn to its N-th JSON line.
async fn whole_process(
    exe: &str,
    target: IpAddr,
    port: u16,
    expect: usize,
    timeout: Duration,
) -> Result<(usize, Option<Duration>, Option<Duration>)> {
    let start = Instant::now();
    let mut child = tokio::process::Command::new(exe)
        .args(["discover", "--family", "kasa", "--json", "--target", &target.to_string()])
        .args(["--port", &port.to_string(), "--timeout", &timeout.as_secs_f64().to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("running {exe}"))?;
    let stdout = child.stdout.take().context("child stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let (mut found, mut first, mut last) = (0, None, None);
    while let Some(line) = lines.next_line().await? {
        if line.trim_start().starts_with('{') {
            found += 1;
            last = Some(start.elapsed());
            first = first.or(last);
            if found >= expect {
                break;
            }
        }
    }
    child.kill().await.ok();
    Ok((found, first, last))
}
