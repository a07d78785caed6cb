//! File-descriptor budget of a fleet.
//!
//! What a fleet needs ([`fleet_fds`]):
//! - per-device sockets: 2 per device (TCP listener + UDP socket), 1 more for the broadcast
//!   socket, plus 1 per open client connection;
//! - shared sockets (Linux): 2 for the whole fleet (one TCP listener, one UDP socket), plus 1
//!   per open client connection.
//!
//! At fleet start the soft RLIMIT_NOFILE is raised to the hard limit; if that is still too
//! low, raising the hard limit is attempted (it works with CAP_SYS_RESOURCE, and not even
//! for root in some containers), else start fails with a clear error instead of failing
//! half-way with EMFILE.

use std::io;

use rlimit::Resource;

use super::FleetSockets;

/// Descriptors kept free for logs, the runtime and the rest of the process.
pub const RESERVE_FDS: u64 = 64;

/// Descriptors a fleet of `devices` needs in `mode`, with `broadcast` discovery and
/// `connections` concurrently open client connections ([`FleetSockets::Auto`] counts as
/// per-device, the most it can take).
pub fn fleet_fds(mode: FleetSockets, devices: u64, broadcast: bool, connections: u64) -> u64 {
    let sockets = match mode {
        FleetSockets::Auto | FleetSockets::PerDevice => {
            devices.saturating_mul(2).saturating_add(u64::from(broadcast))
        }
        FleetSockets::Shared => 2,
    };
    sockets.saturating_add(connections)
}

/// Raises the limit as far as allowed and checks that `extra` more descriptors fit
/// (besides those already open and [`RESERVE_FDS`]). Returns the soft limit in force, or
/// an error naming `what`, the need and the limits.
pub fn ensure_fds(extra: u64, what: &str) -> io::Result<u64> {
    let b = raise_for(extra)?;
    if b.soft < b.needed {
        return Err(io::Error::other(format!(
            "{what} needs about {} file descriptors, but RLIMIT_NOFILE allows {} (hard limit {}); \
             raise it (e.g. `ulimit -n {}` as root) or start fewer devices or connections",
            b.needed, b.soft, b.hard, b.needed
        )));
    }
    Ok(b.soft)
}

/// True if `extra` more descriptors fit, after raising the limit as far as allowed.
pub fn fits(extra: u64) -> io::Result<bool> {
    let b = raise_for(extra)?;
    Ok(b.soft >= b.needed)
}

/// The limits after trying to make room for `extra` more descriptors.
struct Budget {
    soft: u64,
    hard: u64,
    needed: u64,
}

fn raise_for(extra: u64) -> io::Result<Budget> {
    let (soft, hard) = Resource::NOFILE.get()?;
    let mut soft_now = soft;
    if soft < hard && Resource::NOFILE.set(hard, hard).is_ok() {
        soft_now = hard;
    }
    let needed = open_fds().saturating_add(extra).saturating_add(RESERVE_FDS);
    if soft_now < needed && Resource::NOFILE.set(needed, needed.max(hard)).is_ok() {
        soft_now = needed;
    }
    let hard_now = Resource::NOFILE.get().map(|(_, h)| h).unwrap_or(hard);
    Ok(Budget { soft: soft_now, hard: hard_now, needed })
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
        assert!(fits(10).unwrap());
        assert!(!fits(u64::MAX / 2).unwrap());
        let e = ensure_fds(u64::MAX / 2, "a fleet of too many devices").unwrap_err();
        assert!(e.to_string().contains("RLIMIT_NOFILE"), "{e}");
    }

    #[test]
    fn each_mode_counts_its_sockets() {
        assert_eq!(fleet_fds(FleetSockets::PerDevice, 10_000, true, 10_000), 30_001);
        assert_eq!(fleet_fds(FleetSockets::PerDevice, 10, false, 0), 20);
        assert_eq!(fleet_fds(FleetSockets::Shared, 10_000, true, 10_000), 10_002);
        assert_eq!(fleet_fds(FleetSockets::Shared, 10_000, false, 0), 2);
    }
}
