//! Connection counters and retry back-off shared by the device handles of both families.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

/// Counters of what a device handle did on the network, for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionStats {
    /// TCP connects started (successful or not).
    pub connect_attempts: u64,
    /// TCP connections established.
    pub connections: u64,
    /// Requests submitted (calls of `query`, `set_power`, …).
    pub requests: u64,
    /// Exchanges attempted (requests plus retries plus transparent resends).
    pub attempts: u64,
    /// Retries after a failed attempt (each one counted against `retries`).
    pub retries: u64,
    /// Transparent reconnects because the device had closed a kept connection; not
    /// counted as failures.
    pub reconnects: u64,
}

/// The live counters behind [`ConnectionStats`] (lock-free, relaxed ordering).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) connect_attempts: AtomicU64,
    pub(crate) connections: AtomicU64,
    pub(crate) requests: AtomicU64,
    pub(crate) attempts: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) reconnects: AtomicU64,
}

impl Counters {
    /// A consistent-enough copy of the counters.
    pub(crate) fn snapshot(&self) -> ConnectionStats {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ConnectionStats {
            connect_attempts: get(&self.connect_attempts),
            connections: get(&self.connections),
            requests: get(&self.requests),
            attempts: get(&self.attempts),
            retries: get(&self.retries),
            reconnects: get(&self.reconnects),
        }
    }
}

/// Adds one to a counter.
pub(crate) fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// The pause before retry number `retry` (0-based): `base · 2^retry`, capped at `max`.
pub(crate) fn backoff(base: Duration, max: Duration, retry: u32) -> Duration {
    let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
    base.checked_mul(factor).unwrap_or(Duration::MAX).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let (b, m) = (Duration::from_millis(250), Duration::from_secs(2));
        assert_eq!(backoff(b, m, 0), b);
        assert_eq!(backoff(b, m, 1), Duration::from_millis(500));
        assert_eq!(backoff(b, m, 3), m);
        assert_eq!(backoff(b, m, 40), m);
        assert_eq!(backoff(Duration::from_secs(u64::MAX / 2), m, 5), m);
    }

    #[test]
    fn counters_snapshot() {
        let c = Counters::default();
        bump(&c.requests);
        bump(&c.requests);
        bump(&c.retries);
        let s = c.snapshot();
        assert_eq!((s.requests, s.retries, s.connections), (2, 1, 0));
    }
}
