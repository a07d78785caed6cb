//! `plugctl time` through the binary: show, set (time, zone by name or index), sync, and
//! statistics following the device's dates; plus the client's and emulator's zone tables
//! agreeing entry by entry.

mod common;

use std::time::{Duration, Instant};

use common::{plugctl, Emulator};
use jiff::{civil, Timestamp};
use serde_json::Value;

fn time_doc(t: &str) -> Value {
    plugctl(&["time", t, "--json"]).json()
}

fn local_of(doc: &Value) -> civil::DateTime {
    doc["local"].as_str().expect("local").parse().expect("civil date-time")
}

/// Seconds from `a` to `b`.
fn secs_between(a: civil::DateTime, b: civil::DateTime) -> i64 {
    a.until((jiff::Unit::Second, b)).map(|s| s.get_seconds()).unwrap_or(i64::MAX)
}

#[test]
fn zone_tables_of_client_and_emulator_agree() {
    use plugctl_client::kasa::timezone::ZONES;
    use plugctl_emulator::kasa::device::zones;
    assert_eq!(ZONES.len() as i64, zones::MAX_INDEX + 1);
    for z in &ZONES {
        assert_eq!(zones::zone_name(i64::from(z.index)), Some(z.iana), "index {}", z.index);
    }
}

#[test]
fn show_set_and_sync() {
    let emu = Emulator::kasa(&["--model", "hs110-hw4"], 1);
    let t = emu.first().target();

    // A fresh device follows the host clock, in the host's zone.
    let doc = time_doc(&t);
    assert!(doc["drift_s"].as_i64().expect("drift").abs() <= 5, "{doc}");
    let idx = doc["index"].as_i64().expect("index");
    assert!((0..=109).contains(&idx), "{doc}");
    assert!(doc["zone"].is_string() && doc["utc_offset"].is_string(), "{doc}");
    let text = plugctl(&["time", &t]).ok().to_string();
    assert!(text.starts_with("device time") && text.contains("index"), "{text}");

    // Explicit local time and zone by name.
    let doc =
        plugctl(&["time", &t, "set", "--at", "2016-01-01 10:10:10", "--zone", "Europe/Berlin", "--json"])
            .json();
    assert_eq!(doc["index"], 41, "{doc}");
    assert_eq!(doc["zone"], "Europe/Berlin");
    assert_eq!(doc["utc_offset"], "+01:00");
    let set = civil::date(2016, 1, 1).at(10, 10, 10, 0);
    assert!((0..=5).contains(&secs_between(set, local_of(&doc))), "{doc}");
    assert!(time_doc(&t)["drift_s"].as_i64().unwrap() < -86_400 * 365, "the clock is in 2016 now");

    // Zone by index only: the instant stays, Berlin → Los Angeles is 9 hours back in January.
    let before = local_of(&time_doc(&t));
    let doc = plugctl(&["time", &t, "set", "--index", "6", "--json"]).json();
    assert_eq!(doc["index"], 6);
    assert_eq!(doc["zone"], "America/Los_Angeles");
    let moved = secs_between(before, local_of(&doc));
    assert!((-9 * 3600 - 1..=-9 * 3600 + 5).contains(&moved), "{moved} s: {doc}");

    // A time alone keeps the zone.
    let doc = plugctl(&["time", &t, "set", "--at", "2020-02-29 23:59", "--json"]).json();
    assert_eq!(doc["index"], 6);
    assert!(doc["local"].as_str().unwrap().starts_with("2020-02-29T23:59"), "{doc}");

    // Sync to another zone: the right index and the host's instant.
    let doc = plugctl(&["time", &t, "sync", "--zone", "Asia/Tokyo", "--json"]).json();
    assert_eq!(doc["index"], 90);
    assert_eq!(doc["utc_offset"], "+09:00");
    assert!(doc["drift_s"].as_i64().unwrap().abs() <= 5, "{doc}");
    let utc: Timestamp = doc["utc"].as_str().unwrap().parse().unwrap();
    assert!((utc.as_second() - Timestamp::now().as_second()).abs() <= 5);

    // Sync in the host's zone brings back the default index.
    let doc = plugctl(&["time", &t, "sync", "--json"]).json();
    assert_eq!(doc["index"].as_i64(), Some(idx), "{doc}");
    assert!(doc["drift_s"].as_i64().unwrap().abs() <= 5, "{doc}");
}

#[test]
fn argument_mistakes_are_usage_errors() {
    let emu = Emulator::kasa(&["--model", "hs100-hw2"], 1);
    let t = emu.first().target();
    for bad in [
        vec!["time", &t, "set"],
        vec!["time", &t, "set", "--at", "2016-02-30 10:00"],
        vec!["time", &t, "set", "--at", "yesterday"],
        vec!["time", &t, "set", "--index", "110"],
        vec!["time", &t, "set", "--zone", "Mars/Olympus_Mons"],
        vec!["time", &t, "set", "--zone", "Europe/Berlin", "--index", "41"],
        vec!["time", &t, "sync", "--zone", "Nowhere/Special"],
        vec!["time", &t, "--child", "1"],
    ] {
        let r = plugctl(&bad);
        assert_eq!(r.code, Some(2), "{bad:?}: {r:?}");
        assert_eq!(r.stderr.trim().lines().filter(|l| l.starts_with("error")).count(), 1, "{}", r.stderr);
    }
}

#[test]
fn statistics_follow_the_time_that_was_set() {
    let emu = Emulator::kasa(&["--model", "hs110-hw4", "--time-scale", "3600"], 1);
    let t = emu.first().target();
    plugctl(&["on", &t]).ok();
    // Just before midnight at the end of January, UTC: two simulated hours pass in ~2 s.
    plugctl(&["time", &t, "set", "--at", "2016-01-31 23:00", "--index", "38"]).ok();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let doc = time_doc(&t);
        if local_of(&doc) >= civil::date(2016, 2, 1).at(1, 0, 0, 0) {
            break;
        }
        assert!(Instant::now() < deadline, "the clock did not advance: {doc}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let jan = plugctl(&["energy", &t, "--month", "2016-01", "--json"]).json();
    let feb = plugctl(&["energy", &t, "--month", "2016-02", "--json"]).json();
    assert_eq!(jan["days"][0]["date"], "2016-01-31", "{jan}");
    assert!(jan["total_kwh"].as_f64().unwrap() > 0.03, "~1 h at 60 W on Jan 31: {jan}");
    assert_eq!(feb["days"][0]["date"], "2016-02-01", "{feb}");
    assert!(feb["total_kwh"].as_f64().unwrap() > 0.03, "{feb}");
    let year = plugctl(&["energy", &t, "--year", "2016", "--json"]).json();
    let months: Vec<&str> =
        year["months"].as_array().unwrap().iter().filter_map(|m| m["date"].as_str()).collect();
    assert_eq!(months, ["2016-01", "2016-02"], "{year}");
}
