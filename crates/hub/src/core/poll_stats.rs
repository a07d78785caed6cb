//! Hub-wide poll timings: how late each poll started against its schedule (lag), how long
//! it took (duration), and how many polls succeeded or failed. Recorded lock-free by every
//! poller task (a few relaxed atomic adds per poll), read as a [`PollStats`] snapshot by
//! metrics and benchmarks.
//!
//! Definitions:
//! - **lag**: the instant a poll actually started minus the instant it was scheduled for.
//!   Pollers run on a fixed-rate schedule (`due += interval`), so a hub that cannot keep up
//!   shows it here, not as a slowly drifting rate.
//! - **duration**: from sending the poll request to having processed its answer (what
//!   `Reading::latency_ms` holds), for successful and failed polls alike.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

/// Exact buckets below this many microseconds.
const LINEAR: usize = 16;
/// Sub-buckets per power of two above [`LINEAR`] (so a bucket is at most 12.5 % wide).
const SUB: usize = 8;
/// Highest power of two tracked: 2^40 µs ≈ 12.7 days; anything longer lands in the last bucket.
const MAX_EXP: usize = 40;
/// Number of buckets.
pub(crate) const BUCKETS: usize = LINEAR + (MAX_EXP - 3) * SUB;

/// The bucket of a value in microseconds.
fn bucket_of(us: u64) -> usize {
    if us < LINEAR as u64 {
        return us as usize;
    }
    let exp = 63 - us.leading_zeros() as usize; // ≥ 4
    let sub = ((us >> (exp - 3)) & 7) as usize;
    (LINEAR + (exp - 4) * SUB + sub).min(BUCKETS - 1)
}

/// The exclusive upper bound of a bucket, microseconds.
fn upper_bound_us(bucket: usize) -> u64 {
    if bucket < LINEAR {
        return bucket as u64 + 1;
    }
    let exp = (bucket - LINEAR) / SUB + 4;
    let sub = ((bucket - LINEAR) % SUB) as u64;
    (9 + sub) << (exp - 3)
}

/// A histogram of durations, recorded with relaxed atomics.
pub(crate) struct AtomicHistogram {
    buckets: Box<[AtomicU64]>,
    sum_us: AtomicU64,
}

impl AtomicHistogram {
    fn new() -> Self {
        Self { buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(), sum_us: AtomicU64::new(0) }
    }

    fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.buckets[bucket_of(us)].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    fn snapshot(&self) -> DurationHistogram {
        DurationHistogram {
            buckets: self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).collect(),
            sum_us: self.sum_us.load(Ordering::Relaxed),
        }
    }
}

/// The recorder every poller writes to.
pub(crate) struct PollRecorder {
    ok: AtomicU64,
    failed: AtomicU64,
    lag: AtomicHistogram,
    duration: AtomicHistogram,
}

impl Default for PollRecorder {
    fn default() -> Self {
        Self {
            ok: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            lag: AtomicHistogram::new(),
            duration: AtomicHistogram::new(),
        }
    }
}

impl PollRecorder {
    /// A poll started `lag` after it was due.
    pub(crate) fn started(&self, lag: Duration) {
        self.lag.record(lag);
    }

    /// A poll ended after `took`.
    pub(crate) fn finished(&self, ok: bool, took: Duration) {
        if ok { &self.ok } else { &self.failed }.fetch_add(1, Ordering::Relaxed);
        self.duration.record(took);
    }

    /// What has been recorded so far.
    pub(crate) fn snapshot(&self) -> PollStats {
        PollStats {
            ok: self.ok.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            lag: self.lag.snapshot(),
            duration: self.duration.snapshot(),
        }
    }
}

/// A histogram of durations with buckets at most 12.5 % wide (exact below 16 µs), from
/// [`PollStats`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationHistogram {
    buckets: Vec<u64>,
    sum_us: u64,
}

impl DurationHistogram {
    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// Sum of the values recorded.
    pub fn sum(&self) -> Duration {
        Duration::from_micros(self.sum_us)
    }

    /// The `q` quantile (0 ≤ q ≤ 1), as the upper bound of the bucket it falls in (so never
    /// an underestimate); `None` when nothing was recorded.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.buckets.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(Duration::from_micros(upper_bound_us(i)));
            }
        }
        Some(Duration::from_micros(upper_bound_us(BUCKETS - 1)))
    }

    /// How many values were at most `le`, counting whole buckets whose upper bound is at or
    /// below `le` (for Prometheus buckets; exact when `le` is a bucket boundary).
    pub fn count_at_most(&self, le: Duration) -> u64 {
        let le_us = u64::try_from(le.as_micros()).unwrap_or(u64::MAX);
        self.buckets.iter().enumerate().take_while(|(i, _)| upper_bound_us(*i) <= le_us).map(|(_, c)| c).sum()
    }

    /// What was recorded after `earlier` (a snapshot of the same recorder).
    pub fn since(&self, earlier: &DurationHistogram) -> DurationHistogram {
        DurationHistogram {
            buckets: self
                .buckets
                .iter()
                .zip(earlier.buckets.iter().chain(std::iter::repeat(&0)))
                .map(|(a, b)| a.saturating_sub(*b))
                .collect(),
            sum_us: self.sum_us.saturating_sub(earlier.sum_us),
        }
    }
}

/// Poll counts and timings of the whole hub since it started ([`crate::Hub::poll_stats`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollStats {
    /// Successful polls (each one published a `Sample` event).
    pub ok: u64,
    /// Failed polls.
    pub failed: u64,
    /// Start lag: actual start minus scheduled start.
    pub lag: DurationHistogram,
    /// Poll duration (request to processed answer).
    pub duration: DurationHistogram,
}

impl PollStats {
    /// What happened after `earlier` (a snapshot of the same hub).
    pub fn since(&self, earlier: &PollStats) -> PollStats {
        PollStats {
            ok: self.ok.saturating_sub(earlier.ok),
            failed: self.failed.saturating_sub(earlier.failed),
            lag: self.lag.since(&earlier.lag),
            duration: self.duration.since(&earlier.duration),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_values_and_are_narrow() {
        let mut last = 0;
        for us in [0u64, 1, 15, 16, 17, 100, 999, 1_000, 1_500, 65_537, 1_000_000, 3_600_000_000] {
            let b = bucket_of(us);
            assert!(b >= last, "buckets grow with values");
            last = b;
            let hi = upper_bound_us(b);
            assert!(us < hi, "{us} < {hi}");
            let lo = if b == 0 { 0 } else { upper_bound_us(b - 1) };
            assert!(us >= lo, "{us} >= {lo}");
            assert!((hi - lo) as f64 <= (lo.max(8) as f64) * 0.125 + 1.0, "{us}: [{lo}, {hi})");
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn quantiles_and_differences() {
        let r = PollRecorder::default();
        for ms in 1..=100 {
            r.started(Duration::from_millis(ms));
        }
        let first = r.snapshot();
        let p99 = first.lag.quantile(0.99).unwrap_or_default();
        assert!(p99 >= Duration::from_millis(99) && p99 <= Duration::from_millis(112), "{p99:?}");
        assert_eq!(first.lag.count(), 100);
        for _ in 0..10 {
            r.started(Duration::from_secs(2));
        }
        r.finished(true, Duration::from_millis(3));
        let later = r.snapshot().since(&first);
        assert_eq!((later.lag.count(), later.ok, later.failed), (10, 1, 0));
        assert!(later.lag.quantile(0.5).unwrap_or_default() >= Duration::from_secs(2));
        assert_eq!(first.lag.count_at_most(Duration::from_millis(1)), 0);
        assert!(first.lag.count_at_most(Duration::from_secs(1)) == 100);
    }
}
