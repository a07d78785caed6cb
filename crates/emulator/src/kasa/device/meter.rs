//! The simulated energy meter of one outlet.
//!
//! While the relay is on, power is the outlet's load with ±2 % noise; voltage is the nominal
//! mains voltage with ±0.5 % noise (also reported while off); current is
//! `power / (voltage × pf)` with a per-outlet power factor in 0.9–1.0. A new sample is taken
//! at most once per simulated second, and whenever the relay switches. Energy integrates
//! the power in effect over elapsed simulated time, so the total is monotonic and
//! Δtotal ≈ mean power × Δt; the same energy is credited to per-day statistics.

use plugctl_proto::kasa::EmeterReading;

use super::{clock::DayKey, rng::Rng, stats::DayStats};

/// Relative power noise.
const POWER_NOISE: f64 = 0.02;
/// Relative voltage noise.
const VOLTAGE_NOISE: f64 = 0.005;
/// Minimum simulated seconds between two samples.
const SAMPLE_PERIOD_S: f64 = 1.0;

/// See the module docs.
#[derive(Debug, Clone)]
pub(crate) struct Meter {
    load_w: f64,
    nominal_v: f64,
    pf: f64,
    power_w: f64,
    voltage_v: f64,
    current_a: f64,
    total_kwh: f64,
    last_sample: f64,
    /// Energy per local day, kWh.
    pub(crate) energy: DayStats,
}

fn finite_or(x: f64, default: f64) -> f64 {
    if x.is_finite() && x >= 0.0 {
        x
    } else {
        default
    }
}

impl Meter {
    /// A meter drawing `load_w` when on. `initial` (from a dump) is reported until the first
    /// sample; without it the cumulative total starts at a plausible random value.
    pub(crate) fn new(
        load_w: f64,
        nominal_v: f64,
        initial: Option<EmeterReading>,
        on: bool,
        rng: &mut Rng,
    ) -> Self {
        let pf = 0.9 + 0.1 * rng.unit();
        let mut m = Self {
            load_w: finite_or(load_w, 0.0),
            nominal_v: finite_or(nominal_v, 230.0),
            pf,
            power_w: 0.0,
            voltage_v: 0.0,
            current_a: 0.0,
            total_kwh: 1.0 + 49.0 * rng.unit(),
            last_sample: 0.0,
            energy: DayStats::default(),
        };
        match initial {
            Some(r) => {
                m.power_w = finite_or(r.power_w, 0.0);
                m.voltage_v = finite_or(r.voltage_v, m.nominal_v);
                m.current_a = finite_or(r.current_a, 0.0);
                m.total_kwh = finite_or(r.total_kwh, 0.0);
            }
            None => m.sample(on, rng),
        }
        m
    }

    /// Credits the power in effect over `dt` simulated seconds, split by day in `segments`.
    pub(crate) fn integrate(&mut self, dt: f64, segments: &[(DayKey, f64)]) {
        if dt <= 0.0 {
            return;
        }
        self.total_kwh += self.power_w * dt / 3.6e6;
        for (day, secs) in segments {
            self.energy.add(*day, self.power_w * secs / 3.6e6);
        }
    }

    /// Takes a new sample if a sample period has passed since the last one, or if `force`.
    pub(crate) fn resample(&mut self, on: bool, sim: f64, rng: &mut Rng, force: bool) {
        if force || sim - self.last_sample >= SAMPLE_PERIOD_S {
            self.last_sample = sim;
            self.sample(on, rng);
        }
    }

    fn sample(&mut self, on: bool, rng: &mut Rng) {
        self.voltage_v = self.nominal_v * (1.0 + rng.jitter(VOLTAGE_NOISE));
        if on {
            self.power_w = self.load_w * (1.0 + rng.jitter(POWER_NOISE));
            self.current_a =
                if self.voltage_v > 0.0 { self.power_w / (self.voltage_v * self.pf) } else { 0.0 };
        } else {
            self.power_w = 0.0;
            self.current_a = 0.0;
        }
    }

    /// The current reading.
    pub(crate) fn reading(&self) -> EmeterReading {
        EmeterReading {
            power_w: self.power_w,
            voltage_v: self.voltage_v,
            current_a: self.current_a,
            total_kwh: self.total_kwh,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_off_and_integration() {
        let mut rng = Rng::new(1);
        let mut m = Meter::new(60.0, 230.0, None, true, &mut rng);
        let r = m.reading();
        assert!((r.power_w - 60.0).abs() <= 1.2 + 1e-9);
        assert!((r.voltage_v - 230.0).abs() <= 1.15 + 1e-9);
        let pf = r.power_w / (r.voltage_v * r.current_a);
        assert!((0.9..=1.0).contains(&pf), "{pf}");
        let before = r.total_kwh;
        m.integrate(3600.0, &[(20240101, 1800.0), (20240102, 1800.0)]);
        let delta = m.reading().total_kwh - before;
        assert!((delta - r.power_w / 1000.0).abs() < 1e-9);
        assert_eq!(m.energy.days_of(2024, 1).len(), 2);
        m.resample(false, 0.5, &mut rng, true);
        let off = m.reading();
        assert_eq!((off.power_w, off.current_a), (0.0, 0.0));
        assert!(off.voltage_v > 200.0);
    }

    #[test]
    fn initial_reading_is_kept_until_the_first_sample() {
        let mut rng = Rng::new(2);
        let init = EmeterReading { power_w: 0.93, voltage_v: 231.07, current_a: 0.0149, total_kwh: 55.139 };
        let mut m = Meter::new(0.93, 231.07, Some(init), true, &mut rng);
        assert_eq!(m.reading(), init);
        m.resample(true, 0.5, &mut rng, false);
        assert_eq!(m.reading(), init);
        m.resample(true, 1.5, &mut rng, false);
        assert_ne!(m.reading(), init);
        let bad =
            EmeterReading { power_w: f64::NAN, voltage_v: -1.0, current_a: 0.0, total_kwh: f64::INFINITY };
        let m = Meter::new(1.0, 120.0, Some(bad), true, &mut rng);
        assert_eq!(m.reading().power_w, 0.0);
        assert_eq!(m.reading().voltage_v, 120.0);
    }
}
