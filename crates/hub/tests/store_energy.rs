//! Energy from counters: resets, reboots, jumps, devices without a meter, and bucket sums.

mod store_support;

use plugctl_hub::{
    config::Retention,
    store::{Bucket, HistoryPoint},
};
use store_support::*;

fn sum(points: &[HistoryPoint]) -> f64 {
    points.iter().map(|p| p.energy_kwh).sum()
}

#[test]
fn day_totals_are_correct_across_a_counter_reset() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("h.db"), Retention::default(), "Europe/Berlin");
    let id = dev("kasa-RESET");
    let start = local_ms("Europe/Berlin", "2026-06-09T22:00");
    let reset_at = local_ms("Europe/Berlin", "2026-06-10T12:00");
    let end = local_ms("Europe/Berlin", "2026-06-11T02:00");
    let (day_start, day_end) =
        (local_ms("Europe/Berlin", "2026-06-10T00:00"), local_ms("Europe/Berlin", "2026-06-11T00:00"));

    // Every 10 minutes 0.02 kWh (120 W); at noon the plug reboots and its counter restarts.
    let mut counter = 100.0;
    let (mut expected_day, mut expected_all) = (0.0, 0.0);
    let mut t = start;
    let mut first = true;
    while t <= end {
        let e = if first {
            0.0
        } else if t == reset_at {
            counter = 0.0;
            0.0
        } else {
            counter += 0.02;
            0.02
        };
        first = false;
        store.record(&sample(&id, t, Some(120.0), Some(counter)));
        expected_all += e;
        if (day_start..day_end).contains(&t) {
            expected_day += e;
        }
        t += 600_000;
    }
    flush(&store);

    let totals = store.energy_totals(&id, local_ms("Europe/Berlin", "2026-06-10T18:00")).unwrap();
    assert!(close(totals.today_kwh, expected_day), "{} vs {expected_day}", totals.today_kwh);
    assert!(close(totals.month_kwh, expected_all), "{} vs {expected_all}", totals.month_kwh);

    let raw = store.history(&id, start, end + 1, Bucket::Raw).unwrap();
    assert!(raw.iter().all(|p| p.energy_kwh >= 0.0), "never negative");
    assert!(close(sum(&raw), expected_all));

    let days = store.history(&id, start, end + 1, Bucket::Day).unwrap();
    let starts: Vec<i64> = days.iter().map(|p| p.t_ms).collect();
    assert_eq!(
        starts,
        vec![local_ms("Europe/Berlin", "2026-06-09T00:00"), day_start, day_end],
        "buckets start at local midnight"
    );
    assert!(close(days[1].energy_kwh, expected_day));
    assert!(close(sum(&days), expected_all));
    assert_eq!(days[1].power_w, Some(120.0));

    let resets = store.events(Some(&id), None, 100).unwrap();
    assert!(resets.iter().any(|e| e.kind == "counter_reset" && e.at_ms == reset_at), "{resets:?}");
}

#[test]
fn reboots_restored_counters_and_absurd_jumps_never_count() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("h.db"), Retention::default(), "UTC");
    let id = dev("kasa-REBOOT");
    let t0 = ms("2026-05-01T08:00:00Z");
    let min = 60_000;
    let series = [
        (0, 50.00),
        (1, 50.01),   // +0.01
        (2, 50.03),   // +0.02
        (3, 49.80),   // power cut: counter restored from an older flash copy -> new base, 0
        (4, 49.81),   // +0.01
        (5, 5000.0),  // garbage reading: 5 MWh in a minute -> ignored, new base
        (6, 49.83),   // drop from the garbage -> new base, 0
        (7, 49.84),   // +0.01
        (8, 49.8395), // rounding noise: not a reset, old base kept
        (9, 49.85),   // +0.01 (from 49.84)
    ];
    for (i, c) in series {
        store.record(&sample(&id, t0 + i * min, Some(600.0), Some(c)));
    }
    flush(&store);
    let raw = store.history(&id, t0, t0 + 10 * min, Bucket::Raw).unwrap();
    assert_eq!(raw.len(), 10);
    assert!(raw.iter().all(|p| p.energy_kwh >= 0.0), "{raw:?}");
    assert!(close(sum(&raw), 0.06), "{raw:?}");
    let kinds: Vec<String> = store.events(Some(&id), None, 10).unwrap().into_iter().map(|e| e.kind).collect();
    assert!(
        kinds.contains(&"counter_jump".to_string()) && kinds.contains(&"counter_reset".to_string()),
        "{kinds:?}"
    );
    let totals = store.energy_totals(&id, t0).unwrap();
    assert!(close(totals.today_kwh, 0.06) && close(totals.month_kwh, 0.06), "{totals:?}");
}

#[test]
fn devices_without_a_meter_have_no_energy_and_no_power() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("h.db"), Retention::default(), "UTC");
    let plain = dev("hf-ACCF23000001");
    let power_only = dev("hf-ACCF23000002");
    let t0 = ms("2026-05-01T00:00:00Z");
    for i in 0..30 {
        store.record(&sample(&plain, t0 + i * 30_000, None, None));
        store.record(&sample(&power_only, t0 + i * 30_000, Some(40.0), None));
    }
    flush(&store);
    for bucket in [Bucket::Raw, Bucket::Minute, Bucket::Hour, Bucket::Day, Bucket::Month] {
        let h = store.history(&plain, t0, t0 + 3_600_000, bucket).unwrap();
        assert!(!h.is_empty());
        assert!(h.iter().all(|p| p.power_w.is_none() && p.energy_kwh == 0.0), "{bucket:?}: {h:?}");
        let h = store.history(&power_only, t0, t0 + 3_600_000, bucket).unwrap();
        assert!(h.iter().all(|p| p.power_w == Some(40.0) && p.energy_kwh == 0.0), "{bucket:?}: {h:?}");
    }
    let t = store.energy_totals(&plain, t0).unwrap();
    assert_eq!((t.today_kwh, t.month_kwh), (0.0, 0.0));
    // Unknown devices are empty, not errors.
    assert!(store.history(&dev("nobody"), t0, t0 + 1, Bucket::Raw).unwrap().is_empty());
    assert_eq!(store.energy_totals(&dev("nobody"), t0).unwrap().today_kwh, 0.0);
}

#[test]
fn energy_is_attributed_to_the_later_samples_bucket() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("h.db"), Retention::default(), "UTC");
    let id = dev("kasa-MIDNIGHT");
    store.record(&sample(&id, ms("2026-05-01T23:59:00Z"), Some(1500.0), Some(1.0)));
    store.record(&sample(&id, ms("2026-05-02T00:01:00Z"), Some(1500.0), Some(1.05)));
    flush(&store);
    let may1 = store.energy_totals(&id, ms("2026-05-01T12:00:00Z")).unwrap();
    let may2 = store.energy_totals(&id, ms("2026-05-02T12:00:00Z")).unwrap();
    assert_eq!(may1.today_kwh, 0.0);
    assert!(close(may2.today_kwh, 0.05));
    assert!(close(may1.month_kwh, 0.05), "the same month");
}

#[test]
fn bucket_sums_equal_raw_sums_in_a_half_hour_zone() {
    let zone = "Asia/Kolkata"; // UTC+05:30: local midnight is not on a UTC hour
    let tz = jiff::tz::TimeZone::get(zone).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("h.db"), Retention::default(), zone);
    let id = dev("kasa-RANDOM");
    let mut rng = Rng(0x5eed_1234);
    let t0 = ms("2026-01-30T17:00:00Z");
    let end = t0 + 3 * 86_400_000;
    let (mut t, mut counter) = (t0, 12.0);
    let mut n = 0;
    while t < end {
        let power = 2000.0 * rng.unit();
        let dt = rng.range(7_000, 90_000) as i64;
        t += dt;
        counter += power * dt as f64 / 3.6e9;
        if rng.range(0, 500) == 0 {
            counter = rng.unit() * 0.01; // a reset now and then
        }
        store.record(&sample(&id, t, Some(power), Some(counter)));
        n += 1;
    }
    flush(&store);

    let raw = store.history(&id, t0, end + 86_400_000, Bucket::Raw).unwrap();
    assert_eq!(raw.len(), n);
    let total = sum(&raw);
    assert!(total > 1.0, "{total}");
    for bucket in [Bucket::Minute, Bucket::Hour, Bucket::Day, Bucket::Month] {
        let h = store.history(&id, t0, end + 86_400_000, bucket).unwrap();
        assert!(close(sum(&h), total), "{bucket:?}: {} vs {total}", sum(&h));
    }

    // Per hour: energy and mean power equal the raw samples of that hour.
    let hours = store.history(&id, t0, end + 86_400_000, Bucket::Hour).unwrap();
    for h in &hours {
        let inside: Vec<&HistoryPoint> =
            raw.iter().filter(|p| p.t_ms >= h.t_ms && p.t_ms < h.t_ms + 3_600_000).collect();
        let e: f64 = inside.iter().map(|p| p.energy_kwh).sum();
        let mean = inside.iter().filter_map(|p| p.power_w).sum::<f64>() / inside.len() as f64;
        assert!(close(h.energy_kwh, e), "hour {}", h.t_ms);
        assert!((h.power_w.unwrap() - mean).abs() < 1e-6, "hour {}", h.t_ms);
    }

    // Per local day.
    let days = store.history(&id, t0, end + 86_400_000, Bucket::Day).unwrap();
    for d in &days {
        let midnight = jiff::Timestamp::from_millisecond(d.t_ms).unwrap().to_zoned(tz.clone());
        assert_eq!(midnight.start_of_day().unwrap(), midnight, "day buckets start at local midnight");
        let next = midnight.tomorrow().unwrap().timestamp().as_millisecond();
        let e: f64 = raw.iter().filter(|p| p.t_ms >= d.t_ms && p.t_ms < next).map(|p| p.energy_kwh).sum();
        assert!(close(d.energy_kwh, e), "day {midnight}");
    }
    let months = store.history(&id, t0, end + 86_400_000, Bucket::Month).unwrap();
    assert_eq!(months.len(), 2, "January and February");
    assert_eq!(months[1].t_ms, local_ms(zone, "2026-02-01T00:00"));
}

#[test]
fn a_dst_day_is_one_bucket_of_23_hours() {
    let zone = "Europe/Berlin";
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("h.db"), Retention::default(), zone);
    let id = dev("kasa-DST");
    let from = local_ms(zone, "2026-03-28T12:00");
    let to = local_ms(zone, "2026-03-30T12:00");
    let mut c = 0.0;
    let mut t = from;
    while t < to {
        store.record(&sample(&id, t, Some(100.0), Some(c)));
        c += 0.1;
        t += 3_600_000;
    }
    flush(&store);
    let days = store.history(&id, from, to, Bucket::Day).unwrap();
    let midnights = [
        local_ms(zone, "2026-03-28T00:00"),
        local_ms(zone, "2026-03-29T00:00"),
        local_ms(zone, "2026-03-30T00:00"),
    ];
    assert_eq!(days.iter().map(|p| p.t_ms).collect::<Vec<_>>(), midnights);
    assert!(close(days[1].energy_kwh, 2.3), "23 hourly samples on the short day: {}", days[1].energy_kwh);
}
