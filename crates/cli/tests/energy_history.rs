//! `plugctl energy` statistics through the binary: per day of a month, per month of a year,
//! erase behind `--yes`, both unit schemes, and strips per outlet and all at once.
//! Emulators run with a fast clock so statistics accumulate; tests poll with hang guards.

mod common;

use std::time::{Duration, Instant};

use common::{plugctl, Emulator};
use serde_json::Value;

/// Polls `f` until it returns `Some` (hang guard only).
fn poll<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Puts the device clock at the start of January 2016 (UTC), so that statistics fall in a
/// known month for the next simulated weeks (a real second is a simulated hour here).
fn start_clock(t: &str) {
    plugctl(&["time", t, "set", "--at", "2016-01-02 00:00", "--index", "38"]).ok();
}

const MONTH: &str = "2016-01";

fn month_doc(t: &str, extra: &[&str]) -> Value {
    let mut args = vec!["energy", t, "--month", MONTH, "--json"];
    args.extend_from_slice(extra);
    plugctl(&args).json()
}

fn total(doc: &Value) -> f64 {
    doc["total_kwh"].as_f64().expect("total_kwh")
}

#[test]
fn day_and_month_statistics_in_both_unit_schemes() {
    for model in ["hs110-hw1", "hs110-hw4"] {
        let emu = Emulator::kasa(&["--model", model, "--time-scale", "3600"], 1);
        let t = emu.first().target();
        plugctl(&["on", &t]).ok();
        start_clock(&t);
        // One real second is a simulated hour at ~60 W: 0.06 kWh.
        let doc = poll("day statistics", || {
            let d = month_doc(&t, &[]);
            (total(&d) >= 0.1).then_some(d)
        });
        assert_eq!(doc["unit"], "kWh");
        let days = doc["days"].as_array().expect("days");
        assert!(!days.is_empty());
        let sum: f64 = days.iter().map(|d| d["energy_kwh"].as_f64().unwrap()).sum();
        assert!((sum - total(&doc)).abs() < 1e-3, "{model}: {doc}");
        for d in days {
            assert_eq!(d["date"].as_str().map(str::len), Some(10), "{d}");
        }
        let year = plugctl(&["energy", &t, "--year", "2016", "--json"]).json();
        let months = year["months"].as_array().expect("months");
        let this = months
            .iter()
            .find(|e| e["date"] == MONTH)
            .unwrap_or_else(|| panic!("{model}: current month missing: {year}"));
        assert!(this["energy_kwh"].as_f64().unwrap() >= total(&doc) - 1e-3, "{model}: {year} vs {doc}");
        // The readable table.
        let text = plugctl(&["energy", &t, "--month", MONTH]).ok().to_string();
        assert!(text.contains("kWh") && text.contains("DATE") && text.contains("total"), "{text}");
        assert!(text.contains("2016-01-02"), "{text}");
        let text = plugctl(&["energy", &t, "--year", "2016"]).ok().to_string();
        assert!(text.contains(MONTH), "{text}");
        // A month without data is empty, not an error.
        let empty = plugctl(&["energy", &t, "--month", "1999-01", "--json"]).json();
        assert_eq!(empty["days"].as_array().map(Vec::len), Some(0));
    }
}

#[test]
fn erase_needs_yes_and_clears_the_statistics() {
    let emu = Emulator::kasa(&["--model", "kp115", "--time-scale", "3600"], 1);
    let t = emu.first().target();
    plugctl(&["on", &t]).ok();
    start_clock(&t);
    let before = poll("statistics", || {
        let d = month_doc(&t, &[]);
        (total(&d) >= 0.2).then_some(total(&d))
    });
    let r = plugctl(&["energy", &t, "--erase"]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("--yes"), "{}", r.stderr);
    assert!(total(&month_doc(&t, &[])) >= before, "nothing erased without --yes");
    let r = plugctl(&["energy", &t, "--erase", "--yes", "--json"]).json();
    assert_eq!(r["erased"], true);
    let after = total(&month_doc(&t, &[]));
    assert!(after < before / 2.0, "after erase {after} vs before {before}");
    // Realtime total is not a statistic and stays.
    let rt = plugctl(&["energy", &t, "--json"]).json();
    assert!(rt["total_kwh"].as_f64().unwrap() > 0.0);
}

#[test]
fn strip_outlets_one_by_one_and_all_at_once() {
    let emu = Emulator::kasa(&["--model", "hs300", "--time-scale", "3600"], 1);
    let t = emu.first().target();
    plugctl(&["on", &t]).ok();
    start_clock(&t);
    let all = poll("strip statistics", || {
        let d = month_doc(&t, &[]);
        let outlets = d["outlets"].as_array()?.clone();
        outlets.iter().all(|o| o["total_kwh"].as_f64().unwrap_or(0.0) > 0.0).then_some(d)
    });
    let outlets = all["outlets"].as_array().unwrap();
    assert_eq!(outlets.len(), 6);
    let sum: f64 = outlets.iter().map(total).sum();
    assert!((sum - total(&all)).abs() < 1e-3, "{all}");
    // Realtime: every outlet plus the sum.
    let rt = plugctl(&["energy", &t, "--json"]).json();
    assert_eq!(rt["outlets"].as_array().map(Vec::len), Some(6), "{rt}");
    let text = plugctl(&["energy", &t]).ok().to_string();
    assert!(text.contains("ALIAS") && text.lines().count() >= 7, "{text}");
    // One outlet by index, by id suffix and by full id: the same outlet.
    let id = outlets[2]["id"].as_str().unwrap().to_string();
    let suffix = &id[id.len() - 2..];
    for spec in ["2", suffix, id.as_str()] {
        let d = month_doc(&t, &["--child", spec]);
        assert!(d.get("outlets").is_none(), "{d}");
        assert!(total(&d) > 0.0, "--child {spec}: {d}");
    }
    // Erasing one outlet leaves the others.
    plugctl(&["energy", &t, "--erase", "--yes", "--child", "2"]).ok();
    let d = month_doc(&t, &[]);
    let after = d["outlets"].as_array().unwrap();
    assert!(total(&after[2]) < total(&outlets[2]) / 2.0, "{d}");
    for i in [0, 1, 3, 4, 5] {
        assert!(total(&after[i]) >= total(&outlets[i]) - 1e-3, "outlet {i}: {d}");
    }
    // The whole strip.
    plugctl(&["energy", &t, "--erase", "--yes"]).ok();
    let d = month_doc(&t, &[]);
    assert!(total(&d) < total(&all) / 2.0, "{d}");
    let r = plugctl(&["energy", &t, "--month", "2026-01", "--child", "9"]);
    assert_eq!(r.code, Some(2), "{r:?}");
}

#[test]
fn bad_arguments_and_devices_without_statistics() {
    let emu = Emulator::kasa(&["--model", "hs100-hw2"], 1);
    let t = emu.first().target();
    for bad in [
        vec!["energy", &t, "--month", "2026-13"],
        vec!["energy", &t, "--month", "March"],
        vec!["energy", &t, "--year", "26"],
        vec!["energy", &t, "--yes"],
        vec!["energy", &t, "--month", "2026-01", "--year", "2026"],
        vec!["energy", &t, "--erase", "--yes", "--year", "2026"],
    ] {
        let r = plugctl(&bad);
        assert_eq!(r.code, Some(2), "{bad:?}: {r:?}");
    }
    let r = plugctl(&["energy", &t, "--month", "2026-01"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("no energy meter"), "{}", r.stderr);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);

    let hf = Emulator::hf(&[], 1);
    let d = hf.first();
    let r =
        plugctl(&["energy", &d.target(), "--family", "hf", "--udp-port", &d.udp_port(), "--year", "2026"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("Hi-Flying plugs keep no energy statistics"), "{}", r.stderr);
}
