//! Facts about processes the benchmarks report: CPU time used, memory, and the open-file
//! limit raised for fleets of thousands of sockets.

use std::time::Duration;

/// Raises the soft RLIMIT_NOFILE to the hard limit (a fleet of N devices needs N sockets).
/// Returns the new soft limit.
pub fn raise_nofile_limit() -> std::io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

/// User + system CPU time of this process so far (see [`cpu_time_of`]).
pub fn cpu_time() -> Option<Duration> {
    cpu_time_in("/proc/self/stat")
}

/// User + system CPU time of process `pid` so far, from `/proc/PID/stat`, or `None` where
/// that is unavailable. Resolution is one clock tick (10 ms at the usual `CLK_TCK` of 100,
/// which is assumed), fine over runs of seconds.
pub fn cpu_time_of(pid: u32) -> Option<Duration> {
    cpu_time_in(&format!("/proc/{pid}/stat"))
}

fn cpu_time_in(path: &str) -> Option<Duration> {
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// A memory field of `/proc/self/status` in KiB (e.g. `VmRSS`, `VmHWM` for the peak).
pub fn status_kib(field: &str) -> anyhow::Result<u64> {
    use anyhow::Context;
    let status = std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?.strip_prefix(':')?.trim().strip_suffix("kB")?.trim().parse().ok()
        })
        .with_context(|| format!("{field} not in /proc/self/status"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_readable_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(cpu_time().is_some());
            assert!(cpu_time_of(std::process::id()).is_some());
            assert!(status_kib("VmRSS").is_ok_and(|k| k > 0));
        }
    }
}
