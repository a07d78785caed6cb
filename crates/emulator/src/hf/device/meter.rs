//! The simulated meter behind `AT+YZOUT` (hf-protocol.md §2.3, §5.1).
//!
//! A sample is drawn at most once per simulated second and whenever a relay switches:
//! U = nominal ±0.5 %, F = nominal ±0.05 Hz, and per ON outlet a load of S volt-amperes at
//! power factor PF: P = S·PF·(1 ± 2 %), I = S/U. OFF: I = P = 0 (U and F keep reporting).
//! Without noise every value is exact. The reported current is rounded so that P ≤ U·I
//! always holds in wire units. Energy integrates P over simulated time and never decreases.

use plugctl_proto::hf::RawMeasurement;

use super::rng::Rng;
use crate::hf::config::MeterConfig;

/// Relative voltage noise.
const VOLTAGE_NOISE: f64 = 0.005;
/// Frequency noise, Hz.
const FREQUENCY_NOISE_HZ: f64 = 0.05;
/// Relative power noise.
const POWER_NOISE: f64 = 0.02;
/// Minimum simulated seconds between two samples.
const SAMPLE_PERIOD_S: f64 = 1.0;

/// See the module docs.
#[derive(Debug, Clone)]
pub(crate) struct Meter {
    load_va: f64,
    pf: f64,
    nominal_v: f64,
    nominal_hz: f64,
    noise: bool,
    voltage_v: f64,
    frequency_hz: f64,
    power_w: f64,
    current_a: f64,
    energy_wh: f64,
    last_sample: Option<f64>,
}

fn sane(x: f64, default: f64) -> f64 {
    if x.is_finite() && x >= 0.0 {
        x
    } else {
        default
    }
}

impl Meter {
    pub(crate) fn new(cfg: &MeterConfig, rng: &mut Rng) -> Self {
        let energy = cfg.energy_wh.map_or_else(|| 500.0 + 49_500.0 * rng.unit(), |e| sane(e, 0.0));
        let nominal_v = f64::from(cfg.voltage) / 100.0;
        let nominal_hz = f64::from(cfg.frequency) / 100.0;
        Self {
            load_va: sane(cfg.load_va, 0.0),
            pf: sane(cfg.power_factor, 1.0).min(1.0),
            nominal_v,
            nominal_hz,
            noise: cfg.noise,
            voltage_v: nominal_v,
            frequency_hz: nominal_hz,
            power_w: 0.0,
            current_a: 0.0,
            energy_wh: energy,
            last_sample: None,
        }
    }

    /// Credits the power in effect over `dt` simulated seconds.
    pub(crate) fn integrate(&mut self, dt: f64) {
        if dt > 0.0 && dt.is_finite() {
            self.energy_wh += self.power_w * dt / 3600.0;
        }
    }

    /// Draws a new sample for `on_outlets` loaded outlets if a sample period has passed
    /// since the last one, or if `force`.
    pub(crate) fn resample(&mut self, on_outlets: usize, sim: f64, rng: &mut Rng, force: bool) {
        let due = match self.last_sample {
            Some(t) => sim - t >= SAMPLE_PERIOD_S,
            None => true,
        };
        if !(force || due) {
            return;
        }
        self.last_sample = Some(sim);
        let (dv, dhz, dp) = if self.noise {
            (rng.jitter(VOLTAGE_NOISE), rng.jitter(FREQUENCY_NOISE_HZ), rng.jitter(POWER_NOISE))
        } else {
            (0.0, 0.0, 0.0)
        };
        self.voltage_v = self.nominal_v * (1.0 + dv);
        self.frequency_hz = self.nominal_hz + dhz;
        let s = self.load_va * on_outlets as f64;
        if s > 0.0 {
            self.power_w = s * self.pf * (1.0 + dp);
            self.current_a = if self.voltage_v > 0.0 { s / self.voltage_v } else { 0.0 };
        } else {
            self.power_w = 0.0;
            self.current_a = 0.0;
        }
    }

    /// The energy counter, Wh.
    pub(crate) fn energy_wh(&self) -> f64 {
        self.energy_wh
    }

    /// The current reading in wire units.
    pub(crate) fn raw(&self) -> RawMeasurement {
        // `as` saturates and maps NaN to 0.
        let u = (self.voltage_v * 100.0).round() as u32;
        let p = (self.power_w * 10.0).round() as u32;
        let mut i = (self.current_a * 100.0).round() as u32;
        if p > 0 && u > 0 {
            // P ≤ U·I in wire units: p/10 ≤ (u/100)·(i/100)  ⇔  i ≥ 1000·p/u
            let needed = (1000.0 * f64::from(p) / f64::from(u)).ceil() as u32;
            i = i.max(needed);
        }
        RawMeasurement {
            i,
            u,
            f: (self.frequency_hz * 100.0).round() as u32,
            p,
            pq: 0,
            e: self.energy_wh.floor() as u32,
            eq: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captured_reading_is_exact() {
        let mut rng = Rng::new(1);
        let mut m = Meter::new(&MeterConfig::captured(), &mut rng);
        m.resample(1, 0.0, &mut rng, true);
        assert_eq!(m.raw().to_value(), "3,22694,5007,0,0,3548,0");
        m.integrate(3600.0);
        assert_eq!(m.raw().e, 3548, "no active power, no energy");
        m.resample(0, 0.0, &mut rng, true);
        assert_eq!(m.raw().to_value(), "0,22694,5007,0,0,3548,0");
    }

    #[test]
    fn physics_holds_with_noise() {
        let mut rng = Rng::new(2);
        let cfg = MeterConfig { energy_wh: Some(100.0), ..MeterConfig::load_w(60.0, 0.95) };
        let mut m = Meter::new(&cfg, &mut rng);
        for k in 0..200 {
            m.resample(1, f64::from(k) * 2.0, &mut rng, false);
            let r = m.raw();
            assert!((22_885..=23_115).contains(&r.u), "{r:?}");
            assert!((4_995..=5_005).contains(&r.f), "{r:?}");
            assert!((588..=612).contains(&r.p), "{r:?}");
            assert!(f64::from(r.p) / 10.0 <= f64::from(r.u) / 100.0 * f64::from(r.i) / 100.0, "{r:?}");
        }
        let before = m.energy_wh();
        m.integrate(3600.0);
        assert!((m.energy_wh() - before - m.power_w).abs() < 1e-9);
        m.resample(0, 1e6, &mut rng, true);
        let off = m.raw();
        assert_eq!((off.i, off.p), (0, 0));
        assert!(off.u > 22_000);
    }

    #[test]
    fn samples_are_held_within_a_period() {
        let mut rng = Rng::new(3);
        let mut m = Meter::new(&MeterConfig::default(), &mut rng);
        m.resample(1, 10.0, &mut rng, false);
        let a = m.raw();
        m.resample(1, 10.5, &mut rng, false);
        assert_eq!(a, m.raw());
    }
}
