//! Median and p99 of a set of latency samples.

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

impl Summary {
    /// The median in microseconds, rounded to 0.1 µs.
    pub fn median_us(&self) -> f64 {
        micros(self.median)
    }

    /// The p99 in microseconds, rounded to 0.1 µs.
    pub fn p99_us(&self) -> f64 {
        micros(self.p99)
    }
}

/// A duration in microseconds, rounded to 0.1 µs.
pub fn micros(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e7).round() / 10.0
}

/// Summarises samples (sorted in place; nearest-rank on `(n-1)·q`). Returns `None` for no
/// samples.
pub fn summarise(samples: &mut [Duration]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_unstable();
    let last = samples.len() - 1;
    let at = |q: f64| samples[((last as f64) * q).round() as usize];
    Some(Summary { median: at(0.5), p99: at(0.99), n: samples.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_p99_of_one_to_hundred() {
        let mut v: Vec<Duration> = (1..=100).rev().map(Duration::from_micros).collect();
        let s = summarise(&mut v).unwrap_or_else(|| unreachable!());
        assert_eq!((s.median_us(), s.p99_us(), s.n), (51.0, 99.0, 100));
        assert!(summarise(&mut []).is_none());
    }
}
