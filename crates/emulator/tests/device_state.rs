//! The device state machine without sockets: reply shapes, context rules and time evolution
//! with injected instants.

use std::time::{Duration, Instant};

use plugctl_emulator::kasa::{builtin, DeviceConfig, DeviceState, Profile};
use serde_json::{json, Value};

fn ask_raw(dev: &mut DeviceState, req: &[u8], now: Instant) -> Option<Value> {
    dev.handle(req, now).map(|b| serde_json::from_slice(&b).expect("replies are JSON"))
}

fn ask(dev: &mut DeviceState, req: Value, now: Instant) -> Value {
    ask_raw(dev, req.to_string().as_bytes(), now).expect("a reply")
}

fn device(name: &str) -> DeviceState {
    builtin(name).expect("built-in profile").instantiate(0, 1)
}

const MINUS_1: &str = r#"{"err_code":-1,"err_msg":"module not support"}"#;
const MINUS_2: &str = r#"{"err_code":-2,"err_msg":"member not support"}"#;
const MINUS_3: &str = r#"{"err_code":-3,"err_msg":"invalid argument"}"#;
const MINUS_14: &str = r#"{"err_code":-14,"err_msg":"entry not exist"}"#;

fn v(s: &str) -> Value {
    serde_json::from_str(s).expect("valid test JSON")
}

#[test]
fn error_shapes_are_exact() {
    let t = Instant::now();
    let mut d = device("hs100-hw2");
    let r = ask(
        &mut d,
        json!({
            "emeter": {"get_realtime": {}},
            "countdown": {"get_rules": null},
            "smartlife.iot.common.emeter": {"get_realtime": {}},
            "schedule": {"get_realtime": null, "get_next_action": null},
            "anti_theft": {"get_rules": {}, "get_next_action": {}},
            "system": {"set_relay_state": {"state": "1"}, "set_led_off": {}, "no_such": {}},
            "time": 5,
            "netif": null,
        }),
        t,
    );
    assert_eq!(r["emeter"], v(MINUS_1));
    assert_eq!(r["countdown"], v(MINUS_1));
    assert_eq!(r["smartlife.iot.common.emeter"], v(MINUS_1));
    assert_eq!(r["schedule"]["get_realtime"], v(MINUS_2));
    assert_eq!(r["schedule"]["get_next_action"], json!({"type": -1, "err_code": 0}));
    assert_eq!(r["anti_theft"]["get_next_action"], v(MINUS_2));
    assert_eq!(
        r["anti_theft"]["get_rules"],
        json!({"enable": 0, "rule_list": [], "version": 2, "err_code": 0})
    );
    assert_eq!(r["system"]["set_relay_state"], v(MINUS_3));
    assert_eq!(r["system"]["set_led_off"], v(MINUS_3));
    assert_eq!(r["system"]["no_such"], v(MINUS_2));
    assert_eq!(r["time"], v(MINUS_3));
    assert_eq!(r["netif"], v(MINUS_3));
    assert_eq!(r.as_object().map(|m| m.len()), Some(8));
}

#[test]
fn garbage_gets_empty_object_and_context_is_never_echoed() {
    let t = Instant::now();
    let mut d = device("hs110-hw1");
    for bad in [&b"not json"[..], b"[]", b"5", b"null", b"{emeter:{}}", b"\xff\xfe\xfd", b""] {
        assert_eq!(ask_raw(&mut d, bad, t), Some(json!({})), "{bad:?}");
    }
    let deep = format!("{{\"system\":{}{}}}", "[".repeat(100), "]".repeat(100));
    assert_eq!(ask_raw(&mut d, deep.as_bytes(), t), Some(json!({})));
    let r = ask(&mut d, json!({"context": {"child_ids": ["x"]}, "system": {"get_sysinfo": null}}), t);
    assert!(r.get("context").is_none(), "{r}");
    assert_eq!(r["system"]["get_sysinfo"]["err_code"], 0);
    // A second context is an unknown module (duplicate keys kept by the parser).
    let r = ask_raw(&mut d, br#"{"context":{},"system":{"get_sysinfo":{}},"context":{}}"#, t).unwrap();
    assert_eq!(r["context"], v(MINUS_1));
    // null and {} params are interchangeable.
    let a = ask(&mut d, json!({"cnCloud": {"get_info": null}}), t);
    let b = ask(&mut d, json!({"cnCloud": {"get_info": {}}}), t);
    assert_eq!(a, b);
}

#[test]
fn fixed_replies_clients_need() {
    let t = Instant::now();
    let mut d = device("kp115");
    let r = ask(
        &mut d,
        json!({"cnCloud": {"get_info": {}, "get_intl_fw_list": {}}, "time": {"get_time": {}, "get_timezone": {}},
               "netif": {"get_scaninfo": {"refresh": 1}}, "count_down": {"get_rules": {}},
               "schedule": {"get_rules": {}}, "system": {"get_dev_icon": null}}),
        t,
    );
    let cloud = r["cnCloud"]["get_info"].as_object().unwrap();
    for k in [
        "binded",
        "cld_connection",
        "fwDlPage",
        "fwNotifyType",
        "illegalType",
        "server",
        "stopConnect",
        "tcspInfo",
        "tcspStatus",
        "username",
        "err_code",
    ] {
        assert!(cloud.contains_key(k), "{k}");
    }
    assert_eq!(r["cnCloud"]["get_intl_fw_list"], json!({"fw_list": [], "err_code": 0}));
    let time = &r["time"]["get_time"];
    for k in ["year", "month", "mday", "hour", "min", "sec", "wday"] {
        assert!(time[k].is_i64(), "{k}: {time}");
    }
    let idx = r["time"]["get_timezone"]["index"].as_i64().unwrap();
    assert!((0..=109).contains(&idx));
    for ap in r["netif"]["get_scaninfo"]["ap_list"].as_array().unwrap() {
        let keys: Vec<&String> = ap.as_object().unwrap().keys().collect();
        assert!(keys.iter().all(|k| *k == "ssid" || *k == "key_type"), "{ap}");
    }
    assert_eq!(r["count_down"]["get_rules"], json!({"rule_list": [], "err_code": 0}));
    assert_eq!(
        r["schedule"]["get_rules"],
        json!({"rule_list": [], "enable": 1, "version": 2, "err_code": 0})
    );
    assert_eq!(r["system"]["get_dev_icon"]["err_code"], 0);
}

#[test]
fn setters_change_sysinfo() {
    let t = Instant::now();
    let mut d = device("hs100-hw1");
    let r = ask(
        &mut d,
        json!({"system": {"set_dev_alias": {"alias": "Küche 😽"}, "set_led_off": {"off": 1},
               "set_mac_addr": {"mac": "50-c7-bf-01-02-03"},
               "set_dev_location": {"latitude": 50.9412784, "longitude": 6.9582814}}}),
        t,
    );
    for m in ["set_dev_alias", "set_led_off", "set_mac_addr", "set_dev_location"] {
        assert_eq!(r["system"][m], json!({"err_code": 0}), "{m}");
    }
    let s = ask(&mut d, json!({"system": {"get_sysinfo": {}}}), t)["system"]["get_sysinfo"].clone();
    assert_eq!(s["alias"], "Küche 😽");
    assert_eq!(s["led_off"], 1);
    assert_eq!(s["mac"], "50:C7:BF:01:02:03");
    assert_eq!(s["latitude"], 50.941278);
    assert!(s.get("latitude_i").is_none(), "hw1 uses float location only");
    let mut d2 = device("hs100-hw2");
    ask(&mut d2, json!({"system": {"set_dev_location": {"latitude_i": 509413, "longitude_i": 69583}}}), t);
    let s = ask(&mut d2, json!({"system": {"get_sysinfo": {}}}), t)["system"]["get_sysinfo"].clone();
    assert_eq!((s["latitude_i"].clone(), s["longitude_i"].clone()), (json!(509413), json!(69583)));
    let bad = ask(
        &mut d2,
        json!({"system": {"set_mac_addr": {"mac": "zz"}, "set_dev_location": {"latitude": 1}, "set_dev_alias": {}}}),
        t,
    );
    for m in ["set_mac_addr", "set_dev_location", "set_dev_alias"] {
        assert_eq!(bad["system"][m], v(MINUS_3), "{m}");
    }
}

#[test]
fn on_time_counts_while_on_and_resets_when_off() {
    let t0 = Instant::now();
    let mut d = device("hs100-hw2");
    let sys = |d: &mut DeviceState, t| {
        ask(d, json!({"system": {"get_sysinfo": {}}}), t)["system"]["get_sysinfo"].clone()
    };
    assert_eq!(sys(&mut d, t0)["relay_state"], 0);
    ask(&mut d, json!({"system": {"set_relay_state": {"state": 1}}}), t0);
    assert_eq!(sys(&mut d, t0 + Duration::from_secs(10))["on_time"], 10);
    // Switching on again does not restart the count.
    ask(&mut d, json!({"system": {"set_relay_state": {"state": true}}}), t0 + Duration::from_secs(10));
    assert_eq!(sys(&mut d, t0 + Duration::from_secs(25))["on_time"], 25);
    ask(&mut d, json!({"system": {"set_relay_state": {"state": 0}}}), t0 + Duration::from_secs(30));
    let s = sys(&mut d, t0 + Duration::from_secs(40));
    assert_eq!((s["relay_state"].clone(), s["on_time"].clone()), (json!(0), json!(0)));
    ask(&mut d, json!({"system": {"set_relay_state": {"state": 1}}}), t0 + Duration::from_secs(50));
    assert_eq!(sys(&mut d, t0 + Duration::from_secs(53))["on_time"], 3);
    // Injected instants earlier than the last one never move time backwards.
    assert_eq!(sys(&mut d, t0)["on_time"], 3);
}

#[test]
fn time_scale_speeds_up_simulated_time() {
    let t0 = Instant::now();
    let cfg = DeviceConfig { time_scale: 60.0, ..DeviceConfig::default() };
    let mut d = builtin("hs110-hw4").unwrap().instantiate_with(0, 1, cfg);
    let on_time = |d: &mut DeviceState, t| {
        ask(d, json!({"system": {"get_sysinfo": {}}}), t)["system"]["get_sysinfo"]["on_time"]
            .as_u64()
            .unwrap()
    };
    let a = on_time(&mut d, t0);
    let b = on_time(&mut d, t0 + Duration::from_secs(10));
    assert_eq!(b - a, 600);
}

#[test]
fn emeter_total_rises_consistently_with_power() {
    let t0 = Instant::now();
    let mut d = device("hs110-hw4");
    let rt = |d: &mut DeviceState, t| {
        ask(d, json!({"emeter": {"get_realtime": {}}}), t)["emeter"]["get_realtime"].clone()
    };
    let a = rt(&mut d, t0);
    for k in ["voltage_mv", "current_ma", "power_mw", "total_wh", "err_code"] {
        assert!(a[k].is_i64(), "{k}: {a}");
    }
    let p = a["power_mw"].as_f64().unwrap() / 1000.0;
    assert!((58.8..=61.2).contains(&p), "power {p}");
    let volts = a["voltage_mv"].as_f64().unwrap() / 1000.0;
    assert!((228.8..=231.2).contains(&volts), "voltage {volts}");
    let amps = a["current_ma"].as_f64().unwrap() / 1000.0;
    let pf = p / (volts * amps);
    assert!((0.88..=1.02).contains(&pf), "pf {pf}");
    // After one simulated hour at ~60 W the total rose by ~60 Wh.
    let b = rt(&mut d, t0 + Duration::from_secs(3600));
    let delta_wh = b["total_wh"].as_i64().unwrap() - a["total_wh"].as_i64().unwrap();
    assert!((58..=62).contains(&delta_wh), "Δ {delta_wh} Wh");
    // The same energy appears in the day statistics (possibly split over two days).
    let days: i64 = (0..2)
        .map(|back| {
            let now = std::time::SystemTime::now() - Duration::from_secs(back * 3600);
            let z = jiff::Timestamp::try_from(now).unwrap().to_zoned(jiff::tz::TimeZone::system());
            let r = ask(
                &mut d,
                json!({"emeter": {"get_daystat": {"year": z.year(), "month": z.month()}}}),
                t0 + Duration::from_secs(3600),
            );
            r["emeter"]["get_daystat"]["day_list"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["energy_wh"].as_i64().unwrap())
                .sum::<i64>()
        })
        .max()
        .unwrap();
    assert!((58..=62).contains(&days), "day stats {days} Wh");
    // Off: no power or current, voltage still reported; total stays.
    ask(&mut d, json!({"system": {"set_relay_state": {"state": 0}}}), t0 + Duration::from_secs(3600));
    let c = rt(&mut d, t0 + Duration::from_secs(7200));
    assert_eq!((c["power_mw"].clone(), c["current_ma"].clone()), (json!(0), json!(0)));
    assert!(c["voltage_mv"].as_i64().unwrap() > 200_000);
    assert!((c["total_wh"].as_i64().unwrap() - b["total_wh"].as_i64().unwrap()).abs() <= 1);
}

#[test]
fn v1_units_and_stat_arguments() {
    let t0 = Instant::now();
    let mut d = device("hs110-hw1");
    let r = ask(
        &mut d,
        json!({"emeter": {"get_realtime": {}, "get_daystat": {"year": 2016, "month": "12"},
                                         "get_monthstat": {}, "get_vgain_igain": {}}}),
        t0,
    );
    let rt = &r["emeter"]["get_realtime"];
    for k in ["voltage", "current", "power", "total"] {
        assert!(rt[k].is_f64(), "{k}: {rt}");
    }
    assert_eq!(r["emeter"]["get_daystat"], v(MINUS_3));
    assert_eq!(r["emeter"]["get_monthstat"], v(MINUS_3));
    assert!(r["emeter"]["get_vgain_igain"]["vgain"].is_i64());
    let r = ask(
        &mut d,
        json!({"emeter": {"get_daystat": {"year": 1999, "month": 1}, "erase_emeter_stat": null}}),
        t0,
    );
    assert_eq!(r["emeter"]["get_daystat"], json!({"day_list": [], "err_code": 0}));
    assert_eq!(r["emeter"]["erase_emeter_stat"], json!({"err_code": 0}));
}

fn hs300() -> (DeviceState, Vec<String>) {
    let d = device("hs300");
    let ids = d.child_ids();
    (d, ids)
}

#[test]
fn strip_context_rules() {
    let t = Instant::now();
    let (mut d, ids) = hs300();
    assert_eq!(ids.len(), 6);
    assert!(ids.iter().all(|id| id.len() == 42 && id.starts_with(d.device_id())));
    // Multi-module request, context first: outlet 2 off, others unchanged.
    let r = ask(
        &mut d,
        json!({"context": {"child_ids": [ids[2]]}, "system": {"set_relay_state": {"state": 0}, "get_sysinfo": {}},
               "emeter": {"get_realtime": null}, "schedule": {"get_next_action": null}}),
        t,
    );
    assert_eq!(r["system"]["set_relay_state"], json!({"err_code": 0}));
    assert_eq!(r["schedule"]["get_next_action"], json!({"type": -1, "err_code": 0}));
    // (json! sorts keys, so `emeter` ran before `system` in that request.)
    // (and `get_sysinfo` before `set_relay_state`).
    let r2 = ask(
        &mut d,
        json!({"context": {"child_ids": [ids[2]]}, "emeter": {"get_realtime": null}, "system": {"get_sysinfo": {}}}),
        t,
    );
    assert_eq!(r2["emeter"]["get_realtime"]["power_mw"], 0, "outlet 2 is off now");
    let children = r2["system"]["get_sysinfo"]["children"].as_array().unwrap().clone();
    let states: Vec<i64> = children.iter().map(|c| c["state"].as_i64().unwrap()).collect();
    assert_eq!(states, [1, 1, 0, 1, 1, 1]);
    let s = &r["system"]["get_sysinfo"];
    for k in ["relay_state", "on_time", "dev_name", "active_mode"] {
        assert!(s.get(k).is_none(), "{k}");
    }
    // Unknown id: -14, nothing applied (not even the valid id listed before it).
    let r = ask(
        &mut d,
        json!({"system": {"set_relay_state": {"state": 0}, "get_sysinfo": {}}, "context": {"child_ids": [ids[0], "A"]}}),
        t,
    );
    assert_eq!(r["system"]["set_relay_state"], v(MINUS_14));
    assert_eq!(r["system"]["get_sysinfo"]["err_code"], 0, "context-free methods still run");
    assert_eq!(d.relay_states(), [true, true, false, true, true, true]);
    // Malformed child_ids: -3 for context-aware methods only.
    let r = ask(
        &mut d,
        json!({"context": {"child_ids": {}}, "system": {"set_relay_state": {"state": 0}},
                               "cnCloud": {"get_info": {}}}),
        t,
    );
    assert_eq!(r["system"]["set_relay_state"], v(MINUS_3));
    assert_eq!(r["cnCloud"]["get_info"]["err_code"], 0);
    // Empty list: success, no change. Short ids accepted.
    let r =
        ask(&mut d, json!({"context": {"child_ids": []}, "system": {"set_relay_state": {"state": 0}}}), t);
    assert_eq!(r["system"]["set_relay_state"]["err_code"], 0);
    assert_eq!(d.relay_states(), [true, true, false, true, true, true]);
    ask(
        &mut d,
        json!({"context": {"child_ids": ["05", ids[4].to_lowercase()]}, "system": {"set_relay_state": {"state": 0}}}),
        t,
    );
    assert_eq!(d.relay_states(), [true, true, false, true, false, false]);
    // Alias: first id only.
    ask(
        &mut d,
        json!({"context": {"child_ids": [ids[1], ids[3]]}, "system": {"set_dev_alias": {"alias": "Lamp"}}}),
        t,
    );
    let s = ask(&mut d, json!({"system": {"get_sysinfo": {}}}), t)["system"]["get_sysinfo"].clone();
    assert_eq!(s["children"][1]["alias"], "Lamp");
    assert_eq!(s["children"][3]["alias"], "Plug 4");
    // No context: all outlets (simulator behaviour).
    ask(&mut d, json!({"system": {"set_relay_state": {"state": 1}}}), t);
    assert_eq!(d.relay_states(), [true; 6]);
}

#[test]
fn strip_emeter_per_outlet() {
    let t0 = Instant::now();
    let (mut d, ids) = hs300();
    let rt = |d: &mut DeviceState, ctx: Option<&str>| {
        let mut req = json!({"emeter": {"get_realtime": null}});
        if let Some(id) = ctx {
            req["context"] = json!({"child_ids": [id]});
        }
        ask(d, req, t0)["emeter"]["get_realtime"].clone()
    };
    let outlet0 = rt(&mut d, None);
    assert_eq!(outlet0, rt(&mut d, Some(&ids[0])), "no context = outlet 0");
    assert_ne!(outlet0["power_mw"], rt(&mut d, Some(&ids[3]))["power_mw"]);
    let r = ask(&mut d, json!({"context": {"child_ids": ["nope"]}, "emeter": {"get_realtime": {}}}), t0);
    assert_eq!(r["emeter"]["get_realtime"], v(MINUS_14));
}

#[test]
fn rules_add_edit_delete() {
    let t0 = Instant::now();
    let mut d = device("hs100-hw2");
    let r = ask(
        &mut d,
        json!({"schedule": {"add_rule": {"stime_opt": 0, "wday": [false, true, true, true, true, true, false],
               "smin": 1014, "enable": true, "repeat": true, "etime_opt": -1, "name": "lights on", "eact": -1, "sact": 1}}}),
        t0,
    );
    let id = r["schedule"]["add_rule"]["id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 32);
    let rules = ask(&mut d, json!({"schedule": {"get_rules": {}}}), t0)["schedule"]["get_rules"].clone();
    assert_eq!(rules["rule_list"][0]["wday"], json!([0, 1, 1, 1, 1, 1, 0]));
    assert_eq!(rules["rule_list"][0]["id"], id.as_str());
    let r = ask(
        &mut d,
        json!({"schedule": {"edit_rule": {"id": id, "smin": 5}, "delete_rule": {"id": "X"}}, "anti_theft": {"delete_rule": {}}}),
        t0,
    );
    assert_eq!(r["schedule"]["edit_rule"], json!({"err_code": 0}));
    assert_eq!(r["schedule"]["delete_rule"], v(MINUS_14));
    assert_eq!(r["anti_theft"]["delete_rule"]["err_code"], -10002);
    let r = ask(&mut d, json!({"schedule": {"delete_rule": {"id": id}, "get_rules": {}}}), t0);
    assert_eq!(r["schedule"]["get_rules"]["rule_list"], json!([]));
}

#[test]
fn countdown_fires_in_simulated_time() {
    let t0 = Instant::now();
    let cfg = DeviceConfig { time_scale: 100.0, ..DeviceConfig::default() };
    let mut d = builtin("hs100-hw2").unwrap().instantiate_with(0, 3, cfg);
    let r = ask(
        &mut d,
        json!({"count_down": {"add_rule": {"enable": 1, "delay": 600, "act": 1, "name": "on"}}}),
        t0,
    );
    assert_eq!(r["count_down"]["add_rule"]["err_code"], 0);
    let r = ask(&mut d, json!({"count_down": {"add_rule": {"enable": 1, "delay": 5, "act": 0}}}), t0);
    assert_eq!(r["count_down"]["add_rule"]["err_code"], -10);
    let s = ask(
        &mut d,
        json!({"system": {"get_sysinfo": {}}, "count_down": {"get_rules": {}}}),
        t0 + Duration::from_secs(1),
    );
    assert_eq!(s["system"]["get_sysinfo"]["relay_state"], 0);
    assert_eq!(s["system"]["get_sysinfo"]["active_mode"], "count_down");
    assert_eq!(s["count_down"]["get_rules"]["rule_list"][0]["remain"], 500);
    // 600 s simulated = 6 s real; 4 s later the relay has been on for 400 s.
    let s = ask(&mut d, json!({"system": {"get_sysinfo": {}}}), t0 + Duration::from_secs(10))["system"]
        ["get_sysinfo"]
        .clone();
    assert_eq!(s["relay_state"], 1);
    assert_eq!(s["on_time"], 400);
}

#[test]
fn reboot_replies_then_goes_offline() {
    let t0 = Instant::now();
    let cfg = DeviceConfig { reboot_time: Duration::from_secs(5), ..DeviceConfig::default() };
    let mut d = builtin("kp115").unwrap().instantiate_with(0, 1, cfg);
    let r = ask(&mut d, json!({"system": {"reboot": {"delay": 1}}}), t0);
    assert_eq!(r["system"]["reboot"], json!({"err_code": 0}));
    assert!(!d.is_offline(t0));
    assert_eq!(d.pending_reboot(t0), Some(t0 + Duration::from_secs(1)));
    assert_eq!(ask_raw(&mut d, br#"{"system":{"get_sysinfo":{}}}"#, t0 + Duration::from_secs(2)), None);
    assert_eq!(d.boot_epoch(t0 + Duration::from_secs(2)), 1);
    assert!(ask_raw(&mut d, br#"{"system":{"get_sysinfo":{}}}"#, t0 + Duration::from_secs(7)).is_some());
    // Delay 0: no reply at all, offline at once.
    assert_eq!(
        ask_raw(
            &mut d,
            br#"{"system":{"reboot":{"delay":0},"get_sysinfo":{}}}"#,
            t0 + Duration::from_secs(8)
        ),
        None
    );
    assert!(d.is_offline(t0 + Duration::from_secs(8)));
    let r = ask(&mut d, json!({"system": {"reboot": {"delay": "1"}}}), t0 + Duration::from_secs(20));
    assert_eq!(r["system"]["reboot"], v(MINUS_3));
}

#[test]
fn factory_reset_restores_defaults() {
    let t0 = Instant::now();
    let mut d = device("hs110-hw1");
    let default_alias = d.alias().to_string();
    ask(
        &mut d,
        json!({"system": {"set_dev_alias": {"alias": "x"}}, "cnCloud": {"bind": {"username": "a@b.c", "password": "p"}}}),
        t0,
    );
    let r = ask(&mut d, json!({"system": {"reset": {}}}), t0);
    assert_eq!(r["system"]["reset"], json!({"err_code": 0}));
    assert_eq!(d.alias(), default_alias);
    let r = ask(&mut d, json!({"cnCloud": {"unbind": {}}}), t0);
    assert_eq!(r["cnCloud"]["unbind"]["err_code"], -4002);
}

#[test]
fn instantiate_puts_realistic_ids_back() {
    let p = builtin("hs110-hw1").unwrap();
    let a = p.instantiate(0, 9);
    let b = p.instantiate(1, 9);
    assert_eq!(a.mac(), p.sysinfo()["mac"].as_str().unwrap(), "index 0 keeps the template MAC");
    assert_ne!(a.mac(), b.mac());
    assert_eq!(a.mac()[..8], b.mac()[..8], "same OUI");
    assert_ne!(a.device_id(), b.device_id());
    assert_eq!(a.device_id().len(), 40);
    assert_eq!(a.alias(), "HS110 plug 1");
    assert_eq!(b.alias(), "HS110 plug 2");
    let mut a = a;
    let s =
        ask(&mut a, json!({"system": {"get_sysinfo": {}}}), Instant::now())["system"]["get_sysinfo"].clone();
    assert!(s["hwId"].as_str().unwrap().chars().any(|c| c != '0'));
    assert!(s["oemId"].as_str().unwrap().chars().any(|c| c != '0'));
    assert_eq!(s["fwId"], "00000000000000000000000000000000", "fwId is kept");
}

#[test]
fn dimmer_from_a_dump() {
    let dump = r#"{"smartlife.iot.dimmer":{"get_dimmer_parameters":{"err_code":0,"fadeOffTime":1000,"fadeOnTime":1000,
        "gentleOffTime":10000,"gentleOnTime":3000,"minThreshold":0,"rampRate":30}},
        "system":{"get_sysinfo":{"alias":"","brightness":100,"dev_name":"Wi-Fi Smart Dimmer","deviceId":"0","err_code":0,
        "feature":"TIM","hw_ver":"2.0","mac":"00:00:00:00:00:00","mic_type":"IOT.SMARTPLUGSWITCH","model":"HS220(US)",
        "relay_state":0,"sw_ver":"1.0.3 Build 200326 Rel.082355"}}}"#;
    let p = Profile::from_dump_str(dump).unwrap();
    assert!(p.is_dimmer());
    let mut d = p.instantiate(0, 0);
    let t = Instant::now();
    let r = ask(
        &mut d,
        json!({"smartlife.iot.dimmer": {"set_brightness": {"brightness": 40}, "get_dimmer_parameters": {}},
               "smartlife.iot.PIR": {"get_config": {}}, "smartlife.iot.LAS": {"get_config": {}}}),
        t,
    );
    assert_eq!(r["smartlife.iot.dimmer"]["set_brightness"], json!({"err_code": 0}));
    assert_eq!(r["smartlife.iot.dimmer"]["get_dimmer_parameters"]["rampRate"], 30);
    assert_eq!(r["smartlife.iot.PIR"], v(MINUS_1));
    assert_eq!(r["smartlife.iot.LAS"], v(MINUS_1));
    let s = ask(&mut d, json!({"system": {"get_sysinfo": {}}}), t);
    assert_eq!(s["system"]["get_sysinfo"]["brightness"], 40);
    // Plugs have no dimmer module.
    let mut plug = device("hs100-hw1");
    let r = ask(&mut plug, json!({"smartlife.iot.dimmer": {"get_dimmer_parameters": {}}}), t);
    assert_eq!(r["smartlife.iot.dimmer"], v(MINUS_1));
}

/// Methods run in the order the request lists them (modules too), as on real devices and in
/// tplink-smarthome-simulator: a setter before a getter is seen by the getter, and not after.
#[test]
fn methods_run_in_request_order() {
    let t = Instant::now();
    let mut d = device("hs100-hw2");
    let set_then_get = br#"{"system":{"set_relay_state":{"state":1},"get_sysinfo":{}}}"#;
    let r = ask_raw(&mut d, set_then_get, t).expect("a reply");
    assert_eq!(r["system"]["get_sysinfo"]["relay_state"], 1, "{r}");
    let get_then_set = br#"{"system":{"get_sysinfo":{},"set_relay_state":{"state":0}}}"#;
    let r = ask_raw(&mut d, get_then_set, t).expect("a reply");
    assert_eq!(r["system"]["get_sysinfo"]["relay_state"], 1, "the getter ran first: {r}");
    let r = ask(&mut d, json!({"system": {"get_sysinfo": {}}}), t);
    assert_eq!(r["system"]["get_sysinfo"]["relay_state"], 0);
    // The reply keeps the request's order of keys.
    let raw = d.handle(br#"{"time":{"get_timezone":{}},"system":{"get_sysinfo":{}}}"#, t).expect("a reply");
    let text = String::from_utf8(raw).expect("UTF-8");
    assert!(text.find("\"time\"") < text.find("\"system\""), "{text}");
}
