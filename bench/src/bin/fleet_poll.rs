//! Line 2, ours: plugctl-client polling N emulated plugs at once, in closed loop (one worker
//! per device looping `get_sysinfo` → reply for D seconds on its kept-open connection; see
//! `plugctl_bench::workload::closed_loop`).
//!
//! Usage: `fleet_poll --devices FILE --count N [--seconds D]`, FILE being the JSON lines of
//! `plugctl emulate kasa --json`; prints `{"bench":"fleet","impl":"plugctl",…}`.

use std::time::Duration;

use anyhow::Result;
use plugctl_bench::{devices, flags::Flags, pollers::Ours, workload};

#[tokio::main]
async fn main() -> Result<()> {
    plugctl_bench::process::raise_nofile_limit()?;
    let flags = Flags::from_env(&[])?;
    let addrs = devices::load(&flags.need::<String>("devices")?, flags.need("count")?)?;
    let seconds: f64 = flags.get("seconds", 5.0)?;
    let ours: Vec<Ours> = addrs.into_iter().map(Ours::new).collect();
    let outcome = workload::closed_loop(ours, Duration::from_secs_f64(seconds)).await?;
    println!("{}", outcome.to_json("plugctl"));
    Ok(())
}
