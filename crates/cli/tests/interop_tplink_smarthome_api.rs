//! Interop: tplink-smarthome-api 5.0.0 (pinned, from npm, installed by ./scripts/test.sh into
//! .node-interop/) reads and drives `plugctl emulate kasa`, unchanged. Each call the library
//! makes opens its own TCP connection and half-closes it, so this also checks the emulator
//! closes on EOF (kasa-protocol.md §3.4) and answers the library's multi-module `getInfo`
//! (§10). What the library reports is checked against what our own client reads.

mod common;
mod node_support;

use std::time::{Duration, Instant};

use common::{plugctl, EmuDevice, Emulator};
use node_support::{run_script, Probe};
use serde_json::Value;

/// The ten `cnCloud.get_info` fields (kasa-protocol.md §12 MUST 10).
const CLOUD_FIELDS: [&str; 10] = [
    "username",
    "server",
    "binded",
    "cld_connection",
    "illegalType",
    "stopConnect",
    "tcspStatus",
    "fwDlPage",
    "tcspInfo",
    "fwNotifyType",
];

/// `plugctl raw TARGET JSON` → the device's reply.
fn raw(target: &str, cmd: &str) -> Value {
    plugctl(&["raw", target, cmd, "--family", "kasa"]).json()
}

/// Sets the device's zone index to 42, then its clock to the given local time in that zone.
/// Two requests: the emulator does not keep the order of methods inside one module.
fn set_clock(target: &str, (y, mo, d): (i64, i64, i64), (h, mi): (i64, i64)) {
    let r = raw(target, r#"{"time":{"set_timezone":{"index":42}}}"#);
    assert_eq!(r["time"]["set_timezone"]["err_code"], 0, "{r}");
    let cmd = format!(
        r#"{{"time":{{"set_time":{{"year":{y},"month":{mo},"mday":{d},"hour":{h},"min":{mi},"sec":0}}}}}}"#
    );
    let r = raw(target, &cmd);
    assert_eq!(r["time"]["set_time"]["err_code"], 0, "{r}");
}

fn date_of(t: &Value) -> (i64, i64, i64) {
    let f = |k: &str| t[k].as_i64().unwrap_or_else(|| panic!("get_time without integer {k}: {t}"));
    (f("year"), f("month"), f("mday"))
}

/// Waits (hang guard only) until the accelerated device clock reaches `date`.
fn wait_for_device_date(target: &str, date: (i64, i64, i64)) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let t = raw(target, r#"{"time":{"get_time":{}}}"#)["time"]["get_time"].clone();
        if date_of(&t) >= date {
            return;
        }
        assert!(Instant::now() < deadline, "device clock never reached {date:?}; last {t}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn num(v: &Value, what: &str) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("{what} is not a number: {v}"))
}

fn int(v: &Value, what: &str) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("{what} is not an integer: {v}"))
}

/// `a` within `rel` (relative) of `b`.
fn near(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-9)
}

/// 0/1 or a boolean (rule flags and `wday`: the library sends booleans, devices answer 0/1).
fn truthy(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_i64() == Some(1),
        other => panic!("not a flag: {other}"),
    }
}

/// Checks what getDevice/getSysInfo saw against the emulator's own announcement.
fn assert_identity(p: &Probe, d: &EmuDevice, hw_ver: &str) {
    let dev = p.ok("getDevice");
    assert_eq!(dev["deviceType"], "plug", "{dev}");
    assert_eq!(dev["model"], d.info["model"], "{dev}");
    assert_eq!(dev["mac"], d.info["mac"], "{dev}");
    assert_eq!(dev["deviceId"], d.info["device_id"], "{dev}");
    assert_eq!(dev["hardwareVersion"], hw_ver, "{dev}");
    let sys = p.ok("getSysInfo");
    assert_eq!(sys["err_code"], 0, "{sys}");
    assert_eq!(sys["alias"], d.info["alias"], "{sys}");
    assert_eq!(sys["mac"], d.info["mac"], "{sys}");
}

/// getInfo: the library's one multi-module request (sysinfo, cnCloud, emeter, schedule).
fn assert_get_info(p: &Probe, d: &EmuDevice) {
    let info = p.ok("getInfo");
    assert_eq!(info["sysInfo"]["model"], d.info["model"], "{info}");
    assert_eq!(info["sysInfo"]["deviceId"], d.info["device_id"], "{info}");
    let cloud = &info["cloud"]["info"];
    for k in CLOUD_FIELDS {
        assert!(cloud.get(k).is_some(), "cnCloud.get_info lacks {k}: {cloud}");
    }
    assert_eq!(cloud["err_code"], 0, "{cloud}");
    assert_eq!(info["schedule"]["nextAction"]["err_code"], 0, "{info}");
    int(&info["schedule"]["nextAction"]["type"], "getInfo next action type");
    let rt = &info["emeter"]["realtime"];
    assert_eq!(rt["err_code"], 0, "{rt}");
    let v = num(&rt["voltage"], "getInfo voltage");
    assert!((100.0..=260.0).contains(&v), "getInfo voltage {v}: {rt}");
}

/// The realtime reading as on the wire is in the model's unit scheme, and the library's
/// normalised one agrees with it; returns the power in W.
fn assert_realtime_scheme(p: &Probe, floats: bool) -> f64 {
    let wire = p.ok("emeter.get_realtime.wire");
    let (v1, v2) =
        (["voltage", "current", "power", "total"], ["voltage_mv", "current_ma", "power_mw", "total_wh"]);
    let (present, absent) = if floats { (v1, v2) } else { (v2, v1) };
    for k in present {
        assert!(wire[k].is_number(), "wire get_realtime lacks {k}: {wire}");
        if !floats {
            assert!(wire[k].is_i64() || wire[k].is_u64(), "v2 {k} must be an integer: {wire}");
        }
    }
    for k in absent {
        assert!(wire.get(k).is_none(), "wire get_realtime mixes schemes ({k}): {wire}");
    }
    let rt = p.ok("emeter.getRealtime");
    let power = num(&rt["power"], "power");
    assert!(near(power, num(&rt["power_mw"], "power_mw") / 1000.0, 0.01) || power < 0.01, "{rt}");
    let voltage = num(&rt["voltage"], "voltage");
    assert!((100.0..=260.0).contains(&voltage), "voltage {voltage}: {rt}");
    assert!(num(&rt["total"], "total") >= 0.0, "{rt}");
    power
}

/// Our own `plugctl energy` agrees with what tplink-smarthome-api read (noise is ±2 % on
/// power and ±0.5 % on voltage per sample; the total only grows).
fn assert_agrees_with_ours(p: &Probe, target: &str, child: Option<&str>) {
    let rt = p.ok("emeter.getRealtime");
    let mut args = vec!["energy", target, "--family", "kasa", "--json"];
    if let Some(c) = child {
        args.extend(["--child", c]);
    }
    let ours = plugctl(&args).json();
    let (their_p, our_p) = (num(&rt["power"], "power"), num(&ours["power_w"], "power_w"));
    assert!(near(their_p, our_p, 0.06) || (their_p < 0.01 && our_p < 0.01), "power: api {rt} vs ours {ours}");
    assert!(
        near(num(&rt["voltage"], "voltage"), num(&ours["voltage_v"], "voltage_v"), 0.02),
        "{rt} vs {ours}"
    );
    assert!(
        num(&ours["total_kwh"], "total_kwh") >= num(&rt["total"], "total") - 0.002,
        "the total went backwards: api {rt} then ours {ours}"
    );
}

/// Energy statistics read by the library for March 2021 of a device whose clock was set to
/// 2021-03-01 00:00 and that has been on since: days 1–3 are complete and each holds about
/// `power × 24 h`; the month holds at least their sum. `floats`: hw-v1 scheme.
fn assert_march_stats(p: &Probe, power_w: f64, floats: bool) {
    let key = if floats { "energy" } else { "energy_wh" };
    let to_kwh = |v: &Value| if floats { num(v, "energy") } else { int(v, "energy_wh") as f64 / 1000.0 };
    let days = p.ok("emeter.getDayStats");
    let list = days["day_list"].as_array().unwrap_or_else(|| panic!("no day_list: {days}"));
    assert!(list.len() >= 3, "expected at least days 1–3 of March 2021: {days}");
    let mut sum = 0.0;
    let mut seen = Vec::new();
    for e in list {
        assert_eq!((e["year"].as_i64(), e["month"].as_i64()), (Some(2021), Some(3)), "{e}");
        let other = if floats { "energy_wh" } else { "energy" };
        assert!(e.get(other).is_none(), "day entry mixes schemes: {e}");
        let kwh = to_kwh(&e[key]);
        assert!(kwh >= 0.0, "{e}");
        sum += kwh;
        seen.push(int(&e["day"], "day"));
        if (1..=3).contains(&e["day"].as_i64().unwrap_or(0)) {
            let want = power_w * 24.0 / 1000.0;
            assert!(near(kwh, want, 0.10), "a full day at {power_w} W should hold ≈{want:.3} kWh: {e}");
        }
    }
    for d in 1..=3 {
        assert!(seen.contains(&d), "day {d} missing from {days}");
    }
    let mut sorted = seen.clone();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len(), "duplicate days: {days}");

    let months = p.ok("emeter.getMonthStats");
    let mlist = months["month_list"].as_array().unwrap_or_else(|| panic!("no month_list: {months}"));
    assert!(mlist.iter().all(|e| e["year"] == 2021), "{months}");
    let march = mlist.iter().find(|e| e["month"] == 3).unwrap_or_else(|| panic!("no March in {months}"));
    let march_kwh = to_kwh(&march[key]);
    // Read after the day list, so never less (up to rounding of the integer Wh per day).
    assert!(march_kwh >= sum - 0.001 * list.len() as f64 - 1e-6, "March {march} < Σ days {sum}");
}

/// Runtime statistics (`schedule.get_daystat`, minutes on) of the same device: on all day.
fn assert_march_runtime(p: &Probe) {
    let days = p.ok("schedule.getDayStats");
    let list = days["day_list"].as_array().unwrap_or_else(|| panic!("no day_list: {days}"));
    for d in 1..=3 {
        let e = list
            .iter()
            .find(|e| e["day"] == d && e["month"] == 3 && e["year"] == 2021)
            .unwrap_or_else(|| panic!("runtime of day {d} missing: {days}"));
        let minutes = int(&e["time"], "time");
        assert!((1430..=1440).contains(&minutes), "on all day 2021-03-0{d} but {minutes} min: {e}");
    }
    let months = p.ok("schedule.getMonthStats");
    let march = months["month_list"]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["month"] == 3 && e["year"] == 2021))
        .unwrap_or_else(|| panic!("no March runtime: {months}"));
    assert!(int(&march["time"], "time") >= 3 * 1430, "{march}");
}

#[test]
fn api_reads_getinfo_schedules_and_time_of_an_hs110_and_switches_it() {
    let emu = Emulator::kasa(&["--model", "hs110-hw4"], 1);
    let d = emu.first();
    let t = d.target();
    // Monday 2021-03-01 10:10; a rule of ours at 18:00 on weekdays is the next action.
    set_clock(&t, (2021, 3, 1), (10, 10));
    let added = raw(
        &t,
        r#"{"schedule":{"add_rule":{"name":"Lamp on","enable":1,"wday":[0,1,1,1,1,1,0],"repeat":1,"sact":1,"stime_opt":0,"smin":1080,"soffset":0,"eact":-1,"etime_opt":-1,"emin":0,"day":0,"month":0,"year":0}}}"#,
    );
    let lamp_id = added["schedule"]["add_rule"]["id"].as_str().expect("add_rule id").to_string();
    assert_eq!(plugctl(&["on", &t, "--family", "kasa"]).code, Some(0));

    let p = Probe::run(&d.host, d.port, &["--add-rule", "Kettle off"]);
    p.assert_all_ok();
    assert_identity(&p, d, "4.0");
    assert_get_info(&p, d);
    assert_realtime_scheme(&p, false);
    assert_agrees_with_ours(&p, &t, None);

    // time and time zone, as set through our client
    let time = p.ok("time.getTime");
    assert_eq!(date_of(time), (2021, 3, 1), "{time}");
    assert_eq!(time["hour"], 10, "{time}");
    assert!(int(&time["min"], "min") >= 10, "{time}");
    assert_eq!(time["wday"], 1, "2021-03-01 is a Monday: {time}");
    assert_eq!(p.ok("time.getTimezone")["index"], 42);

    // schedules: ours read by the library, and the library's own rule
    let rules = p.ok("schedule.getRules");
    assert_eq!(rules["err_code"], 0, "{rules}");
    let list = rules["rule_list"].as_array().expect("rule_list");
    assert_eq!(list.len(), 1, "{rules}");
    let lamp = &list[0];
    assert_eq!(lamp["id"], lamp_id.as_str());
    assert_eq!(lamp["name"], "Lamp on");
    assert_eq!((lamp["smin"].as_i64(), lamp["sact"].as_i64()), (Some(1080), Some(1)), "{lamp}");
    let wday: Vec<bool> = lamp["wday"].as_array().expect("wday").iter().map(truthy).collect();
    assert_eq!(wday, [false, true, true, true, true, true, false], "{lamp}");
    let next = p.ok("schedule.getNextAction");
    assert_eq!(next["id"], lamp_id.as_str(), "next action should be the 18:00 rule: {next}");
    assert_eq!(next["action"], 1, "{next}");
    assert_eq!(next["schd_time"], 18 * 3600, "{next}");

    let kettle_id = p.ok("schedule.addRule")["id"].as_str().expect("addRule id").to_string();
    assert_eq!(kettle_id.len(), 32, "{kettle_id}");
    assert!(kettle_id.chars().all(|c| c.is_ascii_hexdigit()), "{kettle_id}");
    let kettle = p.ok("schedule.getRule");
    assert_eq!(kettle["name"], "Kettle off", "{kettle}");
    assert_eq!((kettle["smin"].as_i64(), kettle["sact"].as_i64()), (Some(21 * 60 + 30), Some(0)), "{kettle}");
    assert!(truthy(&kettle["enable"]) && truthy(&kettle["repeat"]), "{kettle}");
    let wday: Vec<bool> = kettle["wday"].as_array().expect("wday").iter().map(truthy).collect();
    assert_eq!(wday, [false, true, true, true, true, true, false], "{kettle}");
    let after = p.ok("schedule.getRules.after")["rule_list"].as_array().expect("rule_list").clone();
    let ids: Vec<&str> = after.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(ids.len(), 2, "{after:?}");
    assert!(ids.contains(&lamp_id.as_str()) && ids.contains(&kettle_id.as_str()), "{after:?}");
    // The library sent booleans (wday, repeat); our client reads the stored rule back.
    let ours = raw(&t, r#"{"schedule":{"get_rules":{}}}"#);
    let stored = ours["schedule"]["get_rules"]["rule_list"]
        .as_array()
        .and_then(|l| l.iter().find(|r| r["id"] == kettle_id.as_str()))
        .unwrap_or_else(|| panic!("rule {kettle_id} not stored: {ours}"));
    assert_eq!(
        (stored["name"].as_str(), stored["smin"].as_i64()),
        (Some("Kettle off"), Some(1290)),
        "{stored}"
    );
    let wday: Vec<bool> = stored["wday"].as_array().expect("wday").iter().map(truthy).collect();
    assert_eq!(wday, [false, true, true, true, true, true, false], "{stored}");

    // setPowerState through the library, state read back by our client
    let p = Probe::run(&d.host, d.port, &["--power", "off"]);
    p.assert_all_ok();
    assert_eq!(p.ok("setPowerState"), &Value::Bool(true));
    assert_eq!(p.ok("getPowerState"), &Value::Bool(false));
    assert_eq!(plugctl(&["state", &t, "--family", "kasa", "--json"]).json()["on"], false);
    let p = Probe::run(&d.host, d.port, &["--power", "on"]);
    p.assert_all_ok();
    assert_eq!(p.ok("getPowerState"), &Value::Bool(true));
    assert_eq!(plugctl(&["state", &t, "--family", "kasa", "--json"]).json()["on"], true);
    // The second run's getInfo came before its setPowerState: it saw the relay still off.
    assert_eq!(p.ok("getInfo")["sysInfo"]["relay_state"], 0);
}

/// Energy and runtime statistics after three simulated days, in one unit scheme.
fn stats_scenario(model: &str, hw_ver: &str, floats: bool) {
    let emu = Emulator::kasa(&["--model", model, "--time-scale", "100000"], 1);
    let d = emu.first();
    let t = d.target();
    // The first request fixes the emulator's time origin: from here on it is March 2021.
    set_clock(&t, (2021, 3, 1), (0, 0));
    wait_for_device_date(&t, (2021, 3, 4));

    let p = Probe::run(&d.host, d.port, &["--year", "2021", "--month", "3"]);
    p.assert_all_ok();
    assert_identity(&p, d, hw_ver);
    assert_get_info(&p, d);
    let power = assert_realtime_scheme(&p, floats);
    assert!(power > 1.0, "{model} is on, so it draws power: {power} W");
    assert_agrees_with_ours(&p, &t, None);
    assert_march_stats(&p, power, floats);
    assert_march_runtime(&p);
    let time = p.ok("time.getTime");
    assert!(date_of(time) >= (2021, 3, 4) && time["year"] == 2021, "{time}");
    assert_eq!(p.ok("time.getTimezone")["index"], 42);
}

#[test]
fn api_reads_integer_unit_energy_stats_of_an_hs110_hw4() {
    stats_scenario("hs110-hw4", "4.0", false);
}

#[test]
fn api_reads_float_unit_energy_stats_of_an_hs110_hw1() {
    stats_scenario("hs110-hw1", "1.0", true);
}

#[test]
fn api_drives_hs300_outlets_one_by_one() {
    let emu = Emulator::kasa(&["--model", "hs300", "--time-scale", "100000"], 1);
    let d = emu.first();
    let t = d.target();
    set_clock(&t, (2021, 3, 1), (0, 0));
    wait_for_device_date(&t, (2021, 3, 4));
    let state = plugctl(&["state", &t, "--family", "kasa", "--json"]).json();
    let children = state["children"].as_array().expect("children").clone();
    assert_eq!(children.len(), 6, "{state}");
    let ids: Vec<String> = children.iter().map(|c| c["id"].as_str().expect("id").to_string()).collect();
    assert!(
        children.iter().all(|c| c["on"] == true),
        "the built-in HS300 starts with every outlet on: {state}"
    );

    // The strip itself: children as the library sees them; getInfo with no context.
    let p = Probe::run(&d.host, d.port, &[]);
    p.assert_all_ok();
    assert_identity(&p, d, "1.0");
    assert_get_info(&p, d);
    let seen: Vec<String> = p.ok("getDevice")["children"]
        .as_array()
        .expect("children")
        .iter()
        .map(|c| c.as_str().expect("id").to_string())
        .collect();
    assert_eq!(seen, ids);
    assert!(p.ok("getSysInfo").get("relay_state").is_none(), "a strip has no top-level relay");

    // Outlets 1 and 3, each through its own child context.
    for i in [1usize, 3] {
        let p = Probe::run(&d.host, d.port, &["--child", &ids[i], "--year", "2021", "--month", "3"]);
        p.assert_all_ok();
        let dev = p.ok("getDevice");
        assert_eq!(dev["childId"], ids[i].as_str(), "{dev}");
        assert_eq!(dev["id"], ids[i].as_str(), "{dev}");
        assert_eq!(dev["alias"], children[i]["alias"], "{dev}");
        let power = assert_realtime_scheme(&p, false);
        assert!(power > 0.5, "outlet {i} is on: {power} W");
        assert_agrees_with_ours(&p, &t, Some(&i.to_string()));
        assert_march_stats(&p, power, false);
        assert_march_runtime(&p);
    }

    // Switch outlet 2 off through the library: only it goes off, and only it stops drawing.
    let p = Probe::run(&d.host, d.port, &["--child", &ids[2], "--power", "off"]);
    p.assert_all_ok();
    assert_eq!(p.ok("getPowerState"), &Value::Bool(false));
    let state = plugctl(&["state", &t, "--family", "kasa", "--json"]).json();
    for (i, c) in state["children"].as_array().expect("children").iter().enumerate() {
        assert_eq!(c["on"], i != 2, "outlet {i} after the library switched outlet 2 off: {state}");
    }
    let off = Probe::run(&d.host, d.port, &["--child", &ids[2]]);
    off.assert_all_ok();
    let rt = off.ok("emeter.getRealtime");
    assert_eq!(
        (rt["power_mw"].as_i64(), rt["current_ma"].as_i64()),
        (Some(0), Some(0)),
        "outlet 2 is off: {rt}"
    );
    assert!(num(&rt["voltage"], "voltage") > 100.0, "voltage is still reported while off: {rt}");
    let on = Probe::run(&d.host, d.port, &["--child", &ids[1]]);
    assert!(num(&on.ok("emeter.getRealtime")["power"], "power") > 0.5, "outlet 1 is still on");

    let p = Probe::run(&d.host, d.port, &["--child", &ids[2], "--power", "on"]);
    p.assert_all_ok();
    assert_eq!(p.ok("getPowerState"), &Value::Bool(true));
    let state = plugctl(&["state", &t, "--family", "kasa", "--json"]).json();
    assert!(state["children"].as_array().expect("children").iter().all(|c| c["on"] == true), "{state}");
}

#[test]
fn api_discovers_an_emulated_fleet_by_udp() {
    let emu = Emulator::kasa(&["--model", "kp115", "--count", "3"], 3);
    let port = emu.port().to_string();
    let mut args = vec![port.as_str()];
    args.extend(emu.devices.iter().map(|d| d.host.as_str()));
    let run = run_script("api_discover.js", &args);
    let doc: Value = serde_json::from_str(run.stdout.trim())
        .unwrap_or_else(|e| panic!("api_discover.js printed no JSON ({e}): {}\n{}", run.stdout, run.stderr));
    assert_eq!(run.code, Some(0), "{doc}\n{}", run.stderr);
    assert_eq!(doc["invalid"], serde_json::json!([]), "{doc}");
    let found = doc["found"].as_array().expect("found");
    assert_eq!(found.len(), 3, "{doc}");
    for d in &emu.devices {
        let f = found
            .iter()
            .find(|f| f["host"] == d.host.as_str())
            .unwrap_or_else(|| panic!("{} not found: {doc}", d.host));
        // devicesUseDiscoveryPort: the reply came from the device's own port.
        assert_eq!(f["port"], d.port, "{f}");
        assert_eq!(f["deviceId"], d.info["device_id"], "{f}");
        assert_eq!(f["mac"], d.info["mac"], "{f}");
        assert_eq!(f["model"], d.info["model"], "{f}");
        assert_eq!(f["alias"], d.info["alias"], "{f}");
        assert_eq!(f["deviceType"], "plug", "{f}");
    }
}
