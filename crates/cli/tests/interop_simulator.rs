//! Interop: our client (the `plugctl` binary) drives tplink-smarthome-simulator 5.0.1 (pinned,
//! from npm, installed by ./scripts/test.sh into .node-interop/): a Kasa implementation nobody
//! here wrote. Each simulated device runs in `node tests/node/simulator.js` on its own
//! loopback address; what we read is checked against the simulator's own state and against
//! the requests it logged.
//!
//! The simulator treats every TCP `data` event as one whole message and ignores the length
//! header (kasa-protocol.md §3.3), so these tests also hold our client to writing each request
//! frame in one write. Its fixed meter reading (hs.js: 122.049119 V, 0.1256 A, 3.14 W,
//! 51.493 kWh; the v2 models floor the same values to mV/mA/mW/Wh) makes exact unit checks
//! possible.

mod common;
mod node_support;

use common::plugctl;
use node_support::Simulator;
use serde_json::Value;

/// The simulator's fixed hw-1.0 reading (hs.js), and its v2 form (floored to mV/mA/mW/Wh).
const V1_VOLTAGE: f64 = 122.049119;
const V1_CURRENT: f64 = 0.1256;
const POWER_MW: f64 = 3140.0; // 3.14 W, in both schemes
const TOTAL_WH: f64 = 51493.0; // 51.493 kWh, in both schemes
const V2_VOLTAGE_MV: f64 = 122049.0;
const V2_CURRENT_MA: f64 = 125.0;

fn kasa(cmd: &str, target: &str, extra: &[&str]) -> Value {
    let mut args = vec![cmd, target, "--family", "kasa", "--json"];
    args.extend_from_slice(extra);
    plugctl(&args).json()
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// The `set_relay_state` requests the simulator received, as (state, child ids).
fn relay_requests(sim: &mut Simulator) -> Vec<(i64, Vec<String>)> {
    sim.requests()
        .into_iter()
        .filter(|(proto, _)| proto == "tcp")
        .filter_map(|(_, req)| {
            let state = req["system"]["set_relay_state"]["state"].as_i64()?;
            let ids = req["context"]["child_ids"]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
                .unwrap_or_default();
            Some((state, ids))
        })
        .collect()
}

#[test]
fn our_client_switches_and_meters_a_simulated_hs110() {
    let mac = "50:C7:BF:0A:0B:0C";
    let mut sim = Simulator::start("hs110", &["--mac", mac, "--alias", "Simulated kettle"]);
    let t = sim.target();
    let device_id = sim.initial["deviceId"].as_str().expect("deviceId").to_string();

    let s = kasa("state", &t, &[]);
    assert_eq!(s["family"], "kasa");
    assert_eq!(s["model"], "HS110(US)");
    assert_eq!(s["mac"], mac);
    assert_eq!(s["alias"], "Simulated kettle");
    assert_eq!(s["on"], false, "the simulator starts with the relay off: {s}");
    assert_eq!(s["host"], sim.host.as_str());
    assert_eq!(s["port"], sim.port);

    assert_eq!(kasa("on", &t, &[])["on"], true);
    assert_eq!(sim.sysinfo()["relay_state"], 1, "the simulator's own relay");
    assert_eq!(kasa("state", &t, &[])["on"], true);
    assert_eq!(kasa("off", &t, &[])["on"], false);
    assert_eq!(sim.sysinfo()["relay_state"], 0);
    assert_eq!(kasa("toggle", &t, &[])["on"], true);
    assert_eq!(sim.sysinfo()["relay_state"], 1);
    assert_eq!(kasa("toggle", &t, &[])["on"], false);
    assert_eq!(sim.sysinfo()["relay_state"], 0);
    // What went over the wire: exactly one set_relay_state per switch, no context on a plug.
    let states: Vec<i64> = relay_requests(&mut sim)
        .into_iter()
        .map(|(s, ids)| {
            assert!(ids.is_empty(), "a plain plug needs no context");
            s
        })
        .collect();
    assert_eq!(states, [1, 0, 1, 0]);

    // hw 1.0: float units on the wire, passed through unchanged.
    let e = kasa("energy", &t, &[]);
    assert!(close(num(&e["power_w"]), POWER_MW / 1000.0), "{e}");
    assert!(close(num(&e["voltage_v"]), V1_VOLTAGE), "{e}");
    assert!(close(num(&e["current_a"]), V1_CURRENT), "{e}");
    assert!(close(num(&e["total_kwh"]), TOTAL_WH / 1000.0), "{e}");

    // info: the simulator's whole sysinfo, including its string-typed latitude/longitude.
    let info = kasa("info", &t, &[]);
    assert_eq!(info["deviceId"], device_id.as_str());
    assert_eq!(info["hwId"], sim.initial["hwId"]);
    assert_eq!(info["hw_ver"], "1.0");
    assert_eq!(info["sw_ver"], "1.0.8 Build 151113 Rel.24658");
    assert_eq!(info["feature"], "TIM:ENE");
    assert_eq!(info["latitude_i"], sim.initial["latitude_i"]);
}

#[test]
fn our_client_normalises_integer_units_of_a_simulated_hs110v2() {
    let mut sim = Simulator::start("hs110v2", &[]);
    let t = sim.target();
    let mac = sim.initial["mac"].as_str().expect("mac").to_string();
    let s = kasa("state", &t, &[]);
    assert_eq!(s["model"], "HS110(EU)");
    assert_eq!(s["mac"], mac.as_str());
    assert_eq!(kasa("on", &t, &[])["on"], true);
    assert_eq!(sim.sysinfo()["relay_state"], 1);

    // The simulator sends voltage_mv 122049, current_ma 125, power_mw 3140, total_wh 51493.
    let e = kasa("energy", &t, &[]);
    assert!(close(num(&e["power_w"]), POWER_MW / 1000.0), "{e}");
    assert!(close(num(&e["voltage_v"]), V2_VOLTAGE_MV / 1000.0), "{e}");
    assert!(close(num(&e["current_a"]), V2_CURRENT_MA / 1000.0), "{e}");
    assert!(close(num(&e["total_kwh"]), TOTAL_WH / 1000.0), "{e}");
    let info = kasa("info", &t, &[]);
    assert_eq!(info["hw_ver"], "2.0");
    assert_eq!(info["sw_ver"], "1.5.2 Build 180130 Rel.085820");
}

#[test]
fn our_client_drives_the_outlets_of_a_simulated_hs300() {
    let mut sim = Simulator::start("hs300", &["--device-id", "8006000000000000000000000000000000ABCDEF"]);
    let t = sim.target();
    let parent = "8006000000000000000000000000000000ABCDEF";
    let ids: Vec<String> = (0..6).map(|i| format!("{parent}0{i}")).collect();
    let aliases = ["Mock One", "Mock Two", "Mock Three", "Mock Four", "Mock Five", "Mock Six"];

    let s = kasa("state", &t, &[]);
    assert_eq!(s["model"], "HS300(US)");
    assert_eq!(s["mac"], sim.initial["mac"]);
    let children = s["children"].as_array().unwrap_or_else(|| panic!("strip state lists outlets: {s}"));
    assert_eq!(children.len(), 6, "{s}");
    for (i, c) in children.iter().enumerate() {
        assert_eq!(c["id"], ids[i].as_str(), "{c}");
        assert_eq!(c["alias"], aliases[i], "{c}");
        assert_eq!(c["on"], false, "{c}");
    }

    // The three ways to name an outlet: index, 2-digit suffix, full id.
    let on = kasa("on", &t, &["--child", "2"]);
    assert_eq!(on["on"], true, "{on}");
    assert_eq!(on["alias"], "Mock Three", "{on}");
    let toggled = kasa("toggle", &t, &["--child", "04"]);
    assert_eq!(toggled["on"], true, "{toggled}");
    assert_eq!(kasa("off", &t, &["--child", &ids[2]])["on"], false);
    assert_eq!(kasa("on", &t, &["--child", "5"])["on"], true);

    let sys = sim.sysinfo();
    let sim_states: Vec<i64> = sys["children"]
        .as_array()
        .expect("children")
        .iter()
        .map(|c| c["state"].as_i64().expect("state"))
        .collect();
    assert_eq!(sim_states, [0, 0, 0, 0, 1, 1], "the simulator's own outlet states");
    let s = kasa("state", &t, &[]);
    let ours: Vec<bool> =
        s["children"].as_array().expect("children").iter().map(|c| c["on"] == true).collect();
    assert_eq!(ours, [false, false, false, false, true, true], "{s}");
    // Every switch named exactly one outlet by its full id.
    let relays = relay_requests(&mut sim);
    assert_eq!(
        relays,
        [
            (1, vec![ids[2].clone()]),
            (1, vec![ids[4].clone()]),
            (0, vec![ids[2].clone()]),
            (1, vec![ids[5].clone()]),
        ]
    );

    // Per-outlet meter (v2 integer units) and the strip total.
    let e = kasa("energy", &t, &["--child", "4"]);
    assert!(close(num(&e["power_w"]), POWER_MW / 1000.0), "{e}");
    assert!(close(num(&e["voltage_v"]), V2_VOLTAGE_MV / 1000.0), "{e}");
    assert!(close(num(&e["current_a"]), V2_CURRENT_MA / 1000.0), "{e}");
    assert!(close(num(&e["total_kwh"]), TOTAL_WH / 1000.0), "{e}");
    let emeter_ctx: Vec<Value> = sim
        .requests()
        .into_iter()
        .filter(|(_, r)| r.get("emeter").is_some())
        .map(|(_, r)| r["context"]["child_ids"].clone())
        .collect();
    assert_eq!(emeter_ctx, [serde_json::json!([ids[4]])], "one emeter request, for outlet 4 only");
    let total = kasa("energy", &t, &[]);
    assert!(
        (num(&total["power_w"]) - 6.0 * POWER_MW / 1000.0).abs() < 1e-6,
        "the strip sums its outlets: {total}"
    );
    assert!((num(&total["total_kwh"]) - 6.0 * TOTAL_WH / 1000.0).abs() < 1e-6, "{total}");
    assert!((num(&total["voltage_v"]) - V2_VOLTAGE_MV / 1000.0).abs() < 1e-6, "{total}");
}

#[test]
fn our_udp_discovery_finds_a_simulated_strip() {
    let sim = Simulator::start("hs300", &[]);
    let port = sim.port.to_string();
    // Unicast to the simulator's own address (never a broadcast): its UDP answer shortens
    // child ids to their last two characters (device.ts), which we must accept.
    let out = plugctl(&[
        "discover",
        "--target",
        &sim.host,
        "--port",
        &port,
        "--family",
        "kasa",
        "--timeout",
        "2",
        "--json",
    ]);
    let lines = out.json_lines();
    assert_eq!(lines.len(), 1, "{}", out.stdout);
    let d = &lines[0];
    assert_eq!(d["host"], sim.host.as_str(), "{d}");
    assert_eq!(d["port"], sim.port, "{d}");
    assert_eq!(d["model"], "HS300(US)", "{d}");
    assert_eq!(d["mac"], sim.initial["mac"], "{d}");
    assert_eq!(d["device_id"], sim.initial["deviceId"], "{d}");
    assert_eq!(d["kind"], "strip", "{d}");
    assert_eq!(d["outlets"], 6, "{d}");
}
