//! The open-files limit (`RLIMIT_NOFILE`): every device handle with a kept connection holds
//! one file descriptor, so a program polling thousands of plugs from one process needs
//! thousands of descriptors, while the usual soft limit is 1024.
//!
//! - [`raise_soft_limit`]: raises the soft limit to the hard limit (allowed without
//!   privileges); call it once at start-up;
//! - [`ensure_room_for`]: does that and checks that `connections` more descriptors fit,
//!   failing with an error that names the limits and what to change, instead of connects
//!   failing one by one with `EMFILE` later;
//! - a connect that still runs out of descriptors fails as an I/O error whose message names
//!   the limit (see [`explain_emfile`]).

use std::io;

use rlimit::Resource;

/// Descriptors kept free besides the device connections: the runtime, logs, discovery
/// sockets and whatever else the process has open later.
pub const RESERVE: u64 = 64;

/// The open-files limits in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdLimits {
    /// The soft limit: what the process may open.
    pub soft: u64,
    /// The hard limit: how far the soft limit may be raised without privileges.
    pub hard: u64,
}

/// Why the open-files limit is not enough.
#[derive(Debug, thiserror::Error)]
pub enum FdLimitError {
    /// The limit could not be read at all.
    #[error("cannot read the open-files limit (RLIMIT_NOFILE): {0}")]
    Unavailable(#[source] io::Error),
    /// Even after raising the soft limit to the hard limit, the connections do not fit.
    #[error(
        "{connections} connections need about {needed} open files ({open} open now, {reserve} \
         kept in reserve), but the open-files limit (RLIMIT_NOFILE) is {soft} (hard limit \
         {hard}); raise it (`ulimit -n {needed}`, or `LimitNOFILE=` in a systemd unit) or \
         connect to fewer devices"
    )]
    TooLow {
        /// Connections asked for.
        connections: u64,
        /// Descriptors open when checked.
        open: u64,
        /// Descriptors kept for other uses ([`RESERVE`] by default).
        reserve: u64,
        /// `connections + open + reserve`.
        needed: u64,
        /// The soft limit after raising it.
        soft: u64,
        /// The hard limit.
        hard: u64,
    },
}

/// The limits in force now.
pub fn current() -> Result<FdLimits, FdLimitError> {
    let (soft, hard) = Resource::NOFILE.get().map_err(FdLimitError::Unavailable)?;
    Ok(FdLimits { soft, hard })
}

/// Raises the soft limit to the hard limit, as far as the system allows, and returns the
/// limits then in force. Not being allowed to raise it is not an error: the limits are
/// returned as they are.
pub fn raise_soft_limit() -> Result<FdLimits, FdLimitError> {
    let now = current()?;
    if now.soft < now.hard && Resource::NOFILE.set(now.hard, now.hard).is_ok() {
        return current();
    }
    Ok(now)
}

/// Raises the soft limit ([`raise_soft_limit`]) and checks that `connections` more
/// descriptors fit beside those open now and [`RESERVE`]. Returns the limits in force.
pub fn ensure_room_for(connections: u64) -> Result<FdLimits, FdLimitError> {
    ensure_room_with_reserve(connections, RESERVE)
}

/// [`ensure_room_for`] with a reserve of the caller's choosing, for programs that keep more
/// than [`RESERVE`] descriptors for other things (a hub's database, API clients, MQTT).
pub fn ensure_room_with_reserve(connections: u64, reserve: u64) -> Result<FdLimits, FdLimitError> {
    let limits = raise_soft_limit()?;
    check(connections, open_now(), reserve, limits)?;
    Ok(limits)
}

/// The check of [`ensure_room_with_reserve`], on given figures.
fn check(connections: u64, open: u64, reserve: u64, limits: FdLimits) -> Result<(), FdLimitError> {
    let needed = connections.saturating_add(open).saturating_add(reserve);
    if needed <= limits.soft {
        return Ok(());
    }
    Err(FdLimitError::TooLow { connections, open, reserve, needed, soft: limits.soft, hard: limits.hard })
}

/// Descriptors open now (Linux `/proc/self/fd`; 0 where unavailable).
fn open_now() -> u64 {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count() as u64).unwrap_or(0)
}

/// If `error` is "too many open files" (`EMFILE`, or `ENFILE` for the whole system),
/// the same error with a message naming the limit and what to do; otherwise `error`.
pub fn explain_emfile(error: io::Error) -> io::Error {
    // EMFILE and ENFILE on Linux, the BSDs and macOS.
    const EMFILE: i32 = 24;
    const ENFILE: i32 = 23;
    let Some(code @ (EMFILE | ENFILE)) = error.raw_os_error() else { return error };
    let which = if code == EMFILE { "this process" } else { "the system" };
    let limits = match current() {
        Ok(l) => format!("soft limit {}, hard limit {}", l.soft, l.hard),
        Err(_) => "limit unknown".to_string(),
    };
    io::Error::new(
        error.kind(),
        format!(
            "{error}: {which} ran out of file descriptors (RLIMIT_NOFILE {limits}); each kept \
             device connection uses one: raise the limit (`ulimit -n`) or call \
             plugctl_client::fd_limit::raise_soft_limit at start-up"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raising_keeps_or_raises_the_soft_limit() {
        let before = current().unwrap();
        let after = raise_soft_limit().unwrap();
        assert!(after.soft >= before.soft);
        assert!(after.soft <= after.hard);
        assert!(ensure_room_for(10).is_ok());
    }

    #[test]
    fn too_many_connections_name_the_limit() {
        let limits = FdLimits { soft: 20_000, hard: 20_000 };
        assert!(check(10_000, 20, RESERVE, limits).is_ok());
        let e = check(30_000, 20, RESERVE, limits).unwrap_err().to_string();
        assert!(e.contains("30000 connections") && e.contains("RLIMIT_NOFILE) is 20000"), "{e}");
        assert!(e.contains("ulimit -n 30084"), "{e}");
        let e = ensure_room_for(u64::MAX / 2).unwrap_err();
        assert!(matches!(e, FdLimitError::TooLow { .. }), "{e}");
    }

    #[test]
    fn emfile_is_explained() {
        let e = explain_emfile(io::Error::from_raw_os_error(24));
        assert!(e.to_string().contains("RLIMIT_NOFILE"), "{e}");
        let other = explain_emfile(io::ErrorKind::ConnectionReset.into());
        assert_eq!(other.kind(), io::ErrorKind::ConnectionReset);
        assert!(!other.to_string().contains("RLIMIT_NOFILE"));
    }
}
