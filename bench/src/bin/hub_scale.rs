//! The hub at scale: N emulated Kasa plugs polled at 1 Hz for S seconds.
//!
//! Usage: `hub_scale --devices N --seconds S [--plugctl PATH] [--warmup W]`.
//!
//! The emulator fleet runs as a separate process (`plugctl emulate kasa --count N --base
//! 127.0.0.2 --port 0 --json [--shared-sockets]`; the flag is required above 5 000 devices,
//! where one listener per device would not fit in the file-descriptor limit), so its CPU and
//! memory are not the hub's. The hub runs in this process through the library, as `plugctl
//! serve` runs it: `Hub::start` over a config with N `[[device]]` entries (interval 1 s,
//! discovery off, a temporary SQLite database), the extensions and the HTTP API on a loopback
//! port. After a warm-up (every device polled once, then `--warmup` seconds) it measures for
//! `--seconds` and prints one JSON line:
//!
//! - `cpu_share`: this process's user+system CPU time (`/proc/self/stat`) / wall time of the window
//!   (1.0 = one core busy); `emulator_cpu_share` the same for the emulator process;
//! - `peak_rss_mib`: `VmHWM` of this process at the end (the whole run, start-up included);
//! - `poll_lag_*_ms`: how late polls started against their schedule (hub poll statistics);
//!   `poll_duration_*_ms`: request to processed answer;
//! - `polls_per_s` vs `expected_polls_per_s` (N / 1 s), `polls_failed`, `offline_at_end`;
//! - `db_rows_per_s`, `db_commits_per_s`: sample rows and transactions committed per second;
//! - `dropped`: successful polls since start (each one a sample) minus sample rows in the
//!   database after the hub shut down and flushed — 0 means nothing was lost.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use plugctl_bench::process;
use plugctl_client::Family;
use plugctl_hub::{
    config::{DeviceEntry, HubConfig},
    metrics::PollStats,
    store::WriterStats,
    Hub, StartOptions,
};
use serde_json::json;

/// Above this many devices the emulator must share one listener between all of them.
const SHARED_SOCKETS_ABOVE: usize = 5_000;
/// Poll interval of every device, seconds.
const INTERVAL_S: f64 = 1.0;

struct Args {
    devices: usize,
    seconds: u64,
    warmup: u64,
    plugctl: PathBuf,
}

fn parse_args() -> Result<Args> {
    let mut devices = None;
    let mut seconds = 300;
    let mut warmup = 5;
    let mut plugctl = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = |name: &str| it.next().with_context(|| format!("{name} needs a value"));
        match a.as_str() {
            "--devices" => devices = Some(value("--devices")?.parse().context("--devices")?),
            "--seconds" => seconds = value("--seconds")?.parse().context("--seconds")?,
            "--warmup" => warmup = value("--warmup")?.parse().context("--warmup")?,
            "--plugctl" => plugctl = Some(PathBuf::from(value("--plugctl")?)),
            "-h" | "--help" => {
                println!(
                    "usage: hub_scale --devices N [--seconds S (300)] [--warmup W (5)] [--plugctl PATH]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument `{other}` (see --help)"),
        }
    }
    let devices: usize = devices.context("--devices N is required")?;
    if devices == 0 || seconds == 0 {
        bail!("--devices and --seconds must be at least 1");
    }
    let plugctl = match plugctl {
        Some(p) => p,
        None => {
            std::env::current_exe().context("own path")?.parent().context("own directory")?.join("plugctl")
        }
    };
    if !plugctl.exists() {
        bail!(
            "{} not found; build it with `cargo build --release -p plugctl` or pass --plugctl",
            plugctl.display()
        );
    }
    Ok(Args { devices, seconds, warmup, plugctl })
}

/// The emulator process; killed on drop.
struct Emulator {
    child: Child,
    devices: Vec<SocketAddr>,
    shared_sockets: bool,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn supports_shared_sockets(plugctl: &Path) -> Result<bool> {
    let out = Command::new(plugctl)
        .args(["emulate", "kasa", "--help"])
        .output()
        .with_context(|| format!("cannot run {}", plugctl.display()))?;
    Ok(String::from_utf8_lossy(&out.stdout).contains("--shared-sockets"))
}

fn start_emulator(plugctl: &Path, n: usize) -> Result<Emulator> {
    let shared_sockets = supports_shared_sockets(plugctl)?;
    if n > SHARED_SOCKETS_ABOVE && !shared_sockets {
        bail!(
            "{} devices need `plugctl emulate kasa --shared-sockets` (one listener per device would \
             exceed the file-descriptor limit); {} does not have it",
            n,
            plugctl.display()
        );
    }
    let mut cmd = Command::new(plugctl);
    cmd.args(["emulate", "kasa", "--count", &n.to_string(), "--base", "127.0.0.2", "--port", "0", "--json"]);
    if shared_sockets {
        cmd.arg("--shared-sockets");
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start {}", plugctl.display()))?;
    let stdout = child.stdout.take().context("emulator stdout")?;
    let mut emu = Emulator { child, devices: Vec::with_capacity(n), shared_sockets };
    for line in BufReader::new(stdout).lines() {
        let line = line.context("reading the emulator's output")?;
        let v: serde_json::Value =
            serde_json::from_str(&line).with_context(|| format!("emulator line `{line}`"))?;
        let host = v["host"].as_str().context("emulator line without host")?;
        let port = v["port"].as_u64().context("emulator line without port")?;
        emu.devices.push(SocketAddr::new(host.parse()?, u16::try_from(port)?));
        if emu.devices.len() == n {
            break;
        }
    }
    if emu.devices.len() < n {
        bail!("the emulator announced {} of {n} devices", emu.devices.len());
    }
    Ok(emu)
}

fn ms(d: Option<Duration>) -> f64 {
    d.map(|d| (d.as_secs_f64() * 1e6).round() / 1e3).unwrap_or(f64::NAN)
}

fn config(devices: &[SocketAddr]) -> HubConfig {
    let mut c = HubConfig::default();
    c.hub.poll_interval = INTERVAL_S;
    c.discovery.enabled = false;
    c.discovery.target = "127.255.255.255".into();
    c.devices = devices
        .iter()
        .map(|a| DeviceEntry {
            host: a.to_string(),
            family: Some(Family::Kasa),
            udp_port: None,
            name: None,
            room: None,
            tags: Vec::new(),
            interval: Some(INTERVAL_S),
            cloud_free: false,
        })
        .collect();
    c
}

/// A temporary directory removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Window {
    wall: Duration,
    cpu: Duration,
    emulator_cpu: Option<Duration>,
    polls: PollStats,
    store: WriterStats,
}

async fn run(args: Args) -> Result<serde_json::Value> {
    let n = args.devices;
    let emu = start_emulator(&args.plugctl, n)?;
    let dir = TempDir(std::env::temp_dir().join(format!("plugctl-hub-scale-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).with_context(|| format!("cannot create {}", dir.0.display()))?;
    let config = config(&emu.devices);

    let t_start = Instant::now();
    let hub = Hub::start(config.clone(), StartOptions { config_path: None, db_path: dir.0.join("hub.db") })
        .await
        .context("cannot start the hub")?;
    let start_s = t_start.elapsed().as_secs_f64();
    let extensions = plugctl_hub::extensions::start(&hub, &config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("API listener")?;
    let api_addr = listener.local_addr()?;
    let security = plugctl_hub::auth::Security::for_bind(api_addr, None);
    let opts = plugctl_hub::api::ApiOptions { scheduler: Some(extensions.scheduler.control()) };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server =
        tokio::spawn(plugctl_hub::api::serve_with(listener, hub.clone(), security, opts, async move {
            let _ = stop_rx.await;
        }));

    // Warm-up: every device polled at least once (or 60 s), then `--warmup` seconds.
    let warm_deadline = Instant::now() + Duration::from_secs(60);
    while hub.poll_stats().ok < n as u64 && Instant::now() < warm_deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(args.warmup)).await;

    let snap = || Window {
        wall: Duration::ZERO,
        cpu: process::cpu_time().unwrap_or_default(),
        emulator_cpu: process::cpu_time_of(emu.child.id()),
        polls: hub.poll_stats(),
        store: hub.store().writer_stats(),
    };
    let t0 = Instant::now();
    let before = snap();
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    let mut after = snap();
    after.wall = t0.elapsed();
    let offline_at_end = hub.devices().iter().filter(|d| !d.availability.online).count();

    // Stop polling, commit everything queued, then count what is in the database.
    let _ = stop_tx.send(());
    let _ = server.await;
    drop(extensions);
    hub.shutdown().await;
    let flushed = hub.store().flush().await;
    let total_polls = hub.poll_stats();
    let final_store = hub.store().writer_stats();
    let db_rows = hub.store().sample_count().context("counting samples")?;
    let peak = process::status_kib("VmHWM").ok().map(|k| k as f64 / 1024.0);

    let wall = after.wall.as_secs_f64();
    let polls = after.polls.since(&before.polls);
    let cpu = (after.cpu.saturating_sub(before.cpu)).as_secs_f64() / wall;
    let emulator_cpu = match (before.emulator_cpu, after.emulator_cpu) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a).as_secs_f64() / wall),
        _ => None,
    };
    let rows = after.store.committed_samples.saturating_sub(before.store.committed_samples);
    let commits = after.store.commits.saturating_sub(before.store.commits);
    let round = |x: f64, d: i32| (x * 10f64.powi(d)).round() / 10f64.powi(d);
    Ok(json!({
        "line": "hub",
        "devices": n,
        "seconds": args.seconds,
        "shared_sockets": emu.shared_sockets,
        "start_s": round(start_s, 2),
        "cpu_share": round(cpu, 3),
        "emulator_cpu_share": emulator_cpu.map(|c| round(c, 3)),
        "peak_rss_mib": peak.map(|p| round(p, 1)),
        "poll_lag_p50_ms": ms(polls.lag.quantile(0.5)),
        "poll_lag_p99_ms": ms(polls.lag.quantile(0.99)),
        "poll_lag_max_ms": ms(polls.lag.quantile(1.0)),
        "poll_duration_p50_ms": ms(polls.duration.quantile(0.5)),
        "poll_duration_p99_ms": ms(polls.duration.quantile(0.99)),
        "polls_per_s": round(polls.ok as f64 / wall, 1),
        "expected_polls_per_s": round(n as f64 / INTERVAL_S, 1),
        "polls_failed": polls.failed,
        "offline_at_end": offline_at_end,
        "db_rows_per_s": round(rows as f64 / wall, 1),
        "db_commits_per_s": round(commits as f64 / wall, 2),
        "samples_total": total_polls.ok,
        "db_rows": db_rows,
        "store_ignored": final_store.ignored_samples,
        "store_dropped": final_store.dropped_samples,
        "flush_ok": flushed.is_ok(),
        "dropped": total_polls.ok as i64 - db_rows as i64,
    }))
}

fn main() -> Result<()> {
    let args = parse_args()?;
    // The hub raises its own limit too; the emulator process is separate.
    let _ = process::raise_nofile_limit();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("tokio runtime")?;
    let line = rt.block_on(run(args))?;
    println!("{line}");
    Ok(())
}
