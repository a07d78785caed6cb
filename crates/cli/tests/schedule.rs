//! `plugctl schedule` end to end: the real binary against `plugctl emulate kasa`, with the
//! emulator's clock set by `time.set_time` and sped up so that rules fire within seconds.

mod common;

use std::time::{Duration, Instant};

use common::{plugctl, Emulator};
use serde_json::{json, Value};

/// Sets the plug's clock to `YYYY-MM-DD HH:MM:00` (via `raw`, so this test does not depend
/// on the `time` command).
fn set_clock(t: &str, y: i64, mo: i64, d: i64, h: i64, mi: i64) {
    let req =
        json!({"time": {"set_time": {"year": y, "month": mo, "mday": d, "hour": h, "min": mi, "sec": 0}}});
    let r = plugctl(&["raw", t, &req.to_string(), "--json"]).json();
    assert_eq!(r["time"]["set_time"]["err_code"], 0, "{r}");
}

/// The plug's rule list as the firmware reports it.
fn firmware_rules(t: &str, child: Option<&str>) -> Value {
    let mut req = json!({"schedule": {"get_rules": {}}});
    if let Some(c) = child {
        req["context"] = json!({"child_ids": [c]});
    }
    plugctl(&["raw", t, &req.to_string(), "--json"]).json()["schedule"]["get_rules"].clone()
}

/// Polls `state ARGS --json` until `pred` holds; false after `guard` (a hang guard only).
fn wait_state(args: &[&str], guard: Duration, pred: impl Fn(&Value) -> bool) -> bool {
    let deadline = Instant::now() + guard;
    while Instant::now() < deadline {
        if pred(&plugctl(args).json()) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(30));
    }
    false
}

#[test]
fn add_list_edit_enable_delete_clear() {
    let emu = Emulator::kasa(&["--model", "hs110-hw4"], 1);
    let t = emu.first().target();
    assert_eq!(plugctl(&["schedule", &t, "list"]).ok().trim(), "schedule enabled, 0 rules");

    let a = plugctl(&[
        "schedule", &t, "add", "--at", "07:30", "--days", "mon-fri", "--on", "--name", "wake", "--json",
    ])
    .json();
    let wake = a["added"]["id"].as_str().unwrap().to_string();
    assert_eq!(wake.len(), 32);
    assert_eq!(a["added"]["text"], "mon-fri, on at 07:30");
    let out = plugctl(&["schedule", &t, "add", "--sunset", "--offset", "-15m", "--off"]).ok().to_string();
    assert!(out.starts_with("added schedule rule ") && out.contains("daily, off at sunset-15m"), "{out}");
    plugctl(&["schedule", &t, "add", "--at", "23:00", "--date", "2099-12-31", "--off", "--disabled"]).ok();

    // What the firmware holds: its own field names and values.
    let fw = firmware_rules(&t, None);
    let list = fw["rule_list"].as_array().unwrap();
    assert_eq!(list.len(), 3, "{fw}");
    let w = &list[0];
    assert_eq!(
        (&w["stime_opt"], &w["smin"], &w["sact"], &w["wday"], &w["repeat"], &w["name"], &w["eact"]),
        (
            &json!(0),
            &json!(450),
            &json!(1),
            &json!([0, 1, 1, 1, 1, 1, 0]),
            &json!(1),
            &json!("wake"),
            &json!(-1)
        )
    );
    assert_eq!(
        (&list[1]["stime_opt"], &list[1]["soffset"], &list[1]["sact"]),
        (&json!(2), &json!(-15), &json!(0))
    );
    let once = &list[2];
    assert_eq!(
        (&once["repeat"], &once["year"], &once["month"], &once["day"], &once["enable"]),
        (&json!(0), &json!(2099), &json!(12), &json!(31), &json!(0))
    );
    assert_eq!(once["wday"], json!([0, 0, 0, 0, 1, 0, 0]), "2099-12-31 is a Thursday");

    // The table and the JSON listing.
    let text = plugctl(&["schedule", &t, "list"]).ok().to_string();
    for needle in
        ["schedule enabled, 3 rules", "mon-fri", "07:30", "sunset-15m", "2099-12-31", "once", "weekly"]
    {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    let j = plugctl(&["schedule", &t, "list", "--json"]).json();
    assert_eq!(j["enabled"], true);
    assert_eq!(j["rules"][1]["start"], json!({"time": "sunset-15m", "kind": "sunset", "offset_min": -15}));
    assert_eq!(j["rules"][2]["date"], "2099-12-31");
    assert_eq!(j["rules"][2]["enabled"], false);

    // Edit by id prefix: only the given options change.
    let prefix = &wake[..6];
    plugctl(&["schedule", &t, "edit", prefix, "--at", "06:45", "--days", "weekends"]).ok();
    let w = &firmware_rules(&t, None)["rule_list"][0];
    assert_eq!(
        (&w["smin"], &w["wday"], &w["sact"], &w["name"]),
        (&json!(405), &json!([1, 0, 0, 0, 0, 0, 1]), &json!(1), &json!("wake"))
    );
    let r = plugctl(&["schedule", &t, "edit", prefix, "--offset", "10m"]);
    assert_eq!(r.code, Some(2), "--offset on a clock-time rule: {r:?}");
    assert!(r.stderr.contains("--sunrise or --sunset"), "{}", r.stderr);

    // One rule off, then the whole schedule off and on.
    plugctl(&["schedule", &t, "disable", prefix]).ok();
    assert_eq!(firmware_rules(&t, None)["rule_list"][0]["enable"], 0);
    plugctl(&["schedule", &t, "enable", prefix]).ok();
    assert_eq!(firmware_rules(&t, None)["rule_list"][0]["enable"], 1);
    assert_eq!(plugctl(&["schedule", &t, "disable"]).ok().trim(), "schedule disabled");
    assert_eq!(firmware_rules(&t, None)["enable"], 0);
    assert!(plugctl(&["schedule", &t, "list"]).ok().contains("DISABLED"));
    plugctl(&["schedule", &t, "enable", "--json"]).json();
    assert_eq!(firmware_rules(&t, None)["enable"], 1);

    let d = plugctl(&["schedule", &t, "delete", prefix, "--json"]).json();
    assert_eq!(d["deleted"], wake.as_str());
    let r = plugctl(&["schedule", &t, "delete", &wake]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("no schedule rule with id"), "{}", r.stderr);
    assert_eq!(plugctl(&["schedule", &t, "clear"]).ok().trim(), "removed 2 schedule rules");
    assert_eq!(firmware_rules(&t, None)["rule_list"], json!([]));
}

#[test]
fn rules_fire_on_the_plug_clock_and_state_shows_the_next_action() {
    // 1 real second = 2 simulated minutes.
    let emu = Emulator::kasa(&["--model", "hs110-hw4", "--time-scale", "120"], 1);
    let t = emu.first().target();
    plugctl(&["off", &t]).ok();
    set_clock(&t, 2030, 1, 7, 12, 0);
    plugctl(&["schedule", &t, "add", "--at", "12:10", "--on"]).ok();
    plugctl(&["schedule", &t, "add", "--at", "12:16", "--date", "2030-01-07", "--off", "--name", "once"])
        .ok();

    let s = plugctl(&["state", &t, "--json"]).json();
    assert_eq!(s["on"], false);
    assert_eq!(s["next_action"]["time"], "12:10", "{s}");
    assert_eq!(s["next_action"]["action"], "on");
    assert_eq!(s["next_action"]["source"], "schedule");
    let text = plugctl(&["state", &t]).ok().to_string();
    assert!(text.contains("next: on at 12:10 (schedule)"), "{text}");
    assert_eq!(plugctl(&["info", &t, "--json"]).json()["active_mode"], "schedule");

    let state = ["state", t.as_str(), "--json"];
    assert!(wait_state(&state, Duration::from_secs(60), |s| s["on"] == true), "the 12:10 rule never fired");
    assert!(
        wait_state(&state, Duration::from_secs(60), |s| s["on"] == false),
        "the one-shot 12:16 rule never fired"
    );
    // The one-shot rule disabled itself; the next action is tomorrow's 12:10.
    let j = plugctl(&["schedule", &t, "list", "--json"]).json();
    let once = j["rules"].as_array().unwrap().iter().find(|r| r["name"] == "once").unwrap().clone();
    assert_eq!(once["enabled"], false, "{j}");
    assert_eq!(plugctl(&["state", &t, "--json"]).json()["next_action"]["time"], "12:10");

    // One-shot dates are checked against the plug's clock (2030-01-07 now).
    let r = plugctl(&["schedule", &t, "add", "--at", "10:00", "--date", "2030-01-06", "--on"]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("2030-01-06 is in the past (it is 2030-01-07 on the device)"), "{}", r.stderr);

    // Runtime statistics count the minutes the rules kept it on.
    let r = plugctl(&["raw", &t, r#"{"schedule":{"get_daystat":{"year":2030,"month":1}}}"#, "--json"]).json();
    let days = r["schedule"]["get_daystat"]["day_list"].as_array().unwrap().clone();
    let minutes = days.iter().find(|d| d["day"] == 7).map_or(0, |d| d["time"].as_i64().unwrap());
    assert!((5..=7).contains(&minutes), "on from 12:10 to 12:16: {days:?}");
}

#[test]
fn strip_outlets_have_their_own_schedules() {
    let emu = Emulator::kasa(&["--model", "hs300", "--time-scale", "120"], 1);
    let t = emu.first().target();
    plugctl(&["off", &t]).ok();
    set_clock(&t, 2030, 1, 7, 12, 0);
    let a = plugctl(&["schedule", &t, "--child", "2", "add", "--at", "12:08", "--on", "--json"]).json();
    let id = a["added"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        plugctl(&["schedule", &t, "list", "--child", "2", "--json"]).json()["rules"][0]["id"],
        id.as_str()
    );
    assert_eq!(
        plugctl(&["schedule", &t, "list", "--json"]).json()["rules"],
        json!([]),
        "the strip's own list"
    );
    let s = plugctl(&["state", &t, "--child", "2", "--json"]).json();
    assert_eq!(s["next_action"]["time"], "12:08", "{s}");
    assert!(plugctl(&["state", &t, "--child", "1", "--json"]).json().get("next_action").is_none());
    let state = ["state", t.as_str(), "--child", "2", "--json"];
    assert!(wait_state(&state, Duration::from_secs(60), |s| s["on"] == true), "outlet 2 never switched on");
    let all = plugctl(&["state", &t, "--json"]).json();
    let on: Vec<bool> = all["children"].as_array().unwrap().iter().map(|c| c["on"] == true).collect();
    assert_eq!(on, [false, false, true, false, false, false]);
    let r = plugctl(&["schedule", &t, "--child", "9", "list"]);
    assert_eq!(r.code, Some(2), "{r:?}");
}

#[test]
fn a_full_table_is_a_clear_error() {
    let emu = Emulator::kasa(&["--model", "hs100-hw2"], 1);
    let t = emu.first().target();
    for i in 0..32 {
        let at = format!("{:02}:{:02}", i / 60, i % 60);
        plugctl(&["schedule", &t, "add", "--at", &at, "--on"]).ok();
    }
    let r = plugctl(&["schedule", &t, "add", "--at", "12:00", "--on"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("schedule table is full (it holds 32 rules)"), "{}", r.stderr);
    assert_eq!(plugctl(&["schedule", &t, "clear", "--json"]).json()["removed"], 32);
}

#[test]
fn argument_errors_exit_2_before_any_traffic() {
    // Nothing listens on this address: every case must fail on its arguments alone.
    let host = format!("127.0.0.1:{}", common::closed_port());
    for (args, needle) in [
        (vec!["add", "--at", "25:00", "--on"], "not a time of day"),
        (vec!["add", "--at", "7h30", "--on"], "not a time of day"),
        (vec!["add", "--at", "07:30"], "--on or --off"),
        (vec!["add", "--on"], "--at HH:MM, --sunrise or --sunset"),
        (vec!["add", "--at", "07:30", "--sunset", "--on"], "cannot be used"),
        (vec!["add", "--at", "07:30", "--on", "--off"], "cannot be used"),
        (vec!["add", "--at", "07:30", "--offset", "-15m", "--on"], "--sunrise or --sunset"),
        (vec!["add", "--sunset", "--offset", "-13h", "--off"], "limited to ±12h"),
        (vec!["add", "--sunset", "--offset", "15", "--off"], "not an offset"),
        (vec!["add", "--at", "07:30", "--days", "mon-funday", "--on"], "unknown day `funday`"),
        (vec!["add", "--at", "07:30", "--days", "mon", "--date", "2030-01-01", "--on"], "cannot be used"),
        (vec!["add", "--at", "07:30", "--date", "2030-02-30", "--on"], "not a date"),
        (vec!["add", "--at", "07:30", "--on", "--name", &"n".repeat(33)], "limited to 32 bytes"),
        (vec!["edit", "ABC"], "at least one option"),
        (vec!["frobnicate"], "unexpected argument"),
    ] {
        let mut full = vec!["schedule", host.as_str()];
        full.extend(args.iter().copied());
        let r = plugctl(&full);
        assert_eq!(r.code, Some(2), "{full:?}: {r:?}");
        assert!(r.stderr.contains(needle), "{full:?}: {}", r.stderr);
    }
}

#[test]
fn hi_flying_plugs_have_no_schedule() {
    let emu = Emulator::hf(&[], 1);
    let d = emu.first();
    let up = d.udp_port();
    let r = plugctl(&["schedule", &d.target(), "list", "--family", "hf", "--udp-port", &up]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("Hi-Flying plugs have no schedule"), "{}", r.stderr);
}
