//! Downsampling and retention: roll-ups keep every total, old tiers go where they should.

mod store_support;

use std::path::Path;

use plugctl_hub::{
    config::Retention,
    store::{Bucket, HistoryPoint},
};
use store_support::*;

const DAY: i64 = 86_400_000;
const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;

fn sum(points: &[HistoryPoint]) -> f64 {
    points.iter().map(|p| p.energy_kwh).sum()
}

/// (raw rows, minute rows, hour rows, oldest raw, oldest minute)
fn tiers(path: &Path) -> (i64, i64, i64, Option<i64>, Option<i64>) {
    let c = rusqlite::Connection::open(path).unwrap();
    let q = |sql: &str| c.query_row(sql, [], |r| r.get::<_, Option<i64>>(0)).unwrap();
    (
        q("SELECT count(*) FROM samples").unwrap(),
        q("SELECT count(*) FROM samples_minute").unwrap(),
        q("SELECT count(*) FROM samples_hour").unwrap(),
        q("SELECT min(t_ms) FROM samples"),
        q("SELECT min(t_ms) FROM samples_minute"),
    )
}

#[test]
fn roll_ups_keep_energy_and_retention_moves_what_it_should() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let store = open(&path, Retention { raw_days: 7, minute_days: 90 }, "Europe/Berlin");
    let id = dev("kasa-OLD");
    let now = ms("2026-06-15T10:00:00Z");
    let mut rng = Rng(42);
    let mut counter = 3.0;
    // Three stretches of 20 s samples: 100 days ago (to hours), 30 days ago (to minutes),
    // yesterday (stays raw); each 6 hours long, with a counter reset in the middle one.
    let mut written = 0usize;
    for (age_days, reset) in [(100, false), (30, true), (1, false)] {
        let start = now - age_days * DAY;
        let mut t = start;
        while t < start + 6 * HOUR {
            let p = 50.0 + 1000.0 * rng.unit();
            counter += p * 20_000.0 / 3.6e9;
            if reset && t == start + 3 * HOUR {
                counter = 0.0;
            }
            store.record(&sample(&id, t, Some(p), Some(counter)));
            written += 1;
            t += 20_000;
        }
    }
    flush(&store);
    let everything = |b| store.history(&id, 0, i64::MAX, b).unwrap();
    let before_raw = everything(Bucket::Raw);
    let before_hours = everything(Bucket::Hour);
    let before_days = everything(Bucket::Day);
    let before_month = store.energy_totals(&id, now - 30 * DAY).unwrap();
    assert_eq!(before_raw.len(), written);
    assert_eq!(tiers(&path).0 as usize, written);

    store.maintain(now).unwrap();

    let raw_cutoff = (now - 7 * DAY) / MINUTE * MINUTE;
    let minute_cutoff = (now - 90 * DAY) / HOUR * HOUR;
    let (raw, minutes, hours, oldest_raw, oldest_minute) = tiers(&path);
    assert_eq!(raw as usize, written / 3, "only yesterday stays raw");
    assert!(oldest_raw.unwrap() >= raw_cutoff);
    assert_eq!(minutes, 6 * 60, "30 days ago: one row per minute");
    assert!(oldest_minute.unwrap() >= minute_cutoff);
    assert_eq!(hours, 6, "100 days ago: one row per hour, kept forever");

    // Totals are unchanged at every granularity that the tiers still resolve.
    let after_raw = everything(Bucket::Raw);
    assert!(close(sum(&after_raw), sum(&before_raw)));
    assert_eq!(after_raw.len(), written / 3 + 6 * 60 + 6, "raw history falls back to the coarser rows");
    let after_hours = everything(Bucket::Hour);
    assert_eq!(after_hours.len(), before_hours.len());
    for (a, b) in after_hours.iter().zip(&before_hours) {
        assert_eq!(a.t_ms, b.t_ms);
        assert!(close(a.energy_kwh, b.energy_kwh), "hour {}", a.t_ms);
        assert!((a.power_w.unwrap() - b.power_w.unwrap()).abs() < 1e-6, "mean power kept");
    }
    let after_days = everything(Bucket::Day);
    assert_eq!(after_days.len(), before_days.len());
    for (a, b) in after_days.iter().zip(&before_days) {
        assert!(a.t_ms == b.t_ms && close(a.energy_kwh, b.energy_kwh));
    }
    let month = store.energy_totals(&id, now - 30 * DAY).unwrap();
    assert!(close(month.month_kwh, before_month.month_kwh) && close(month.today_kwh, before_month.today_kwh));

    // Idempotent.
    store.maintain(now).unwrap();
    let again = tiers(&path);
    assert_eq!((again.0, again.1, again.2), (raw, minutes, hours));
    assert!(close(sum(&everything(Bucket::Raw)), sum(&before_raw)));

    // Years later everything is hourly, and still adds up.
    store.maintain(now + 400 * DAY).unwrap();
    let (raw, minutes, hours, _, _) = tiers(&path);
    assert_eq!((raw, minutes, hours), (0, 0, 18));
    assert!(close(sum(&everything(Bucket::Month)), sum(&before_raw)));
}

#[test]
fn a_late_sample_merges_into_its_rolled_up_minute() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let store = open(&path, Retention { raw_days: 1, minute_days: 2 }, "UTC");
    let id = dev("kasa-LATE");
    let t0 = ms("2026-04-01T00:00:00Z");
    for i in 0..10 {
        store.record(&sample(&id, t0 + i * 10_000, Some(100.0), Some(1.0 + i as f64 * 0.0003)));
    }
    flush(&store);
    store.maintain(t0 + 36 * HOUR).unwrap();
    assert_eq!(tiers(&path).0, 0);
    // A sample for an already rolled-up minute (a poll answered very late).
    store.record(&sample(&id, t0 + 95_000, Some(300.0), Some(1.0 + 10.0 * 0.0003)));
    flush(&store);
    let before = store.history(&id, t0, t0 + HOUR, Bucket::Minute).unwrap();
    store.maintain(t0 + 36 * HOUR).unwrap();
    let after = store.history(&id, t0, t0 + HOUR, Bucket::Minute).unwrap();
    assert_eq!(before, after);
    assert_eq!(tiers(&path).1, 2, "the late sample joined the existing minute row");
    assert!(close(sum(&after), 10.0 * 0.0003));
    assert_eq!(after[1].power_w, Some(140.0), "(4 × 100 + 300) / 5");
}

#[test]
fn retention_is_configurable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let store = open(&path, Retention { raw_days: 0, minute_days: 0 }, "UTC");
    let id = dev("kasa-ZERO");
    let now = ms("2026-04-01T12:30:30Z");
    for i in (0..240).rev() {
        store.record(&sample(&id, now - i * 30_000, Some(10.0), Some(100.0 - i as f64 * 0.00005)));
    }
    flush(&store);
    store.maintain(now).unwrap();
    let c = rusqlite::Connection::open(&path).unwrap();
    let bounds = |table: &str| {
        c.query_row(&format!("SELECT min(t_ms), max(t_ms) FROM {table}"), [], |r| {
            Ok((r.get::<_, Option<i64>>(0)?, r.get::<_, Option<i64>>(1)?))
        })
        .unwrap()
    };
    assert!(bounds("samples").0.unwrap() >= ms("2026-04-01T12:30:00Z"), "raw: only the current minute");
    assert!(
        bounds("samples_minute").0.unwrap() >= ms("2026-04-01T12:00:00Z"),
        "minutes: only the current hour"
    );
    assert!(bounds("samples_hour").1.unwrap() < ms("2026-04-01T12:00:00Z"));
    let all = store.history(&id, 0, i64::MAX, Bucket::Hour).unwrap();
    assert!(close(sum(&all), 239.0 * 0.00005));
}
