//! Energy from cumulative counters.
//!
//! Plugs report a cumulative counter (`total_kwh`). The energy of a sample is the difference
//! between its counter and the device's previous accepted reading (its *base*), attributed to
//! the sample's own time (so it lands in the bucket of the later sample). The rules:
//!
//! - **First reading** of a device: it becomes the base; energy 0.
//! - **Normal step** (`0 ≤ Δ ≤ limit`): energy Δ; the reading becomes the base.
//! - **Jitter** (`−`[`COUNTER_JITTER_KWH`] `≤ Δ < 0`, rounding noise): energy 0, the *old*
//!   base stays (so the noise is not counted twice when the counter comes back).
//! - **Reset** (`Δ < −`[`COUNTER_JITTER_KWH`]: reboot, `erase_emeter_stat`, counter restored
//!   from an older flash copy): energy 0, the new value becomes the base. Energy after the
//!   drop counts from the new value; nothing is ever negative. The energy used between the
//!   last reading before the reset and the first after it is unknowable and not counted
//!   (counting the new value itself would be wrong for counters restored to an older,
//!   non-zero value).
//! - **Absurd jump** (`Δ > limit`, where `limit = `[`MAX_PLAUSIBLE_POWER_W`]` · Δt +
//!   `[`COUNTER_SLACK_KWH`]): ignored (energy 0) and the new value becomes the base, so a
//!   single garbage reading costs at most two intervals and a genuinely re-based counter is
//!   followed from then on. A plug on a 16 A/230 V circuit cannot exceed 3.7 kW.
//! - **Out of order** (`t ≤ base time`) or **no counter** (no meter, or a non-finite or
//!   negative value): energy 0, the base is unchanged. A device without a meter has no
//!   energy (0) and no power (`None`).

/// The most power a plug can plausibly draw, W (16 A at 230 V is 3680 W).
pub const MAX_PLAUSIBLE_POWER_W: f64 = 4_000.0;

/// Allowance on top of `power · Δt` for counter resolution (some plugs count in 10 Wh
/// steps), kWh.
pub const COUNTER_SLACK_KWH: f64 = 0.01;

/// A drop up to this size is rounding noise, not a reset, kWh.
pub const COUNTER_JITTER_KWH: f64 = 0.002;

/// A device's base: its last accepted counter reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Meter {
    /// When it was read (Unix ms).
    pub t_ms: i64,
    /// The counter, kWh.
    pub kwh: f64,
}

/// What a reading did to the base.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum StepKind {
    /// No usable counter in the reading.
    NoCounter,
    /// The device's first counter reading.
    First,
    /// Not newer than the base.
    Stale,
    /// Normal progress.
    Advance,
    /// A tiny drop (noise).
    Jitter,
    /// The counter dropped: a new base.
    Reset,
    /// The counter jumped more than physically possible: a new base.
    Jump,
}

/// The result of one reading.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Step {
    /// Energy attributed to the reading, kWh (never negative).
    pub energy_kwh: f64,
    /// The base afterwards.
    pub base: Option<Meter>,
    /// What happened.
    pub kind: StepKind,
}

/// The largest plausible counter increase over `dt_ms`, kWh.
pub(crate) fn plausible_limit_kwh(dt_ms: i64) -> f64 {
    MAX_PLAUSIBLE_POWER_W * (dt_ms as f64 / 3_600_000.0) / 1000.0 + COUNTER_SLACK_KWH
}

/// Applies one reading (`counter` at `t_ms`) to the base `prev`.
pub(crate) fn step(prev: Option<Meter>, t_ms: i64, counter: Option<f64>) -> Step {
    let Some(kwh) = counter.filter(|c| c.is_finite() && *c >= 0.0) else {
        return Step { energy_kwh: 0.0, base: prev, kind: StepKind::NoCounter };
    };
    let now = Meter { t_ms, kwh };
    let Some(base) = prev else {
        return Step { energy_kwh: 0.0, base: Some(now), kind: StepKind::First };
    };
    if t_ms <= base.t_ms {
        return Step { energy_kwh: 0.0, base: prev, kind: StepKind::Stale };
    }
    let delta = kwh - base.kwh;
    if delta < -COUNTER_JITTER_KWH {
        Step { energy_kwh: 0.0, base: Some(now), kind: StepKind::Reset }
    } else if delta < 0.0 {
        Step { energy_kwh: 0.0, base: prev, kind: StepKind::Jitter }
    } else if delta > plausible_limit_kwh(t_ms - base.t_ms) {
        Step { energy_kwh: 0.0, base: Some(now), kind: StepKind::Jump }
    } else {
        Step { energy_kwh: delta, base: Some(now), kind: StepKind::Advance }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a series of (t, counter) readings, returning the energies.
    fn run(readings: &[(i64, Option<f64>)]) -> Vec<f64> {
        let mut base = None;
        readings
            .iter()
            .map(|&(t, c)| {
                let s = step(base, t, c);
                base = s.base;
                s.energy_kwh
            })
            .collect()
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn normal_progress_is_counted() {
        let e = run(&[(0, Some(10.0)), (60_000, Some(10.01)), (120_000, Some(10.03))]);
        assert!(close(e.iter().sum(), 0.03), "{e:?}");
        assert_eq!(e[0], 0.0);
    }

    #[test]
    fn reset_starts_a_new_base_and_is_never_negative() {
        let e = run(&[
            (0, Some(10.0)),
            (60_000, Some(10.02)),
            (120_000, Some(0.0)), // reboot: counter reset
            (180_000, Some(0.01)),
            (240_000, Some(0.03)),
        ]);
        assert!(e.iter().all(|x| *x >= 0.0));
        assert!(close(e.iter().sum(), 0.02 + 0.03), "{e:?}");
    }

    #[test]
    fn restored_older_counter_is_a_reset_too() {
        let e =
            run(&[(0, Some(10.0)), (60_000, Some(10.02)), (7_200_000, Some(9.5)), (7_260_000, Some(9.51))]);
        assert!(close(e.iter().sum(), 0.03), "{e:?}");
    }

    #[test]
    fn jitter_is_not_counted_twice() {
        let e = run(&[(0, Some(5.0)), (1000, Some(4.999)), (2000, Some(5.0)), (3000, Some(5.001))]);
        assert!(close(e.iter().sum(), 0.001), "{e:?}");
    }

    #[test]
    fn absurd_jumps_are_ignored_and_rebased() {
        // 10 kWh in one minute is 600 kW.
        let e = run(&[(0, Some(5.0)), (60_000, Some(15.0)), (120_000, Some(15.01))]);
        assert!(close(e.iter().sum(), 0.01), "{e:?}");
        // A single garbage reading costs two intervals, then normal counting resumes.
        let e = run(&[(0, Some(5.0)), (60_000, Some(9999.0)), (120_000, Some(5.02)), (180_000, Some(5.03))]);
        assert!(close(e.iter().sum(), 0.01), "{e:?}");
        // A long gap allows proportionally more.
        let e = run(&[(0, Some(5.0)), (3_600_000, Some(8.9))]);
        assert!(close(e.iter().sum(), 3.9), "{e:?}");
    }

    #[test]
    fn missing_counters_and_stale_readings_change_nothing() {
        let e = run(&[
            (0, Some(1.0)),
            (1000, None),
            (2000, Some(f64::NAN)),
            (3000, Some(-4.0)),
            (4000, Some(1.002)),
            (4000, Some(1.5)),
            (3500, Some(1.003)),
            (5000, Some(1.004)),
        ]);
        assert!(close(e.iter().sum(), 0.004), "{e:?}");
    }

    #[test]
    fn limit_grows_with_time() {
        assert!(close(plausible_limit_kwh(0), COUNTER_SLACK_KWH));
        assert!(close(plausible_limit_kwh(3_600_000), 4.0 + COUNTER_SLACK_KWH));
    }
}
