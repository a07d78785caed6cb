//! Facts about this process the benchmarks report: CPU time used, and the open-file limit
//! raised for fleets of thousands of sockets.

use std::time::Duration;

/// Raises the soft RLIMIT_NOFILE to the hard limit (a fleet of N devices needs N sockets).
/// Returns the new soft limit.
pub fn raise_nofile_limit() -> std::io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

/// User + system CPU time of this process so far, from `/proc/self/stat`, or `None` where
/// that is unavailable. Resolution is one clock tick (10 ms at the usual `CLK_TCK` of 100,
/// which is assumed), fine over runs of seconds.
pub fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')')?.1;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_readable_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(cpu_time().is_some());
        }
    }
}
