//! `plugctl away` end to end against `plugctl emulate kasa`: rules in the firmware's
//! `anti_theft` form, the overall switch, and random switching inside the window on the
//! emulator's sped-up clock.

mod common;

use std::time::{Duration, Instant};

use common::{plugctl, Emulator};
use serde_json::{json, Value};

fn raw(t: &str, req: Value) -> Value {
    plugctl(&["raw", t, &req.to_string(), "--json"]).json()
}

fn firmware_rules(t: &str) -> Value {
    raw(t, json!({"anti_theft": {"get_rules": {}}}))["anti_theft"]["get_rules"].clone()
}

#[test]
fn add_list_enable_edit_delete_clear() {
    let emu = Emulator::kasa(&["--model", "kp115"], 1);
    let t = emu.first().target();
    assert_eq!(plugctl(&["away", &t, "list"]).ok().trim(), "away mode off, 0 rules");

    let out = plugctl(&["away", &t, "add", "--from", "18:00", "--to", "23:30"]).ok().to_string();
    assert!(out.contains("daily, random switching 18:00-23:30 (frequency 5)"), "{out}");
    assert!(out.contains("away mode is off"), "a hint to turn it on: {out}");
    let a = plugctl(&[
        "away",
        &t,
        "add",
        "--from",
        "sunset-30m",
        "--to",
        "01:00",
        "--days",
        "fri,sat",
        "--frequency",
        "3",
        "--name",
        "evenings",
        "--json",
    ])
    .json();
    assert_eq!(a["away_mode"], false);
    let id = a["added"]["id"].as_str().unwrap().to_string();

    let fw = firmware_rules(&t);
    let list = fw["rule_list"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{fw}");
    assert_eq!(
        (
            &list[0]["stime_opt"],
            &list[0]["smin"],
            &list[0]["etime_opt"],
            &list[0]["emin"],
            &list[0]["frequency"]
        ),
        (&json!(0), &json!(1080), &json!(0), &json!(1410), &json!(5))
    );
    assert_eq!(
        (&list[1]["stime_opt"], &list[1]["soffset"], &list[1]["emin"]),
        (&json!(2), &json!(-30), &json!(60))
    );
    assert_eq!(list[1]["wday"], json!([0, 0, 0, 0, 0, 1, 1]));
    assert_eq!(list[1]["name"], "evenings");

    assert_eq!(plugctl(&["away", &t, "enable"]).ok().trim(), "away mode on");
    assert_eq!(firmware_rules(&t)["enable"], 1);
    assert_eq!(plugctl(&["info", &t, "--json"]).json()["active_mode"], "anti_theft");
    let text = plugctl(&["away", &t, "list"]).ok().to_string();
    for needle in ["away mode ON, 2 rules", "18:00-23:30", "sunset-30m to 01:00", "fri,sat", "evenings"] {
        assert!(text.contains(needle), "{needle}:\n{text}");
    }
    let j = plugctl(&["away", &t, "list", "--json"]).json();
    assert_eq!(j["enabled"], true);
    assert_eq!(j["rules"][1]["from"]["kind"], "sunset");
    assert_eq!(j["rules"][1]["frequency"], 3);

    plugctl(&["away", &t, "edit", &id[..5], "--to", "02:00", "--frequency", "4"]).ok();
    let r = &firmware_rules(&t)["rule_list"][1];
    assert_eq!((&r["emin"], &r["frequency"], &r["name"]), (&json!(120), &json!(4), &json!("evenings")));
    plugctl(&["away", &t, "disable", &id]).ok();
    assert_eq!(firmware_rules(&t)["rule_list"][1]["enable"], 0);
    assert_eq!(plugctl(&["away", &t, "disable", "--json"]).json()["away_mode"], false);
    assert_eq!(plugctl(&["away", &t, "delete", &id, "--json"]).json()["deleted"], id.as_str());
    assert_eq!(plugctl(&["away", &t, "clear"]).ok().trim(), "removed 1 away rule");
    assert_eq!(firmware_rules(&t)["rule_list"], json!([]));
}

#[test]
fn away_mode_switches_within_its_window() {
    // 1 real second = 10 simulated minutes.
    let emu = Emulator::kasa(&["--model", "hs110-hw4", "--time-scale", "600"], 1);
    let t = emu.first().target();
    plugctl(&["off", &t]).ok();
    let set =
        json!({"time": {"set_time": {"year": 2030, "month": 1, "mday": 7, "hour": 12, "min": 0, "sec": 0}}});
    assert_eq!(raw(&t, set)["time"]["set_time"]["err_code"], 0);
    plugctl(&["away", &t, "add", "--from", "12:30", "--to", "13:30", "--frequency", "3"]).ok();
    plugctl(&["away", &t, "enable"]).ok();

    // Watch until the plug's clock is past the window (hang guard only).
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut seen_on = false;
    loop {
        let now = raw(&t, json!({"time": {"get_time": {}}, "system": {"get_sysinfo": {}}}));
        seen_on |= now["system"]["get_sysinfo"]["relay_state"] == 1;
        let (h, m) = (
            now["time"]["get_time"]["hour"].as_i64().unwrap(),
            now["time"]["get_time"]["min"].as_i64().unwrap(),
        );
        if h * 60 + m >= 13 * 60 + 35 {
            break;
        }
        assert!(Instant::now() < deadline, "the plug's clock never passed 13:35");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Off after the window; the runtime statistics show it was on inside it.
    assert_eq!(plugctl(&["state", &t, "--json"]).json()["on"], false);
    let r = raw(&t, json!({"schedule": {"get_daystat": {"year": 2030, "month": 1}}}));
    let days = r["schedule"]["get_daystat"]["day_list"].as_array().unwrap().clone();
    let minutes = days.iter().find(|d| d["day"] == 7).map_or(0, |d| d["time"].as_i64().unwrap());
    assert!(
        (3..60).contains(&minutes),
        "on for a part of the hour: {days:?} (seen on while polling: {seen_on})"
    );
}

#[test]
fn away_argument_errors() {
    let host = format!("127.0.0.1:{}", common::closed_port());
    for (args, needle) in [
        (vec!["add", "--from", "18:00"], "--from TIME --to TIME"),
        (vec!["add", "--from", "18:00", "--to", "18:00"], "window is empty"),
        (vec!["add", "--from", "18:00", "--to", "19:00", "--frequency", "11"], "1..=10"),
        (vec!["add", "--from", "18:00", "--to", "19:00", "--frequency", "0"], "1..=10"),
        (vec!["add", "--from", "1800", "--to", "19:00"], "not a time of day"),
        (vec!["add", "--from", "sunset-13h", "--to", "19:00"], "limited to ±12h"),
        (vec!["add", "--from", "18:00", "--to", "19:00", "--days", "someday"], "unknown day"),
        (vec!["edit", "AB"], "at least one option"),
    ] {
        let mut full = vec!["away", host.as_str()];
        full.extend(args.iter().copied());
        let r = plugctl(&full);
        assert_eq!(r.code, Some(2), "{full:?}: {r:?}");
        assert!(r.stderr.contains(needle), "{full:?}: {}", r.stderr);
    }
}

#[test]
fn away_rules_per_strip_outlet() {
    let emu = Emulator::kasa(&["--model", "hs300"], 1);
    let t = emu.first().target();
    plugctl(&["away", &t, "--child", "1", "add", "--from", "20:00", "--to", "22:00"]).ok();
    plugctl(&["away", &t, "--child", "1", "enable"]).ok();
    let j = plugctl(&["away", &t, "list", "--child", "1", "--json"]).json();
    assert_eq!((j["enabled"].clone(), j["rules"].as_array().unwrap().len()), (json!(true), 1));
    let j = plugctl(&["away", &t, "list", "--child", "0", "--json"]).json();
    assert_eq!((j["enabled"].clone(), j["rules"].as_array().unwrap().len()), (json!(false), 0));
}
