//! Hostile input never panics the device state machine, and every reply is a JSON object.

use std::time::{Duration, Instant};

use plugctl_emulator::kasa::{builtin, builtin_names, DeviceConfig};
use serde_json::{json, Value};

const METHODS: &[(&str, &[&str])] = &[
    (
        "system",
        &[
            "get_sysinfo",
            "set_relay_state",
            "set_led_off",
            "set_dev_alias",
            "set_dev_location",
            "set_mac_addr",
            "set_device_id",
            "set_hw_id",
            "get_dev_icon",
            "set_dev_icon",
            "check_new_config",
            "download_firmware",
            "get_download_state",
            "flash_firmware",
            "reboot",
            "reset",
        ],
    ),
    (
        "emeter",
        &[
            "get_realtime",
            "get_daystat",
            "get_monthstat",
            "erase_emeter_stat",
            "get_vgain_igain",
            "set_vgain_igain",
            "start_calibration",
        ],
    ),
    (
        "schedule",
        &[
            "get_rules",
            "add_rule",
            "edit_rule",
            "delete_rule",
            "delete_all_rules",
            "set_overall_enable",
            "get_next_action",
            "get_daystat",
            "get_monthstat",
            "erase_runtime_stat",
            "get_realtime",
        ],
    ),
    (
        "anti_theft",
        &["get_rules", "add_rule", "edit_rule", "delete_rule", "delete_all_rules", "set_overall_enable"],
    ),
    ("count_down", &["get_rules", "add_rule", "edit_rule", "delete_rule", "delete_all_rules"]),
    ("time", &["get_time", "get_timezone", "set_timezone", "set_time"]),
    ("cnCloud", &["get_info", "bind", "unbind", "get_intl_fw_list", "set_server_url"]),
    ("netif", &["get_scaninfo", "set_stainfo", "get_stainfo"]),
];

fn weird_params() -> Vec<Value> {
    let mut v = vec![
        Value::Null,
        json!({}),
        json!(5),
        json!(-1),
        json!("x"),
        json!([]),
        json!([1, 2]),
        json!(true),
        json!(1.5),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(f64::MAX),
    ];
    for key in [
        "state",
        "off",
        "alias",
        "latitude",
        "longitude",
        "latitude_i",
        "longitude_i",
        "mac",
        "deviceId",
        "hwId",
        "delay",
        "year",
        "month",
        "id",
        "enable",
        "wday",
        "index",
        "mday",
        "hour",
        "min",
        "sec",
        "username",
        "password",
        "server",
        "ssid",
        "key_type",
        "brightness",
        "icon",
        "hash",
        "url",
        "vgain",
        "igain",
        "act",
        "name",
        "repeat",
        "smin",
    ] {
        for val in [
            json!(1),
            json!(-99999999999i64),
            json!(1e300),
            json!("x".repeat(300)),
            json!([1, 1, 1, 1, 1, 1, 1]),
            json!({"a": [{}]}),
        ] {
            v.push(json!({ key: val }));
        }
    }
    v.push(json!({"year": 2024, "month": 2}));
    v.push(json!({"delay": 600, "act": 1, "enable": 1}));
    v.push(json!({"mac": "01:23:45:67:89:ab"}));
    v
}

fn contexts(ids: &[String]) -> Vec<Value> {
    let mut c = vec![
        json!(""),
        json!([]),
        json!({}),
        json!({"child_ids": {}}),
        json!({"child_ids": [1]}),
        json!({"child_ids": []}),
        json!({"child_ids": ["A"]}),
        json!({"child_ids": ["00", "99", "-1", "1x"]}),
        json!({"child_ids": null}),
    ];
    if let Some(id) = ids.first() {
        c.push(json!({ "child_ids": [id] }));
    }
    c
}

fn check(reply: Option<Vec<u8>>) {
    if let Some(bytes) = reply {
        let v: Value = serde_json::from_slice(&bytes).expect("reply is JSON");
        assert!(v.is_object(), "{v}");
    }
}

#[test]
fn structured_hostile_requests() {
    let cfg = DeviceConfig { reboot_time: Duration::ZERO, time_scale: 1000.0 };
    let t0 = Instant::now();
    let params = weird_params();
    for name in builtin_names() {
        let mut d = builtin(name).unwrap().instantiate_with(0, 5, cfg.clone());
        let ctxs = contexts(&d.child_ids());
        let mut step = 0u64;
        for (module, methods) in METHODS {
            for method in *methods {
                for (pi, p) in params.iter().enumerate() {
                    step += 1;
                    let now = t0 + Duration::from_millis(step);
                    let mut req = json!({ *module: { *method: p } });
                    if pi % 3 == 0 {
                        req["context"] = ctxs[pi % ctxs.len()].clone();
                    }
                    check(d.handle(req.to_string().as_bytes(), now));
                }
            }
        }
    }
}

#[test]
fn random_and_mutated_bytes() {
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let seeds: Vec<Vec<u8>> = [
        r#"{"system":{"get_sysinfo":{}},"emeter":{"get_realtime":{},"get_daystat":{"year":2024,"month":1}}}"#,
        r#"{"context":{"child_ids":["A"]},"system":{"set_relay_state":{"state":1}}}"#,
        r#"{"schedule":{"add_rule":{"wday":[1,0,0,1,1,0,0],"smin":1014,"enable":1,"repeat":1,"sact":1}}}"#,
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    let t0 = Instant::now();
    for name in builtin_names() {
        let mut d = builtin(name).unwrap().instantiate(0, 1);
        for i in 0..2000u64 {
            let now = t0 + Duration::from_millis(i);
            let mut bytes = seeds[(next() % seeds.len() as u64) as usize].clone();
            match next() % 3 {
                0 => {
                    let len = (next() % 200) as usize;
                    bytes = (0..len).map(|_| next() as u8).collect();
                }
                1 => {
                    for _ in 0..(next() % 4 + 1) {
                        let at = (next() % bytes.len() as u64) as usize;
                        bytes[at] = next() as u8;
                    }
                }
                _ => {
                    let cut = (next() % bytes.len() as u64) as usize;
                    bytes.truncate(cut);
                }
            }
            check(d.handle(&bytes, now));
        }
    }
}
