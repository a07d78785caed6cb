//! Line 3: whole-process time of a command, run many times (the repeat runner; no
//! hyperfine needed).
//!
//! Usage: `cold_cli --label NAME [--runs K] [--warmup W] -- COMMAND ARGS…`. Each run's
//! wall time covers spawn to exit, output discarded; a run that exits non-zero is an error.
//! Prints `{"bench":"cold_cli","impl":NAME,"median_ms":…,"p99_ms":…,"n":K}`.

use std::{
    process::{Command, Stdio},
    time::Instant,
};

use anyhow::{bail, Context, Result};
use plugctl_bench::{flags::Flags, summarise};

fn main() -> Result<()> {
    let flags = Flags::from_env(&[])?;
    let label: String = flags.need("label")?;
    let runs: usize = flags.get("runs", 50)?;
    let warmup: usize = flags.get("warmup", 3)?;
    let (exe, args) =
        flags.positional.split_first().context("usage: cold_cli --label NAME -- COMMAND ARGS…")?;
    let run = || -> Result<std::time::Duration> {
        let t = Instant::now();
        let status = Command::new(exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .with_context(|| format!("running {exe}"))?;
        let took = t.elapsed();
        if !status.success() {
            bail!("`{exe} {}` failed: {status}", args.join(" "));
        }
        Ok(took)
    };
    for _ in 0..warmup {
        run()?;
    }
    let mut samples = (0..runs).map(|_| run()).collect::<Result<Vec<_>>>()?;
    let s = summarise(&mut samples).context("no runs")?;
    let ms = |d: std::time::Duration| (d.as_secs_f64() * 1e5).round() / 100.0;
    println!(
        "{}",
        serde_json::json!({"bench": "cold_cli", "impl": label, "median_ms": ms(s.median), "p99_ms": ms(s.p99), "n": s.n})
    );
    Ok(())
}
