//! The simulated clock of a device.
//!
//! Simulated time starts at the first [`Instant`] the device sees and runs
//! [`time_scale`](super::DeviceConfig::time_scale) times faster than real time. It never runs
//! backwards, whatever `Instant`s are injected. The device's wall clock is the host's wall
//! clock at that first instant plus the simulated time (plus any `time.set_time` offset), in
//! the device's time zone (its firmware zone index; by default the host's zone); day and
//! month statistics use its local dates.

use std::{
    sync::OnceLock,
    time::{Instant, SystemTime, UNIX_EPOCH},
};

use jiff::{civil, tz::TimeZone, Timestamp, Zoned};

/// Simulated seconds are capped here (about 3,000 years), far inside jiff's range.
const MAX_SIM_SECS: f64 = 1e11;

/// Statistics are credited for at most this many days of one interval.
const MAX_CREDITED_DAYS: f64 = 400.0;

/// A local calendar date packed as `yyyymmdd`.
pub(crate) type DayKey = u32;

/// Packs a date.
pub(crate) fn day_key(year: i16, month: i8, day: i8) -> DayKey {
    let y = u32::try_from(year.max(0)).unwrap_or(0);
    let m = u32::try_from(month.max(0)).unwrap_or(0);
    let d = u32::try_from(day.max(0)).unwrap_or(0);
    y * 10_000 + m * 100 + d
}

/// The host's time zone, looked up once.
pub(crate) fn host_tz() -> TimeZone {
    static TZ: OnceLock<TimeZone> = OnceLock::new();
    TZ.get_or_init(TimeZone::system).clone()
}

#[derive(Debug, Clone, Copy)]
struct DayRange {
    /// Simulated seconds at the start of the local day.
    start: f64,
    /// Simulated seconds at the start of the next local day.
    end: f64,
    key: DayKey,
}

/// See the module docs.
#[derive(Debug, Clone)]
pub(crate) struct SimClock {
    scale: f64,
    origin: Option<Instant>,
    /// Unix seconds at the origin.
    origin_unix: f64,
    /// Current simulated seconds since the origin.
    sim: f64,
    /// `time.set_time` adjustment, seconds.
    offset: f64,
    /// The device's time zone (from its firmware zone index); local times and dates use it.
    zone: TimeZone,
    day: Option<DayRange>,
}

impl SimClock {
    pub(crate) fn new(scale: f64) -> Self {
        Self { scale, origin: None, origin_unix: 0.0, sim: 0.0, offset: 0.0, zone: host_tz(), day: None }
    }

    /// Moves the device to another time zone: the instant stays, the local time and the
    /// local dates that statistics use follow the new zone.
    pub(crate) fn set_zone(&mut self, zone: TimeZone) {
        self.zone = zone;
        self.day = None;
    }

    /// The simulated time of `now` (never earlier than the current one). The first call fixes
    /// the origin.
    pub(crate) fn target(&mut self, now: Instant) -> f64 {
        let Some(origin) = self.origin else {
            self.origin = Some(now);
            self.origin_unix =
                SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
            return self.sim;
        };
        let t = now.saturating_duration_since(origin).as_secs_f64() * self.scale;
        t.clamp(self.sim, MAX_SIM_SECS)
    }

    /// Moves the clock to `sim` (callers pass values from [`SimClock::target`]).
    pub(crate) fn set_sim(&mut self, sim: f64) {
        if sim > self.sim {
            self.sim = sim;
        }
    }

    /// Current simulated seconds since the origin.
    pub(crate) fn sim(&self) -> f64 {
        self.sim
    }

    fn unix_of(&self, sim: f64) -> f64 {
        self.origin_unix + sim + self.offset
    }

    /// The device's local time at simulated second `sim`.
    pub(crate) fn local_at(&self, sim: f64) -> Option<Zoned> {
        let ms = (self.unix_of(sim) * 1000.0).floor();
        if !ms.is_finite() {
            return None;
        }
        Timestamp::from_millisecond(ms as i64).ok().map(|ts| ts.to_zoned(self.zone.clone()))
    }

    /// The device's local time now.
    pub(crate) fn local_now(&self) -> Option<Zoned> {
        self.local_at(self.sim)
    }

    /// The simulated second at which the device's clock reaches instant `ts` (may lie in
    /// the past or the future).
    pub(crate) fn sim_of(&self, ts: Timestamp) -> f64 {
        ts.as_millisecond() as f64 / 1000.0 - self.origin_unix - self.offset
    }

    /// The simulated second at which the device's local clock shows `dt` (an ambiguous
    /// local time maps to its earlier instant, a skipped one forward, as jiff's
    /// "compatible" rule does).
    pub(crate) fn sim_of_local(&self, dt: civil::DateTime) -> Option<f64> {
        self.zone.to_zoned(dt).ok().map(|z| self.sim_of(z.timestamp()))
    }

    /// Sets the device's local time (`time.set_time`): later readings are shifted by the
    /// difference to the host clock. Fails for dates that do not exist.
    pub(crate) fn set_local(&mut self, dt: civil::DateTime) -> bool {
        let Ok(z) = self.zone.to_zoned(dt) else { return false };
        let wanted = z.timestamp().as_millisecond() as f64 / 1000.0;
        self.offset = wanted - (self.origin_unix + self.sim);
        self.day = None;
        true
    }

    /// Splits the simulated interval `[from, to)` by local day: `(day, seconds)` pairs. Only
    /// the last [`MAX_CREDITED_DAYS`] days of a very long interval are returned.
    pub(crate) fn day_segments(&mut self, from: f64, to: f64) -> Vec<(DayKey, f64)> {
        let mut out = Vec::new();
        let mut a = from.max(to - MAX_CREDITED_DAYS * 86_400.0);
        while a < to {
            let Some(range) = self.day_of(a) else { break };
            let b = range.end.min(to);
            if b <= a {
                break;
            }
            out.push((range.key, b - a));
            a = b;
        }
        out
    }

    fn day_of(&mut self, sim: f64) -> Option<DayRange> {
        if let Some(d) = self.day {
            if sim >= d.start && sim < d.end {
                return Some(d);
            }
        }
        let z = self.local_at(sim)?;
        let date = z.date();
        let tz = self.zone.clone();
        let start = date.to_zoned(tz.clone()).ok()?.timestamp();
        let end = date.tomorrow().ok()?.to_zoned(tz).ok()?.timestamp();
        let to_sim = |ts: Timestamp| ts.as_millisecond() as f64 / 1000.0 - self.origin_unix - self.offset;
        let range = DayRange {
            start: to_sim(start),
            end: to_sim(end),
            key: day_key(date.year(), date.month(), date.day()),
        };
        self.day = Some(range);
        Some(range)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn scaled_and_monotonic() {
        let t0 = Instant::now();
        let mut c = SimClock::new(10.0);
        assert_eq!(c.target(t0 + Duration::from_secs(5)), 0.0, "the first instant is the origin");
        let s = c.target(t0 + Duration::from_secs(7));
        assert!((s - 20.0).abs() < 1e-6);
        c.set_sim(s);
        assert_eq!(c.target(t0), 20.0, "never backwards");
    }

    #[test]
    fn segments_cover_the_interval() {
        let mut c = SimClock::new(1.0);
        c.target(Instant::now());
        let segs = c.day_segments(0.0, 3.0 * 86_400.0);
        assert!(segs.len() >= 3 && segs.len() <= 4, "{segs:?}");
        let total: f64 = segs.iter().map(|(_, s)| s).sum();
        assert!((total - 3.0 * 86_400.0).abs() < 1e-3);
        let long = c.day_segments(0.0, 5_000.0 * 86_400.0);
        assert!(long.len() <= 402);
        assert!(c.day_segments(5.0, 5.0).is_empty());
    }

    #[test]
    fn set_local_shifts_the_clock() {
        let mut c = SimClock::new(1.0);
        c.target(Instant::now());
        assert!(c.set_local(civil::date(2016, 1, 1).at(10, 10, 10, 0)));
        let z = c.local_now().unwrap();
        assert_eq!((z.year(), z.month(), z.day(), z.hour(), z.minute()), (2016, 1, 1, 10, 10));
    }
}
