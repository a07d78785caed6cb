//! Restart keeps everything; devices, schedules and events round-trip; bad files are refused.

mod store_support;

use std::time::Duration;

use plugctl_client::Family;
use plugctl_hub::{
    config::Retention,
    events::HubEvent,
    model::{DeviceInfo, OutletInfo, Source},
    store::{Bucket, Store},
};
use serde_json::json;
use store_support::*;

fn info(id: &str, name: &str) -> DeviceInfo {
    DeviceInfo {
        id: dev(id),
        family: Family::Kasa,
        host: "127.0.0.2".parse().unwrap(),
        port: 9999,
        udp_port: None,
        name: name.into(),
        room: Some("Kitchen".into()),
        tags: vec!["appliance".into()],
        model: "HS300(US)".into(),
        mac: "50:C7:BF:00:00:01".into(),
        sw_version: None,
        outlets: vec![OutletInfo { index: 0, id: "8006...00".into(), name: "Kettle".into() }],
        interval: Duration::from_millis(1500),
        cloud_free: true,
        source: Source::Api,
    }
}

#[test]
fn restart_keeps_history_schedules_devices_events_and_the_counter_base() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub").join("dir").join("h.db"); // parent directories created
    let id = dev("kasa-RESTART");
    let t0 = ms("2026-07-01T10:00:00Z");
    {
        let store = open(&path, Retention::default(), "UTC");
        for i in 0..100 {
            store.record(&sample(&id, t0 + i * 60_000, Some(600.0), Some(7.0 + i as f64 * 0.01)));
        }
        store.record(&HubEvent::StateChanged { id: id.clone(), outlet: Some(1), on: false, at_ms: t0 + 5 });
        store.record(&HubEvent::Offline { id: id.clone(), error: "timed out".into(), at_ms: t0 + 6 });
        store
            .put_schedule("wake", &json!({"at": "07:30", "action": "on", "devices": [id.as_str()]}))
            .unwrap();
        store.upsert_device(&info("kasa-RESTART", "Kettle")).unwrap();
        // No flush: dropping the last handle commits what is queued.
    }
    let store = open(&path, Retention::default(), "UTC");
    let raw = store.history(&id, t0, t0 + 100 * 60_000, Bucket::Raw).unwrap();
    assert_eq!(raw.len(), 100);
    assert!(close(raw.iter().map(|p| p.energy_kwh).sum(), 0.99));
    assert_eq!(store.schedules().unwrap()[0].rule["at"], "07:30");
    assert_eq!(store.load_devices().unwrap(), vec![info("kasa-RESTART", "Kettle")]);
    let kinds: Vec<String> = store.events(Some(&id), None, 10).unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(kinds, ["offline", "state_changed"]);

    // The counter base survived: the next reading counts from the last one before the restart.
    store.record(&sample(&id, t0 + 100 * 60_000, Some(600.0), Some(7.0 + 100.0 * 0.01)));
    flush(&store);
    let day = store.energy_totals(&id, t0).unwrap();
    assert!(close(day.today_kwh, 1.0), "{day:?}");
}

#[test]
fn devices_round_trip_and_removal_keeps_history() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("h.db"), Retention::default(), "UTC");
    assert!(store.load_devices().unwrap().is_empty());
    store.upsert_device(&info("kasa-B", "Lamp")).unwrap();
    store.upsert_device(&info("kasa-A", "Fan")).unwrap();
    store.upsert_device(&info("kasa-B", "Desk lamp")).unwrap(); // replaces
    let loaded = store.load_devices().unwrap();
    assert_eq!(loaded, vec![info("kasa-A", "Fan"), info("kasa-B", "Desk lamp")]);

    let t = ms("2026-07-01T10:00:00Z");
    store.record(&sample(&dev("kasa-A"), t, Some(10.0), Some(1.0)));
    flush(&store);
    store.remove_device(&dev("kasa-A")).unwrap();
    store.remove_device(&dev("kasa-unknown")).unwrap();
    assert_eq!(store.load_devices().unwrap(), vec![info("kasa-B", "Desk lamp")]);
    assert_eq!(store.history(&dev("kasa-A"), t, t + 1, Bucket::Raw).unwrap().len(), 1, "history stays");
}

#[test]
fn schedules_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("h.db"), Retention::default(), "UTC");
    assert!(store.schedules().unwrap().is_empty());
    let r1 = json!({"cron": "0 30 7 * * mon-fri", "action": "on", "enabled": true, "note": "ünïcode ✓"});
    let r2 = json!({"sunset": true, "offset_min": -15, "action": "off"});
    store.put_schedule("b", &r2).unwrap();
    store.put_schedule("a", &r1).unwrap();
    let all = store.schedules().unwrap();
    assert_eq!(
        all.iter().map(|s| (s.id.as_str(), &s.rule)).collect::<Vec<_>>(),
        vec![("a", &r1), ("b", &r2)]
    );
    store.put_schedule("a", &json!({"disabled": true})).unwrap();
    assert_eq!(store.schedules().unwrap()[0].rule, json!({"disabled": true}));
    assert!(store.delete_schedule("a").unwrap());
    assert!(!store.delete_schedule("a").unwrap());
    assert_eq!(store.schedules().unwrap().len(), 1);
}

#[test]
fn events_page_newest_first_without_gaps_or_overlaps() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir.path().join("h.db"), Retention::default(), "UTC");
    let (a, b) = (dev("kasa-A"), dev("kasa-B"));
    for i in 0..25 {
        let id = if i % 5 == 0 { &b } else { &a };
        store.record(&HubEvent::StateChanged {
            id: id.clone(),
            outlet: None,
            on: i % 2 == 0,
            at_ms: 1000 + i,
        });
    }
    store.record(&HubEvent::Error { id: None, message: "schedule failed".into(), at_ms: 2000 });
    store.record(&HubEvent::DeviceAdded { id: a.clone() });
    flush(&store);

    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = store.events(None, before, 10).unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 10);
        assert!(page.windows(2).all(|w| w[0].seq > w[1].seq), "newest first");
        before = page.last().map(|e| e.seq);
        seen.extend(page);
    }
    assert_eq!(seen.len(), 27);
    let mut seqs: Vec<i64> = seen.iter().map(|e| e.seq).collect();
    seqs.dedup();
    assert_eq!(seqs.len(), 27, "no overlaps");
    assert_eq!(seen[0].kind, "device_added");
    assert_eq!(seen[0].id, Some(a.clone()));
    assert_eq!(
        (seen[1].kind.as_str(), seen[1].id.as_ref(), &seen[1].detail),
        ("error", None, &json!({"message": "schedule failed"}))
    );
    let last = seen.last().unwrap();
    assert_eq!((last.kind.as_str(), last.at_ms, &last.detail), ("state_changed", 1000, &json!({"on": true})));

    let only_b = store.events(Some(&b), None, 100).unwrap();
    assert_eq!(only_b.iter().map(|e| e.at_ms).collect::<Vec<_>>(), vec![1020, 1015, 1010, 1005, 1000]);
    let older = store.events(Some(&b), Some(only_b[1].seq), 2).unwrap();
    assert_eq!(older.iter().map(|e| e.at_ms).collect::<Vec<_>>(), vec![1010, 1005]);
    assert!(store.events(None, None, 0).unwrap().is_empty());
}

#[test]
fn refuses_files_it_must_not_touch() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, vec![0x42u8; 8192]).unwrap();
    let e = Store::open(&junk, Retention::default()).unwrap_err();
    assert!(e.to_string().contains("junk.db"), "{e}");

    let newer = dir.path().join("newer.db");
    drop(open(&newer, Retention::default(), "UTC"));
    rusqlite::Connection::open(&newer).unwrap().pragma_update(None, "user_version", 99).unwrap();
    let e = Store::open(&newer, Retention::default()).unwrap_err();
    assert!(e.to_string().contains("newer") && e.to_string().contains("v99"), "{e}");

    let other = dir.path().join("other.db");
    rusqlite::Connection::open(&other).unwrap().execute_batch("CREATE TABLE accounts (id)").unwrap();
    let e = Store::open(&other, Retention::default()).unwrap_err();
    assert!(e.to_string().contains("not a plugctl database"), "{e}");
}

#[test]
fn opens_in_wal_mode_with_full_sync() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let store = open(&path, Retention::default(), "UTC");
    store.record(&sample(&dev("x"), 1, None, None));
    flush(&store);
    let c = rusqlite::Connection::open(&path).unwrap();
    let mode: String = c.pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let v: i64 = c.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(v, 1);
}

#[test]
fn default_path_is_in_the_data_directory() {
    let p = plugctl_hub::store::default_db_path().unwrap();
    assert_eq!(p.file_name().unwrap(), "plugctl.db");
}
