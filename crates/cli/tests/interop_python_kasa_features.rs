//! Interop: python-kasa (pinned 0.12.0 in `.venv-interop`) reads what our emulator holds
//! and what `plugctl` set: energy (realtime, `--month`, `--year`), the clock and zone, and
//! the cloud binding. Software nobody here wrote is the judge.

mod common;

use std::time::{Duration, Instant};

use common::{
    plugctl,
    process::{python_kasa_command, run_guarded},
    EmuDevice, Emulator,
};

/// Runs `kasa --host H --port P --type plug ARGS` and returns its output (asserting success).
fn kasa(d: &EmuDevice, args: &[&str]) -> String {
    let port = d.port.to_string();
    let mut cmd = python_kasa_command();
    cmd.args(["--host", d.host.as_str(), "--port", port.as_str(), "--type", "plug"]).args(args);
    let (ok, out, err) = run_guarded(cmd, &format!("kasa {args:?}"));
    let text = format!("{out}{err}");
    assert!(ok && !text.contains("Traceback"), "kasa {args:?} failed:\n{text}");
    text
}

/// `(day or month, kWh)` rows of python-kasa's CSV-like statistics output.
fn rows(text: &str) -> Vec<(u32, f64)> {
    text.lines()
        .filter_map(|l| {
            let (a, b) = l.split_once(',')?;
            Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
        })
        .collect()
}

#[test]
fn python_kasa_reads_energy_history() {
    for model in ["hs110-hw4", "hs110-hw1"] {
        let emu = Emulator::kasa(&["--model", model, "--time-scale", "3600"], 1);
        let d = emu.first();
        let t = d.target();
        plugctl(&["on", &t]).ok();
        plugctl(&["time", &t, "set", "--at", "2016-03-05 00:00", "--index", "38"]).ok();
        // Let some simulated hours accumulate (polled, hang guard only).
        let deadline = Instant::now() + Duration::from_secs(60);
        let ours = loop {
            let doc = plugctl(&["energy", &t, "--month", "2016-03", "--json"]).json();
            if doc["total_kwh"].as_f64().unwrap_or(0.0) > 0.1 {
                break doc;
            }
            assert!(Instant::now() < deadline, "{model}: no statistics: {doc}");
            std::thread::sleep(Duration::from_millis(100));
        };
        let month = kasa(d, &["energy", "--month", "2016-03"]);
        let theirs = rows(&month);
        assert!(!theirs.is_empty(), "{model}: {month}");
        assert_eq!(theirs[0].0, 5, "{model}: the day set with plugctl: {month}");
        let ours_first = ours["days"][0]["energy_kwh"].as_f64().unwrap();
        assert!(theirs[0].1 >= ours_first - 0.002, "{model}: python-kasa {month} vs plugctl {ours}");

        let year = kasa(d, &["energy", "--year", "2016"]);
        let months = rows(&year);
        assert!(months.iter().any(|(m, kwh)| *m == 3 && *kwh > 0.1), "{model}: {year}");

        let realtime = kasa(d, &["energy"]);
        assert!(realtime.contains("Voltage") && realtime.contains("Power"), "{model}: {realtime}");
    }
}

#[test]
fn python_kasa_reads_the_clock_plugctl_set() {
    let emu = Emulator::kasa(&["--model", "kp115"], 1);
    let d = emu.first();
    let t = d.target();
    plugctl(&["time", &t, "set", "--at", "2016-01-01 10:10:10", "--zone", "Europe/Berlin"]).ok();
    let out = kasa(d, &["time"]);
    assert!(out.contains("2016-01-01 10:10") && out.contains("+01:00"), "{out}");
    plugctl(&["time", &t, "sync", "--zone", "Asia/Tokyo"]).ok();
    let out = kasa(d, &["time"]);
    assert!(out.contains("+09:00") && out.contains("Tokyo"), "{out}");
    // And the other way: python-kasa pushes the host's local wall time into the device's
    // current zone (`set_time`), so put the device in the host's zone with a wrong clock.
    plugctl(&["time", &t, "sync"]).ok();
    plugctl(&["time", &t, "set", "--at", "2016-01-01 00:00"]).ok();
    kasa(d, &["time", "sync"]);
    let doc = plugctl(&["time", &t, "--json"]).json();
    assert!(doc["drift_s"].as_i64().unwrap().abs() <= 5, "{doc}");
}

#[test]
fn python_kasa_reads_the_cloud_binding() {
    let emu = Emulator::kasa(&["--model", "hs110-hw4"], 1);
    let d = emu.first();
    let t = d.target();
    let info = kasa(d, &["command", "--module", "cnCloud", "get_info"]);
    assert!(info.contains("\"binded\": 0"), "{info}");
    plugctl(&["cloud", &t, "bind", "--user", "someone@example.com", "--password", "secret"]).ok();
    let info = kasa(d, &["command", "--module", "cnCloud", "get_info"]);
    assert!(info.contains("\"binded\": 1") && info.contains("someone@example.com"), "{info}");
    let feature = kasa(d, &["feature", "cloud_connection"]);
    assert!(feature.contains("True"), "{feature}");
    plugctl(&["cloud", &t, "unbind"]).ok();
    let feature = kasa(d, &["feature", "cloud_connection"]);
    assert!(feature.contains("False"), "{feature}");
}
