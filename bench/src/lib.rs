//! # plugctl-bench
//!
//! Helpers for the side-by-side benchmarks in `bench/`: each binary prints its samples'
//! summary as one JSON line so the driver scripts can compare implementations in one run.

use std::time::Duration;

/// Median, p99 and count of a set of samples.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// Median.
    pub median: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Number of samples.
    pub n: usize,
}

/// Summarises samples (sorted in place). Returns `None` for no samples.
pub fn summarise(samples: &mut [Duration]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    Some(Summary { median: at(0.5), p99: at(0.99), n: samples.len() })
}
