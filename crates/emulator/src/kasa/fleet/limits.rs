//! File-descriptor budget: each device needs 2 (TCP listener + UDP socket), plus its open
//! connections. At fleet start the soft RLIMIT_NOFILE is raised to the hard limit; if that
//! is still too low, raising the hard limit is attempted (it works with CAP_SYS_RESOURCE),
//! else start fails with a clear error instead of failing half-way with EMFILE.

use std::io;

use rlimit::Resource;

/// Descriptors kept free for connections, logs and the rest of the process.
pub const RESERVE_FDS: u64 = 64;

/// Raises the limit and checks that `extra` more descriptors fit (besides those already
/// open). Returns the soft limit in force.
pub fn ensure_fds(extra: u64, what: &str) -> io::Result<u64> {
    let (soft, hard) = Resource::NOFILE.get()?;
    let mut soft_now = soft;
    if soft < hard && Resource::NOFILE.set(hard, hard).is_ok() {
        soft_now = hard;
    }
    let needed = open_fds().saturating_add(extra).saturating_add(RESERVE_FDS);
    if soft_now < needed && Resource::NOFILE.set(needed, needed.max(hard)).is_ok() {
        soft_now = needed;
    }
    if soft_now < needed {
        return Err(io::Error::other(format!(
            "{what} needs about {needed} file descriptors, but RLIMIT_NOFILE allows {soft_now} \
             (hard limit {hard}); raise it (e.g. `ulimit -n {needed}` as root) or start fewer devices"
        )));
    }
    Ok(soft_now)
}

/// Descriptors open now (Linux `/proc/self/fd`; 0 where unavailable).
fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count() as u64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_budgets_pass_and_absurd_ones_fail_clearly() {
        assert!(ensure_fds(10, "test").is_ok());
        let e = ensure_fds(u64::MAX / 2, "a fleet of too many devices").unwrap_err();
        assert!(e.to_string().contains("RLIMIT_NOFILE"), "{e}");
    }
}
