//! The workloads, identical for every client measured (and mirrored by `bench/py/`):
//!
//! - [`sequential`]: one kept-open connection, one request at a time (line 1);
//! - [`closed_loop`]: N devices at once, one worker per device, each looping
//!   request → reply on its own kept-open connection for a fixed time, one request in
//!   flight per device (line 2). Every connection is opened (and used once) before timing
//!   starts.

use std::{
    future::Future,
    time::{Duration, Instant},
};

use anyhow::{Context, Result};
use futures::StreamExt;
use tokio::{sync::watch, task::JoinSet};

use crate::{process, summarise, Summary};

/// How many connections are opened at once before a closed-loop run (a listen backlog is
/// finite; thousands of simultaneous SYNs to one listener would measure SYN retries).
pub const CONNECT_CONCURRENCY: usize = 256;

/// One client of one device: sends `get_sysinfo` and waits for the whole reply.
pub trait Poller: Send + 'static {
    /// One request and its reply.
    fn poll(&mut self) -> impl Future<Output = Result<()>> + Send;
}

/// `warmup` untimed requests, then `n` timed ones, one at a time.
pub async fn sequential<P: Poller>(p: &mut P, warmup: usize, n: usize) -> Result<Summary> {
    for _ in 0..warmup {
        p.poll().await.context("warm-up request")?;
    }
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        p.poll().await.context("timed request")?;
        samples.push(t.elapsed());
    }
    summarise(&mut samples).context("no samples")
}

/// What a closed-loop run measured.
#[derive(Debug)]
pub struct Outcome {
    /// Devices polled.
    pub devices: usize,
    /// Replies received in the timed phase.
    pub requests: u64,
    /// Requests that failed (the device's worker stops at its first failure).
    pub errors: u64,
    /// From the start signal until the last worker finished.
    pub elapsed: Duration,
    /// Latency of every timed request (issue → whole reply read).
    pub latency: Option<Summary>,
    /// CPU time this process used in the timed phase.
    pub cpu: Option<Duration>,
}

impl Outcome {
    /// Replies per second.
    pub fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    /// Client CPU time per reply, in microseconds.
    pub fn cpu_us_per_request(&self) -> Option<f64> {
        let cpu = self.cpu?;
        (self.requests > 0).then(|| cpu.as_secs_f64() * 1e6 / self.requests as f64)
    }

    /// The result as the JSON line the driver collects.
    pub fn to_json(&self, implementation: &str) -> serde_json::Value {
        let round1 = |x: f64| (x * 10.0).round() / 10.0;
        serde_json::json!({
            "bench": "fleet",
            "impl": implementation,
            "devices": self.devices,
            "seconds": (self.elapsed.as_secs_f64() * 1e3).round() / 1e3,
            "requests": self.requests,
            "errors": self.errors,
            "rps": round1(self.rps()),
            "median_us": self.latency.map(|s| s.median_us()),
            "p99_us": self.latency.map(|s| s.p99_us()),
            "cpu_us_per_req": self.cpu_us_per_request().map(round1),
        })
    }
}

/// Opens every connection (one request each, [`CONNECT_CONCURRENCY`] at a time), then runs
/// every poller in its own task for `duration`, all at once.
pub async fn closed_loop<P: Poller>(mut pollers: Vec<P>, duration: Duration) -> Result<Outcome> {
    let devices = pollers.len();
    let warm: Vec<Result<()>> = futures::stream::iter(pollers.iter_mut())
        .map(|p| p.poll())
        .buffer_unordered(CONNECT_CONCURRENCY)
        .collect()
        .await;
    let failed = warm.iter().filter(|r| r.is_err()).count();
    if let Some(Err(e)) = warm.into_iter().find(Result::is_err) {
        return Err(e.context(format!("{failed} of {devices} devices failed their first request")));
    }

    let (start_tx, start_rx) = watch::channel(None::<Instant>);
    let mut tasks = JoinSet::new();
    for mut p in pollers {
        let mut rx = start_rx.clone();
        tasks.spawn(async move {
            let deadline = match rx.wait_for(Option::is_some).await {
                Ok(d) => d.unwrap_or_else(Instant::now),
                Err(_) => return (Vec::new(), 0),
            };
            let mut samples = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                if p.poll().await.is_err() {
                    return (samples, 1);
                }
                samples.push(t.elapsed());
            }
            (samples, 0)
        });
    }
    let cpu0 = process::cpu_time();
    let start = Instant::now();
    start_tx.send_replace(Some(start + duration));
    let mut all = Vec::new();
    let mut errors = 0;
    while let Some(r) = tasks.join_next().await {
        let (samples, e) = r.context("a worker panicked")?;
        all.extend(samples);
        errors += e;
    }
    let elapsed = start.elapsed();
    let cpu = process::cpu_time().zip(cpu0).map(|(b, a)| b.saturating_sub(a));
    Ok(Outcome { devices, requests: all.len() as u64, errors, elapsed, latency: summarise(&mut all), cpu })
}
