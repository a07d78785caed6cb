//! Helpers shared by the `store_*` tests.
#![allow(dead_code)]

use std::path::Path;

use jiff::tz::TimeZone;
use plugctl_hub::{
    config::Retention,
    events::HubEvent,
    model::{DeviceId, Reading},
    store::Store,
};

/// Milliseconds of an RFC 3339 instant.
pub fn ms(s: &str) -> i64 {
    s.parse::<jiff::Timestamp>().expect("test timestamp").as_millisecond()
}

/// Milliseconds of a civil time in `zone`.
pub fn local_ms(zone: &str, civil: &str) -> i64 {
    civil
        .parse::<jiff::civil::DateTime>()
        .expect("test civil time")
        .to_zoned(TimeZone::get(zone).expect("zone"))
        .expect("zoned")
        .timestamp()
        .as_millisecond()
}

/// A device id.
pub fn dev(s: &str) -> DeviceId {
    DeviceId(s.to_string())
}

/// A reading with power and counter.
pub fn reading(at_ms: i64, power_w: Option<f64>, total_kwh: Option<f64>) -> Reading {
    Reading {
        at_ms,
        on: power_w.is_some_and(|p| p > 0.0),
        outlets_on: Vec::new(),
        power_w,
        voltage_v: power_w.map(|_| 230.0),
        current_a: power_w.map(|p| p / 230.0),
        total_kwh,
        rssi: Some(-55),
        latency_ms: 4.0,
    }
}

/// A sample event.
pub fn sample(id: &DeviceId, at_ms: i64, power_w: Option<f64>, total_kwh: Option<f64>) -> HubEvent {
    HubEvent::Sample { id: id.clone(), reading: reading(at_ms, power_w, total_kwh) }
}

/// Opens a store in `zone`.
pub fn open(path: &Path, retention: Retention, zone: &str) -> Store {
    Store::open_in_zone(path, retention, TimeZone::get(zone).expect("zone")).expect("open store")
}

/// Flushes, panicking on error.
pub fn flush(store: &Store) {
    futures::executor::block_on(store.flush()).expect("flush");
}

/// Whether two energies agree (float sums in different orders).
pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
}

/// A small deterministic generator (xorshift64).
pub struct Rng(pub u64);

impl Rng {
    /// Next value.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}
