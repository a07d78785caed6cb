//! The floor: the least a client can do per request, for lines 1 and 2. A pre-encoded
//! `get_sysinfo` frame is written to an already-open tokio socket and the 4-byte length and
//! the body are read back; nothing is decrypted or parsed.
//!
//! Usage:
//! - `floor rtt HOST:PORT [--requests N] [--warmup W]`: one connection, sequential
//!   (prints `{"bench":"rtt","impl":"floor",…}`);
//! - `floor fleet --devices FILE --count N [--seconds D]`: N devices in closed loop, as
//!   `fleet_poll` does for ours (prints `{"bench":"fleet","impl":"floor",…}`).

use std::{net::SocketAddr, time::Duration};

use anyhow::{bail, Context, Result};
use futures::{StreamExt, TryStreamExt};
use plugctl_bench::{
    devices,
    flags::Flags,
    pollers::{sysinfo_frame, Floor},
    workload::{self, CONNECT_CONCURRENCY},
};

fn main() -> Result<()> {
    plugctl_bench::process::raise_nofile_limit()?;
    let flags = Flags::from_env(&[])?;
    // The same runtimes as ours: current-thread for the one-connection line (as `kasa_rtt`),
    // multi-thread for fleets (as `fleet_poll`).
    let rtt = flags.positional.first().is_some_and(|m| m == "rtt");
    let rt = if rtt {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread().enable_all().build()
    }
    .context("tokio runtime")?;
    rt.block_on(run(flags))
}

async fn run(flags: Flags) -> Result<()> {
    let frame = sysinfo_frame();
    match flags.positional.first().map(String::as_str) {
        Some("rtt") => {
            let addr: SocketAddr = flags.positional.get(1).context("floor rtt HOST:PORT")?.parse()?;
            let mut floor = Floor::connect(addr, frame).await?;
            let s = workload::sequential(&mut floor, flags.get("warmup", 100)?, flags.get("requests", 2000)?)
                .await?;
            println!(
                "{}",
                serde_json::json!({"bench": "rtt", "impl": "floor", "median_us": s.median_us(), "p99_us": s.p99_us(), "n": s.n})
            );
        }
        Some("fleet") => {
            let addrs = devices::load(&flags.need::<String>("devices")?, flags.need("count")?)?;
            let seconds: f64 = flags.get("seconds", 5.0)?;
            let floors: Vec<Floor> = futures::stream::iter(addrs)
                .map(|a| Floor::connect(a, frame.clone()))
                .buffered(CONNECT_CONCURRENCY)
                .try_collect()
                .await?;
            let outcome = workload::closed_loop(floors, Duration::from_secs_f64(seconds)).await?;
            println!("{}", outcome.to_json("floor"));
        }
        _ => bail!(
            "usage: floor rtt HOST:PORT [--requests N] | floor fleet --devices FILE --count N [--seconds D]"
        ),
    }
    Ok(())
}
