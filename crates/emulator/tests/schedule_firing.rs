//! Schedule and away rules fire on the emulated device's simulated clock: driven here by
//! injected instants (no sockets, no sleeping). The device clock is set with `time.set_time`
//! so the tests do not depend on when or in which zone they run.

use std::time::{Duration, Instant};

use plugctl_emulator::kasa::{builtin, DeviceConfig, DeviceState};
use serde_json::{json, Value};

fn ask(dev: &mut DeviceState, req: Value, now: Instant) -> Value {
    let bytes = dev.handle(req.to_string().as_bytes(), now).expect("a reply");
    serde_json::from_slice(&bytes).expect("JSON")
}

/// A device whose clock shows Monday 2030-01-07 07:00:00 at `t0`, relay off.
fn monday_7am(model: &str) -> (DeviceState, Instant) {
    let t0 = Instant::now();
    let mut d = builtin(model).expect("model").instantiate_with(0, 7, DeviceConfig::default());
    let r = ask(
        &mut d,
        json!({"time": {"set_time": {"year": 2030, "month": 1, "mday": 7, "hour": 7, "min": 0, "sec": 0}},
               "system": {"set_relay_state": {"state": 0}}}),
        t0,
    );
    assert_eq!(r["time"]["set_time"]["err_code"], 0, "{r}");
    (d, t0)
}

fn min(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

fn sysinfo(d: &mut DeviceState, at: Instant) -> Value {
    ask(d, json!({"system": {"get_sysinfo": {}}}), at)["system"]["get_sysinfo"].clone()
}

fn relay(d: &mut DeviceState, at: Instant) -> i64 {
    sysinfo(d, at)["relay_state"].as_i64().expect("relay_state")
}

fn add(d: &mut DeviceState, module: &str, rule: Value, at: Instant) -> String {
    let r = ask(d, json!({ module: {"add_rule": rule} }), at);
    assert_eq!(r[module]["add_rule"]["err_code"], 0, "{r}");
    r[module]["add_rule"]["id"].as_str().expect("id").to_string()
}

fn weekly(smin: i64, sact: i64, wday: [i64; 7]) -> Value {
    json!({"name": "t", "enable": 1, "wday": wday, "repeat": 1, "stime_opt": 0, "smin": smin,
           "soffset": 0, "sact": sact, "etime_opt": -1, "emin": 0, "eact": -1})
}

const WEEKDAYS: [i64; 7] = [0, 1, 1, 1, 1, 1, 0];

#[test]
fn a_weekday_rule_fires_at_its_minute_and_reports_next_action() {
    let (mut d, t0) = monday_7am("hs100-hw2");
    let id = add(&mut d, "schedule", weekly(7 * 60 + 30, 1, WEEKDAYS), t0);
    let s = sysinfo(&mut d, t0);
    assert_eq!(s["next_action"], json!({"type": 1, "id": id, "schd_sec": 27000, "action": 1}));
    assert_eq!(s["active_mode"], "schedule");
    let n = ask(&mut d, json!({"schedule": {"get_next_action": {}}}), t0);
    assert_eq!(n["schedule"]["get_next_action"]["schd_time"], 27000, "{n}");
    assert_eq!(n["schedule"]["get_next_action"]["type"], 1);

    assert_eq!(relay(&mut d, t0 + min(29) + Duration::from_secs(59)), 0);
    assert_eq!(relay(&mut d, t0 + min(30)), 1, "fires at 07:30:00");
    // The next one is Tuesday's; `on_time` counts from the firing instant.
    let s = sysinfo(&mut d, t0 + min(40));
    assert_eq!(s["on_time"], 600);
    assert_eq!(s["next_action"]["schd_sec"], 27000);
    // Switched off by hand on Monday, on again on Tuesday at 07:30, not on Saturday.
    ask(&mut d, json!({"system": {"set_relay_state": {"state": 0}}}), t0 + min(41));
    assert_eq!(relay(&mut d, t0 + min(24 * 60 + 29)), 0);
    assert_eq!(relay(&mut d, t0 + min(24 * 60 + 31)), 1);
    ask(&mut d, json!({"system": {"set_relay_state": {"state": 0}}}), t0 + min(24 * 60 + 32));
    let saturday = t0 + min(5 * 24 * 60 + 31);
    assert_eq!(relay(&mut d, saturday), 1, "Wednesday to Friday switched it on again");
    ask(&mut d, json!({"system": {"set_relay_state": {"state": 0}}}), saturday);
    assert_eq!(relay(&mut d, t0 + min(6 * 24 * 60 + 31)), 0, "not on Sunday");
}

#[test]
fn overall_switch_and_disabled_rules_do_not_fire() {
    let (mut d, t0) = monday_7am("hs100-hw2");
    let id = add(&mut d, "schedule", weekly(7 * 60 + 5, 1, WEEKDAYS), t0);
    ask(&mut d, json!({"schedule": {"set_overall_enable": {"enable": 0}}}), t0);
    assert_eq!(sysinfo(&mut d, t0)["next_action"], json!({"type": -1}));
    assert_eq!(sysinfo(&mut d, t0)["active_mode"], "none");
    assert_eq!(relay(&mut d, t0 + min(6)), 0);
    ask(
        &mut d,
        json!({"schedule": {"set_overall_enable": {"enable": true}, "edit_rule": {"id": id, "enable": 0}}}),
        t0 + min(6),
    );
    assert_eq!(relay(&mut d, t0 + min(24 * 60 + 6)), 0);
    ask(&mut d, json!({"schedule": {"edit_rule": {"id": id, "enable": 1}}}), t0 + min(24 * 60 + 6));
    assert_eq!(relay(&mut d, t0 + min(2 * 24 * 60 + 6)), 1);
}

#[test]
fn a_one_shot_rule_fires_once_and_disables_itself() {
    let (mut d, t0) = monday_7am("hs110-hw4");
    let id = add(
        &mut d,
        "schedule",
        json!({"name": "once", "enable": 1, "wday": [0,1,0,0,0,0,0], "repeat": 0, "year": 2030, "month": 1,
               "day": 7, "stime_opt": 0, "smin": 430, "sact": 1, "etime_opt": 0, "emin": 440, "eact": 0}),
        t0,
    );
    assert_eq!(relay(&mut d, t0 + min(11)), 1, "on at 07:10");
    let s = sysinfo(&mut d, t0 + min(11));
    assert_eq!(s["next_action"], json!({"type": 1, "id": id, "schd_sec": 440 * 60, "action": 0}));
    assert_eq!(relay(&mut d, t0 + min(21)), 0, "off at 07:20 (its end action)");
    let rules = ask(&mut d, json!({"schedule": {"get_rules": {}}}), t0 + min(21));
    assert_eq!(rules["schedule"]["get_rules"]["rule_list"][0]["enable"], 0, "{rules}");
    assert_eq!(sysinfo(&mut d, t0 + min(21))["next_action"], json!({"type": -1}));
    assert_eq!(relay(&mut d, t0 + min(7 * 24 * 60 + 11)), 0, "never again");
    // A one-shot date in the past never fires.
    add(
        &mut d,
        "schedule",
        json!({"wday": [0,0,0,0,0,0,0], "repeat": 0, "year": 2029, "month": 1, "day": 7, "smin": 600, "sact": 1}),
        t0 + min(7 * 24 * 60 + 12),
    );
    assert_eq!(relay(&mut d, t0 + min(9 * 24 * 60)), 0);
}

#[test]
fn sun_rules_fire_at_the_minute_get_rules_reports() {
    let (mut d, t0) = monday_7am("hs100-hw2");
    // London; whatever the host's zone, the device reports and fires at the same minute.
    ask(&mut d, json!({"system": {"set_dev_location": {"latitude": 51.5074, "longitude": -0.1278}}}), t0);
    let id = add(
        &mut d,
        "schedule",
        json!({"wday": [1,1,1,1,1,1,1], "repeat": 1, "stime_opt": 2, "smin": 0, "soffset": -30, "sact": 1}),
        t0,
    );
    add(&mut d, "schedule", json!({"wday": [1,1,1,1,1,1,1], "stime_opt": 2, "soffset": 0, "sact": 0}), t0);
    let rules =
        ask(&mut d, json!({"schedule": {"get_rules": {}}}), t0)["schedule"]["get_rules"]["rule_list"].clone();
    let early = rules[0]["smin"].as_i64().unwrap();
    let sunset = rules[1]["smin"].as_i64().unwrap();
    assert_eq!(early, sunset - 30, "{rules}");
    assert_eq!(rules[0]["soffset"], -30);
    // The first firing after Monday 07:00 local (for a zone far from London: the next
    // local day).
    let at = |m: i64| t0 + Duration::from_secs(u64::try_from((m - 7 * 60).rem_euclid(1440) * 60).unwrap());
    let s = sysinfo(&mut d, t0);
    assert_eq!(s["next_action"]["id"], id.as_str());
    assert_eq!(s["next_action"]["schd_sec"].as_i64().unwrap() / 60, early);
    assert_eq!(relay(&mut d, at(early) - Duration::from_secs(61)), 0);
    assert_eq!(relay(&mut d, at(early) + Duration::from_secs(61)), 1);
    assert_eq!(relay(&mut d, at(sunset) + Duration::from_secs(61)), 0);
}

#[test]
fn away_mode_switches_randomly_inside_its_window_only_when_enabled() {
    let (mut d, t0) = monday_7am("hs100-hw2");
    // Window 08:00–10:00 daily, 3 on periods.
    let rule = json!({"name": "away", "enable": 1, "wday": [1,1,1,1,1,1,1], "repeat": 1, "stime_opt": 0,
                      "smin": 480, "etime_opt": 0, "emin": 600, "frequency": 3});
    add(&mut d, "anti_theft", rule.clone(), t0);
    let r = ask(&mut d, json!({"anti_theft": {"get_rules": {}}}), t0);
    assert_eq!(r["anti_theft"]["get_rules"]["enable"], 0, "away mode is off by default");
    let trace = |d: &mut DeviceState, from_min: u64| -> Vec<i64> {
        (0..=200).map(|m| relay(d, t0 + min(from_min + m))).collect()
    };
    assert!(trace(&mut d, 0).iter().all(|s| *s == 0), "overall switch off: nothing happens");

    ask(&mut d, json!({"anti_theft": {"set_overall_enable": {"enable": 1}}}), t0 + min(24 * 60));
    assert_eq!(sysinfo(&mut d, t0 + min(24 * 60))["active_mode"], "anti_theft");
    // Tuesday 07:00 → 10:20, minute by minute.
    let states = trace(&mut d, 24 * 60);
    let ons = states.windows(2).filter(|w| w[0] == 0 && w[1] == 1).count();
    assert_eq!(ons, 3, "{states:?}");
    let first_on = states.iter().position(|s| *s == 1).unwrap();
    let last_on = states.iter().rposition(|s| *s == 1).unwrap();
    assert!(first_on > 60 && last_on < 180, "inside 08:00–10:00: {states:?}");
    assert!(states[181..].iter().all(|s| *s == 0), "off after the window");

    // Deterministic: the same device (same seed, same rule id) switches identically.
    let (mut twin, t1) = monday_7am("hs100-hw2");
    add(&mut twin, "anti_theft", rule, t1);
    ask(&mut twin, json!({"anti_theft": {"set_overall_enable": {"enable": 1}}}), t1 + min(24 * 60));
    let twin_states: Vec<i64> = (0..=200).map(|m| relay(&mut twin, t1 + min(24 * 60 + m))).collect();
    assert_eq!(states, twin_states);
}

#[test]
fn overnight_away_window() {
    let (mut d, t0) = monday_7am("hs100-hw2");
    add(
        &mut d,
        "anti_theft",
        json!({"wday": [0,1,0,0,0,0,0], "stime_opt": 0, "smin": 23 * 60, "etime_opt": 0, "emin": 60, "frequency": 2}),
        t0,
    );
    ask(&mut d, json!({"anti_theft": {"set_overall_enable": 1}}), t0);
    // Monday 23:00 to Tuesday 01:00.
    let states: Vec<i64> = (0..=150).map(|m| relay(&mut d, t0 + min(16 * 60 - 10 + m))).collect();
    assert_eq!(states.windows(2).filter(|w| w[0] == 0 && w[1] == 1).count(), 2, "{states:?}");
    assert!(states[..10].iter().all(|s| *s == 0) && states[131..].iter().all(|s| *s == 0));
}

#[test]
fn table_limits_and_errors() {
    let (mut d, t0) = monday_7am("hs100-hw2");
    for i in 0..32 {
        add(&mut d, "schedule", weekly(i, 1, WEEKDAYS), t0);
    }
    let r = ask(&mut d, json!({"schedule": {"add_rule": weekly(40, 1, WEEKDAYS)}}), t0);
    assert_eq!(r["schedule"]["add_rule"], json!({"err_code": -10, "err_msg": "table is full"}));
    let r = ask(
        &mut d,
        json!({"schedule": {"edit_rule": {"id": "NOPE", "smin": 1}, "delete_rule": {}},
               "anti_theft": {"add_rule": {"smin": 1440}}}),
        t0,
    );
    assert_eq!(r["schedule"]["edit_rule"]["err_code"], -14);
    assert_eq!(r["schedule"]["delete_rule"]["err_code"], -10002);
    assert_eq!(r["anti_theft"]["add_rule"]["err_code"], -3);
    let r = ask(&mut d, json!({"schedule": {"delete_all_rules": null, "get_rules": null}}), t0);
    assert_eq!(r["schedule"]["get_rules"]["rule_list"], json!([]));
}

#[test]
fn strip_outlet_rules_switch_only_their_outlet() {
    let (mut d, t0) = monday_7am("hs300");
    ask(
        &mut d,
        json!({"system": {"set_relay_state": {"state": 0}}, "context": {"child_ids": ["0","1","2","3","4","5"]}}),
        t0,
    );
    let r = ask(
        &mut d,
        json!({"context": {"child_ids": ["02"]}, "schedule": {"add_rule": weekly(7 * 60 + 10, 1, WEEKDAYS)}}),
        t0,
    );
    let id = r["schedule"]["add_rule"]["id"].as_str().unwrap().to_string();
    let s = sysinfo(&mut d, t0);
    assert_eq!(s["children"][2]["next_action"]["id"], id.as_str());
    assert_eq!(s["children"][1]["next_action"], json!({"type": -1}));
    let s = sysinfo(&mut d, t0 + min(11));
    let states: Vec<i64> = (0..6).map(|i| s["children"][i]["state"].as_i64().unwrap()).collect();
    assert_eq!(states, [0, 0, 1, 0, 0, 0]);
    // The outlet's rule list holds it; the strip's own does not.
    let r = ask(&mut d, json!({"schedule": {"get_rules": {}}}), t0 + min(11));
    assert_eq!(r["schedule"]["get_rules"]["rule_list"], json!([]));
}

#[test]
fn runtime_minutes_accumulate_and_countdown_is_type_2() {
    let (mut d, t0) = monday_7am("hs100-hw2");
    add(
        &mut d,
        "schedule",
        json!({"wday": [0,1,0,0,0,0,0], "smin": 430, "sact": 1, "etime_opt": 0, "emin": 520, "eact": 0}),
        t0,
    );
    let r = ask(&mut d, json!({"schedule": {"get_daystat": {"year": 2030, "month": 1}}}), t0 + min(180));
    let days = r["schedule"]["get_daystat"]["day_list"].as_array().unwrap().clone();
    let today = days.iter().find(|x| x["day"] == 7).expect("today in the list");
    assert_eq!(today["time"], 90, "on from 07:10 to 08:40: {days:?}");
    let r = ask(
        &mut d,
        json!({"count_down": {"add_rule": {"enable": 1, "delay": 600, "act": 1}}}),
        t0 + min(180),
    );
    let cd = r["count_down"]["add_rule"]["id"].as_str().unwrap().to_string();
    let s = sysinfo(&mut d, t0 + min(180));
    assert_eq!(s["next_action"], json!({"type": 2, "id": cd, "schd_sec": (10 * 60 + 10) * 60, "action": 1}));
    assert_eq!(s["active_mode"], "count_down");
}

#[test]
fn a_dump_keeps_its_recorded_next_action_until_rules_change() {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/kasa/KP105(UK)_1.0_1.0.5.json");
    let dir = std::env::var_os("PLUGCTL_FIXTURES").map(std::path::PathBuf::from);
    let path = dir.map_or(path, |d| d.join("KP105(UK)_1.0_1.0.5.json"));
    let profile = plugctl_emulator::kasa::Profile::from_dump_file(&path).expect("KP105 dump");
    let mut d = profile.instantiate(0, 1);
    let t0 = Instant::now();
    let s = sysinfo(&mut d, t0);
    assert_eq!(s["next_action"]["type"], 2, "{s}");
    assert_eq!(s["next_action"]["schd_sec"], 68927);
    let r = ask(&mut d, json!({"schedule": {"get_rules": {}}}), t0);
    let list = r["schedule"]["get_rules"]["rule_list"].as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    // Sun rules report today's minute.
    assert!(list.iter().all(|x| (0..1440).contains(&x["smin"].as_i64().unwrap())), "{list:?}");
    ask(&mut d, json!({"schedule": {"delete_all_rules": {}}}), t0);
    assert_eq!(sysinfo(&mut d, t0)["next_action"], json!({"type": -1}));
}

#[test]
fn a_month_in_one_step_fires_every_occurrence() {
    let (mut d, t0) = monday_7am("hs100-hw2");
    add(
        &mut d,
        "schedule",
        json!({"wday": WEEKDAYS, "smin": 430, "sact": 1, "etime_opt": 0, "emin": 440, "eact": 0}),
        t0,
    );
    // One request 31 days later: every weekday of January had its 10 minutes on.
    let r =
        ask(&mut d, json!({"schedule": {"get_daystat": {"year": 2030, "month": 1}}}), t0 + min(31 * 24 * 60));
    let days = r["schedule"]["get_daystat"]["day_list"].as_array().unwrap().clone();
    for day in 7..=31 {
        let weekday = (day - 7) % 7; // 0 = Monday
        let want = if weekday < 5 { 10 } else { 0 };
        let got = days.iter().find(|x| x["day"] == day).map_or(-1, |x| x["time"].as_i64().unwrap());
        assert_eq!(got, want, "2030-01-{day:02}: {days:?}");
    }
}
