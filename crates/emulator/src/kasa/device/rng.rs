//! A tiny deterministic PRNG (splitmix64) for measurement noise and rule ids: 8 bytes of
//! state per device.

use crate::kasa::profile::ids::splitmix64;

/// See the module docs.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        splitmix64(&mut self.0)
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[-amplitude, amplitude)`.
    pub(crate) fn jitter(&mut self, amplitude: f64) -> f64 {
        (self.unit() * 2.0 - 1.0) * amplitude
    }

    /// 32 uppercase hex digits (rule ids).
    pub(crate) fn hex32(&mut self) -> String {
        format!("{:016X}{:016X}", self.next_u64(), self.next_u64())
    }
}
