//! The emulator line: how many Kasa devices one process holds, and how many requests per
//! second it serves.
//!
//! Usage: `emulator_capacity [--devices N] [--connections C] [--seconds D] [--model M|all]
//! [--per-device]`, or `emulator_capacity --handle N [--model M]`.
//!
//! 1. Starts a fleet of N devices in this process (shared sockets unless `--per-device`),
//!    each on its own loopback address from 127.0.0.2, and reads this process's RSS from
//!    `/proc/self/status` before and after (VmRSS, VmHWM).
//! 2. Runs this binary again as a **separate driver process** (so the two ends of C
//!    connections do not share one file-descriptor limit, and this process's CPU time is the
//!    emulator's alone). The driver opens C kept-open connections spread round-robin over the
//!    devices, then each loops: one pre-encoded `{"system":{"get_sysinfo":{}}}` frame out, the
//!    whole reply frame in (not decrypted), for D seconds.
//! 3. Prints one JSON line:
//!    `{"line":"emulator","devices":N,"connections":C,"rss_mib":…,"kib_per_device":…,
//!    "devices_per_mib":…,"req_per_s":…,"emulator_cpu_us_per_req":…,…}`.
//!
//! `--handle N` measures the emulator's per-request work without sockets or runtime: N times
//! the TCP server's steps for one `get_sysinfo` frame (frame decoding and decryption, the
//! device's `handle`, encryption and framing of the reply), on one thread; prints
//! `{"line":"emulator_handle","requests":N,"us_per_req":…}`. Run it under
//! `valgrind --tool=callgrind` with two values of N for instructions per request.

use std::{
    io::Read,
    net::{Ipv4Addr, SocketAddr},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{bail, Context, Result};
use futures::{StreamExt, TryStreamExt};
use plugctl_bench::{
    flags::Flags,
    pollers::{self, Floor},
    process,
    workload::{self, CONNECT_CONCURRENCY},
};
use plugctl_emulator::kasa::{
    builtin,
    fleet::{self, addrs, FleetConfig, FleetSockets},
    Profile, ServerConfig,
};
use plugctl_proto::kasa::{frame, FrameDecoder, FrameEvent, DEFAULT_MAX_FRAME};
use serde_json::{json, Value};

/// Address of device 0.
const BASE: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);
/// The request every connection repeats.
const SYSINFO: &[u8] = br#"{"system":{"get_sysinfo":{}}}"#;

fn main() -> Result<()> {
    process::raise_nofile_limit().context("raising the open-file limit")?;
    let flags = Flags::from_env(&["drive", "per-device"])?;
    if flags.switch("drive") {
        return drive(&flags);
    }
    if let Some(n) = flags.opt::<u64>("handle")? {
        return handle_only(n, &flags.get("model", "hs110-hw4".to_string())?);
    }
    serve(&flags)
}

/// `--handle N`: the per-request work of the TCP server, N times, without I/O.
fn handle_only(n: u64, model: &str) -> Result<()> {
    let profile = builtin(model).with_context(|| format!("--model {model}: unknown built-in model"))?;
    let mut dev = profile.instantiate(0, 1);
    let request = frame::encode(SYSINFO);
    let mut decoder = FrameDecoder::new(DEFAULT_MAX_FRAME);
    let mut bytes = 0usize;
    let started = Instant::now();
    for _ in 0..n {
        decoder.push(&request);
        let Ok(Some(FrameEvent::Frame(payload))) = decoder.next_event() else { bail!("request not decoded") };
        let reply = dev.handle(&payload, Instant::now()).context("device did not answer")?;
        bytes += std::hint::black_box(frame::encode(&reply)).len();
    }
    let elapsed = started.elapsed();
    println!(
        "{}",
        json!({
            "line": "emulator_handle",
            "model": model,
            "requests": n,
            "reply_bytes": bytes / usize::try_from(n.max(1))?,
            "us_per_req": (elapsed.as_secs_f64() * 1e6 / n.max(1) as f64 * 100.0).round() / 100.0,
        })
    );
    Ok(())
}

/// The emulator side: start the fleet, measure memory, run the driver, report.
fn serve(flags: &Flags) -> Result<()> {
    let devices: usize = flags.get("devices", 1000)?;
    let connections: usize = flags.get("connections", devices.min(1000))?;
    let seconds: f64 = flags.get("seconds", 5.0)?;
    let model: String = flags.get("model", "hs110-hw4".to_string())?;
    if devices == 0 || connections == 0 || !(seconds.is_finite() && seconds > 0.0) {
        bail!("--devices, --connections and --seconds must be positive");
    }
    let profiles: Vec<Profile> = if model == "all" {
        Vec::new()
    } else {
        vec![builtin(&model).with_context(|| format!("--model {model}: unknown built-in model"))?]
    };
    let sockets = if flags.switch("per-device") { FleetSockets::PerDevice } else { FleetSockets::Shared };

    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let rss_base = process::status_kib("VmRSS")?;
    let started = Instant::now();
    let fleet = rt.block_on(fleet::start(FleetConfig {
        count: devices,
        base: BASE,
        profiles,
        sockets,
        connections: Some(connections),
        server: ServerConfig { max_connections: connections.div_ceil(devices).max(64), ..Default::default() },
        ..FleetConfig::default()
    }))?;
    let start_ms = started.elapsed().as_secs_f64() * 1e3;
    let rss_fleet = process::status_kib("VmRSS")?;
    let fleet_kib = rss_fleet.saturating_sub(rss_base).max(1);

    let cpu_before = process::cpu_time();
    let driver = run_driver(fleet.port(), devices, connections, seconds)?;
    let cpu = process::cpu_time().zip(cpu_before).map(|(a, b)| a.saturating_sub(b));
    let rss_loaded = process::status_kib("VmRSS")?;
    let hwm = process::status_kib("VmHWM")?;

    let requests = driver.get("requests").and_then(Value::as_u64).unwrap_or(0);
    let run_s = driver.get("elapsed_s").and_then(Value::as_f64).unwrap_or(seconds);
    let mib = |kib: u64| round1(kib as f64 / 1024.0);
    println!(
        "{}",
        json!({
            "line": "emulator",
            "devices": devices,
            "connections": connections,
            "seconds": seconds,
            "sockets": fleet.sockets().as_str(),
            "model": model,
            "start_ms": round1(start_ms),
            "rss_base_mib": mib(rss_base),
            "rss_mib": mib(rss_fleet),
            "fleet_mib": mib(fleet_kib),
            "kib_per_device": round1(fleet_kib as f64 / devices as f64),
            "devices_per_mib": round1(devices as f64 * 1024.0 / fleet_kib as f64),
            "rss_loaded_mib": mib(rss_loaded),
            "hwm_mib": mib(hwm),
            "requests": requests,
            "errors": driver.get("errors").and_then(Value::as_u64).unwrap_or(0),
            "req_per_s": round1(requests as f64 / run_s.max(1e-9)),
            "emulator_cpu_s": cpu.map(|c| round1(c.as_secs_f64())),
            "emulator_cpu_us_per_req": cpu
                .filter(|_| requests > 0)
                .map(|c| round1(c.as_secs_f64() * 1e6 / requests as f64)),
        })
    );
    rt.block_on(fleet.shutdown());
    Ok(())
}

/// Runs this binary with `--drive` against the fleet on `port`; returns its JSON result.
fn run_driver(port: u16, devices: usize, connections: usize, seconds: f64) -> Result<Value> {
    let exe = std::env::current_exe().context("locating this binary")?;
    let mut child = Command::new(exe)
        .args(["--drive", "--port", &port.to_string(), "--devices", &devices.to_string()])
        .args(["--connections", &connections.to_string(), "--seconds", &seconds.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .context("starting the driver process")?;
    let mut out = String::new();
    child.stdout.take().context("driver stdout")?.read_to_string(&mut out)?;
    let status = child.wait()?;
    if !status.success() {
        bail!("driver failed ({status}): {out}");
    }
    let line = out.lines().last().context("driver printed nothing")?;
    serde_json::from_str(line).with_context(|| format!("driver output: {line}"))
}

/// The driver side (a separate process): C closed-loop connections for D seconds.
fn drive(flags: &Flags) -> Result<()> {
    let port: u16 = flags.need("port")?;
    let devices: usize = flags.need("devices")?;
    let connections: usize = flags.need("connections")?;
    let seconds: f64 = flags.need("seconds")?;
    let ips = addrs::consecutive(BASE, devices)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let result = rt.block_on(async move {
        let targets: Vec<SocketAddr> = (0..connections)
            .filter_map(|i| ips.get(i % ips.len()).map(|ip| SocketAddr::from((*ip, port))))
            .collect();
        let request = pollers::sysinfo_frame();
        let floors: Vec<Floor> = futures::stream::iter(targets)
            .map(|addr| Floor::connect(addr, request.clone()))
            .buffer_unordered(CONNECT_CONCURRENCY)
            .try_collect()
            .await?;
        let out = workload::closed_loop(floors, Duration::from_secs_f64(seconds)).await?;
        anyhow::Ok(json!({
            "requests": out.requests,
            "errors": out.errors,
            "elapsed_s": out.elapsed.as_secs_f64(),
        }))
    })?;
    println!("{result}");
    Ok(())
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}
