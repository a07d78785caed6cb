//! Reads while writing and rolling up; the full-queue policy.

mod store_support;

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    thread,
};

use plugctl_hub::{config::Retention, events::HubEvent, store::Bucket};
use store_support::*;

#[test]
fn readers_see_consistent_committed_snapshots_while_writing_and_rolling_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    // Retention 0: every roll-up moves all but the current minute/hour while we read.
    let store = open(&path, Retention { raw_days: 0, minute_days: 0 }, "UTC");
    let t0 = ms("2026-02-01T00:00:00Z");
    let devices: Vec<_> = (0..4).map(|i| dev(&format!("kasa-C{i}"))).collect();
    let per_device = 6_000i64;
    let done = Arc::new(AtomicBool::new(false));

    let writer = {
        let (store, devices) = (store.clone(), devices.clone());
        thread::spawn(move || {
            for i in 0..per_device {
                for d in &devices {
                    store.record(&sample(d, t0 + i * 5_000, Some(720.0), Some(i as f64 * 0.001)));
                }
                if i % 500 == 499 {
                    flush(&store);
                }
            }
            flush(&store);
        })
    };
    let maintainer = {
        let (store, done) = (store.clone(), done.clone());
        thread::spawn(move || {
            let mut runs = 0;
            while !done.load(Ordering::Acquire) {
                // "now" follows the data, so roll-ups happen mid-stream.
                let newest = store.history(&dev("kasa-C0"), t0, i64::MAX, Bucket::Raw).unwrap();
                if let Some(p) = newest.last() {
                    store.maintain(p.t_ms).unwrap();
                    runs += 1;
                }
                thread::yield_now();
            }
            runs
        })
    };
    let readers: Vec<_> = devices
        .iter()
        .cloned()
        .map(|d| {
            let (store, done) = (store.clone(), done.clone());
            thread::spawn(move || {
                let (mut last_total, mut reads) = (0.0f64, 0);
                while !done.load(Ordering::Acquire) {
                    let hours = store.history(&d, 0, i64::MAX, Bucket::Hour).unwrap();
                    let total: f64 = hours.iter().map(|p| p.energy_kwh).sum();
                    // Energy only grows; a row seen twice or missed during a roll-up would
                    // show as a spike or a dip.
                    assert!(total + 1e-9 >= last_total, "{d}: {total} after {last_total}");
                    assert!(total <= (per_device - 1) as f64 * 0.001 + 1e-9, "{d}: {total}");
                    let totals = store.energy_totals(&d, t0).unwrap();
                    assert!(totals.today_kwh >= 0.0);
                    last_total = total;
                    reads += 1;
                }
                reads
            })
        })
        .collect();

    writer.join().unwrap();
    done.store(true, Ordering::Release);
    let runs = maintainer.join().unwrap();
    let reads: usize = readers.into_iter().map(|r| r.join().unwrap()).sum();
    assert!(reads > 0 && runs > 0, "reads {reads}, roll-ups {runs}");

    for d in &devices {
        let all = store.history(d, 0, i64::MAX, Bucket::Day).unwrap();
        let total: f64 = all.iter().map(|p| p.energy_kwh).sum();
        assert!(close(total, (per_device - 1) as f64 * 0.001), "{d}: {total}");
    }
    let c = rusqlite::Connection::open(&path).unwrap();
    let n: i64 = c
        .query_row(
            "SELECT (SELECT count(*) FROM samples) + (SELECT total(n) FROM samples_minute) \
             + (SELECT total(n) FROM samples_hour)",
            [],
            |r| r.get::<_, f64>(0),
        )
        .unwrap() as i64;
    assert_eq!(n, per_device * devices.len() as i64, "every sample exactly once across the tiers");
}

#[test]
fn a_full_queue_drops_the_oldest_samples_but_never_events_and_flush_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let store = open(&path, Retention::default(), "UTC");
    let id = dev("kasa-FLOOD");
    // Hold the write lock so the writer cannot commit while we flood the queue.
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();

    let cap = 100_000i64;
    let result = futures::executor::block_on(async {
        for i in 0..2_000 {
            store.record(&sample(&id, 1_000 + i, Some(1.0), None));
        }
        let mut flush = Box::pin(store.flush());
        assert!(futures::poll!(flush.as_mut()).is_pending(), "the writer is blocked");
        for i in 2_000..2_000 + cap {
            store.record(&sample(&id, 1_000 + i, Some(1.0), None));
            if i % 2_000 == 0 {
                store.record(&HubEvent::Online { id: id.clone(), at_ms: i });
            }
        }
        blocker.execute_batch("COMMIT").unwrap();
        flush.await
    });
    let err = result.expect_err("samples queued before the flush were dropped");
    assert!(err.to_string().contains("dropped"), "{err}");
    assert!(store.dropped_samples() >= 1_500, "{}", store.dropped_samples());
    flush(&store);

    let stored = store.history(&id, 0, i64::MAX, Bucket::Raw).unwrap().len() as u64;
    assert_eq!(stored + store.dropped_samples(), (2_000 + cap) as u64, "every sample stored or counted");
    assert_eq!(store.events(Some(&id), None, 1000).unwrap().len(), 50, "no event dropped");
    let newest = store.history(&id, 0, i64::MAX, Bucket::Raw).unwrap().last().unwrap().t_ms;
    assert_eq!(newest, 1_000 + 2_000 + cap - 1, "the newest samples are kept");
}
