//! `plugctl countdown` against both emulators, with simulated time sped up so that minutes
//! pass in milliseconds.

mod common;

use std::time::Duration;

use common::{plugctl, Emulator};

/// Polls `state` until the plug reports `on`, or gives up after `tries`.
fn wait_for_state(args: &[&str], on: bool, tries: usize) -> bool {
    for _ in 0..tries {
        if plugctl(args).json()["on"] == on {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn kasa_countdown_add_list_replace_delete_clear_and_fire() {
    let emu = Emulator::kasa(&["--model", "hs110-hw4", "--time-scale", "600"], 1);
    let t = emu.first().target();
    plugctl(&["off", &t]).ok();
    assert_eq!(plugctl(&["countdown", &t, "list"]).ok().trim(), "no countdown");

    let a = plugctl(&["countdown", &t, "add", "--in", "1h", "--on", "--json"]).json();
    assert_eq!(
        (a["delay_s"].as_u64(), a["act"].as_str(), a["replaced"].as_bool()),
        (Some(3600), Some("on"), Some(false))
    );
    let list = plugctl(&["countdown", &t, "list", "--json"]).json();
    let rules = list["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1, "{list}");
    assert_eq!(rules[0]["delay"], 3600);
    assert_eq!(rules[0]["act"], 1);

    // A second one replaces the first (the firmware keeps one).
    let b = plugctl(&["countdown", &t, "add", "--in", "2h", "--off", "--json"]).json();
    assert_eq!(b["replaced"], true);
    let list = plugctl(&["countdown", &t, "list", "--json"]).json();
    assert_eq!(list["rules"].as_array().unwrap().len(), 1);
    let id = list["rules"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(plugctl(&["countdown", &t, "delete", &id]).ok().trim(), format!("deleted countdown {id}"));
    assert_eq!(plugctl(&["countdown", &t, "list", "--json"]).json()["rules"].as_array().unwrap().len(), 0);
    plugctl(&["countdown", &t, "add", "--in", "5m", "--on"]).ok();
    assert!(plugctl(&["countdown", &t, "list"]).ok().contains("5m"));
    plugctl(&["countdown", &t, "clear"]).ok();
    assert_eq!(plugctl(&["countdown", &t, "list"]).ok().trim(), "no countdown");

    // 1 simulated minute = 0.1 s here: the relay really switches when the delay ends.
    plugctl(&["countdown", &t, "add", "--in", "1m", "--on"]).ok();
    assert!(wait_for_state(&["state", &t, "--json"], true, 200), "countdown never switched the plug on");
}

#[test]
fn kasa_countdown_on_a_strip_outlet() {
    let emu = Emulator::kasa(&["--model", "hs300", "--time-scale", "600"], 1);
    let t = emu.first().target();
    plugctl(&["off", &t, "--child", "3"]).ok();
    plugctl(&["countdown", &t, "--child", "3", "add", "--in", "1m", "--on"]).ok();
    assert!(wait_for_state(&["state", &t, "--child", "3", "--json"], true, 200));
    // Only outlet 3 switched.
    let s = plugctl(&["state", &t, "--json"]).json();
    assert_eq!(s["children"][3]["on"], true);
    let r = plugctl(&["countdown", &t, "--child", "9", "list"]);
    assert_eq!(r.code, Some(2), "{r:?}");
}

#[test]
fn hi_flying_countdown_switches_after_whole_minutes() {
    let emu = Emulator::hf(&["--time-scale", "600"], 1);
    let d = emu.first();
    let t = d.target();
    let up = d.udp_port();
    let f = ["--family", "hf", "--udp-port", up.as_str()];
    let with = |cmd: &[&str]| -> Vec<String> { cmd.iter().chain(f.iter()).map(|s| s.to_string()).collect() };
    let run = |cmd: &[&str]| {
        let a = with(cmd);
        plugctl(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    run(&["off", &t]).ok();
    let a = run(&["countdown", &t, "add", "--in", "1m", "--on", "--json"]).json();
    assert_eq!(a["delay_s"], 60);
    let state = with(&["state", &t, "--json"]);
    assert!(wait_for_state(&state.iter().map(String::as_str).collect::<Vec<_>>(), true, 200));
    for bad in ["90s", "2001m", "30s"] {
        let r = run(&["countdown", &t, "add", "--in", bad, "--off"]);
        assert_eq!(r.code, Some(2), "{bad}: {r:?}");
        assert!(r.stderr.contains("minutes"), "{}", r.stderr);
    }
    let r = run(&["countdown", &t, "list"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("cannot list"), "{}", r.stderr);
}

#[test]
fn countdown_argument_errors() {
    for (args, needle) in [
        (vec!["countdown", "127.0.0.1", "add", "--in", "5", "--on"], "unit"),
        (vec!["countdown", "127.0.0.1", "add", "--in", "5m"], "--on"),
        (vec!["countdown", "127.0.0.1", "add", "--in", "5m", "--on", "--off"], "cannot be used"),
        (vec!["countdown", "127.0.0.1", "add", "--in", "0s", "--on"], "range"),
        (vec!["countdown", "127.0.0.1", "add", "--in", "banana", "--on"], "duration"),
    ] {
        let r = plugctl(&args);
        assert_eq!(r.code, Some(2), "{args:?}: {r:?}");
        assert!(r.stderr.contains(needle), "{args:?}: {}", r.stderr);
    }
}
