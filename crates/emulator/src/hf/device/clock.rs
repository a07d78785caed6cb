//! The simulated clock of a plug: starts at the first [`Instant`] it sees and runs
//! `time_scale` times faster than real time; it never runs backwards, whatever instants are
//! injected.

use std::time::{Duration, Instant};

/// Simulated seconds are capped here (about 3,000 years).
const MAX_SIM_SECS: f64 = 1e11;

/// See the module docs.
#[derive(Debug, Clone)]
pub(crate) struct SimClock {
    scale: f64,
    origin: Option<Instant>,
    sim: f64,
}

impl SimClock {
    pub(crate) fn new(scale: f64) -> Self {
        Self { scale, origin: None, sim: 0.0 }
    }

    /// The simulated seconds at `now` (never earlier than the current ones). The first call
    /// fixes the origin.
    pub(crate) fn target(&mut self, now: Instant) -> f64 {
        let Some(origin) = self.origin else {
            self.origin = Some(now);
            return self.sim;
        };
        let t = now.saturating_duration_since(origin).as_secs_f64() * self.scale;
        t.clamp(self.sim, MAX_SIM_SECS)
    }

    /// Moves the clock forward to `sim`.
    pub(crate) fn set_sim(&mut self, sim: f64) {
        if sim > self.sim {
            self.sim = sim.min(MAX_SIM_SECS);
        }
    }

    /// Current simulated seconds.
    pub(crate) fn sim(&self) -> f64 {
        self.sim
    }

    /// The real instant at which simulated second `sim` is reached (`None` before the first
    /// instant was seen).
    pub(crate) fn instant_of(&self, sim: f64) -> Option<Instant> {
        let origin = self.origin?;
        let real = (sim / self.scale).clamp(0.0, MAX_SIM_SECS);
        origin.checked_add(Duration::try_from_secs_f64(real).ok()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scaled_monotonic_and_invertible() {
        let t0 = Instant::now();
        let mut c = SimClock::new(60.0);
        assert_eq!(c.instant_of(1.0), None);
        assert_eq!(c.target(t0), 0.0);
        let s = c.target(t0 + Duration::from_secs(2));
        assert!((s - 120.0).abs() < 1e-6);
        c.set_sim(s);
        assert_eq!(c.target(t0), 120.0, "never backwards");
        let at = c.instant_of(60.0).unwrap();
        assert_eq!(at, t0 + Duration::from_secs(1));
    }
}
