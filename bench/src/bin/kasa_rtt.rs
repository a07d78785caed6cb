//! Line 1, ours: `get_sysinfo` round trip of plugctl-client on one kept-open connection.
//!
//! Usage: `kasa_rtt HOST:PORT [--requests N] [--warmup W]`; prints
//! `{"bench":"rtt","impl":"plugctl","median_us":…,"p99_us":…,"n":…}`.

use std::net::SocketAddr;

use anyhow::{Context, Result};
use plugctl_bench::{flags::Flags, pollers::Ours, workload};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    plugctl_bench::process::raise_nofile_limit()?;
    let flags = Flags::from_env(&[])?;
    let addr: SocketAddr =
        flags.positional.first().context("usage: kasa_rtt HOST:PORT [--requests N]")?.parse()?;
    let n = flags.get("requests", 2000)?;
    let mut ours = Ours::new(addr);
    let s = workload::sequential(&mut ours, flags.get("warmup", 100)?, n).await?;
    println!(
        "{}",
        serde_json::json!({"bench": "rtt", "impl": "plugctl", "median_us": s.median_us(), "p99_us": s.p99_us(), "n": s.n})
    );
    Ok(())
}
