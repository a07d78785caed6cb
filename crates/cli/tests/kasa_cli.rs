//! End to end: the `plugctl` binary against `plugctl emulate kasa`, over loopback.

mod common;

use std::{collections::HashSet, time::Duration};

use common::{closed_port, plugctl, plugctl_with_guard, Emulator};

#[test]
fn state_on_off_toggle_read_back_from_the_device() {
    let emu = Emulator::kasa(&["--model", "hs110-hw4"], 1);
    let t = emu.first().target();
    let on = plugctl(&["on", &t, "--json"]).json();
    assert_eq!(on["on"], true);
    assert_eq!(on["family"], "kasa");
    assert_eq!(on["model"], "HS110(EU)");
    assert_eq!(plugctl(&["state", &t, "--json"]).json()["on"], true);
    assert_eq!(plugctl(&["off", &t, "--json"]).json()["on"], false);
    assert_eq!(plugctl(&["state", &t, "--json"]).json()["on"], false);
    assert_eq!(plugctl(&["toggle", &t, "--json"]).json()["on"], true);
    let text = plugctl(&["state", &t]).ok().to_string();
    assert!(text.contains("is ON") && text.contains("HS110(EU)"), "{text}");
    assert_eq!(plugctl(&["toggle", &t, "--json"]).json()["on"], false);
    assert!(plugctl(&["state", &t]).ok().contains("is OFF"));
}

#[test]
fn info_prints_the_whole_sysinfo() {
    let emu = Emulator::kasa(&["--model", "hs100-hw1"], 1);
    let d = emu.first();
    let info = plugctl(&["info", &d.target(), "--json"]).json();
    assert_eq!(info["model"], "HS100(US)");
    assert_eq!(info["type"], "IOT.SMARTPLUGSWITCH");
    assert_eq!(info["mac"], d.info["mac"]);
    assert_eq!(info["deviceId"].as_str().map(str::len), Some(40));
    assert!(info.get("err_code").is_none());
    let text = plugctl(&["info", &d.target()]).ok().to_string();
    assert!(text.lines().any(|l| l.starts_with("model") && l.contains("HS100(US)")), "{text}");
}

#[test]
fn energy_in_both_unit_schemes_is_normalised() {
    for model in ["hs110-hw1", "hs110-hw4", "kp115"] {
        let emu = Emulator::kasa(&["--model", model], 1);
        let t = emu.first().target();
        plugctl(&["on", &t]).ok();
        let e = plugctl(&["energy", &t, "--json"]).json();
        let p = e["power_w"].as_f64().expect("power_w");
        let v = e["voltage_v"].as_f64().expect("voltage_v");
        let a = e["current_a"].as_f64().expect("current_a");
        let k = e["total_kwh"].as_f64().expect("total_kwh");
        assert!(p > 1.0 && p < 4000.0, "{model}: power {p} W");
        assert!((100.0..260.0).contains(&v), "{model}: voltage {v} V");
        assert!(a > 0.0 && a * v >= p * 0.95, "{model}: {a} A × {v} V < {p} W");
        assert!(k >= 0.0, "{model}: total {k}");
        let text = plugctl(&["energy", &t]).ok().to_string();
        assert!(text.contains(" W") && text.contains("kWh"), "{text}");
        plugctl(&["off", &t]).ok();
        let e = plugctl(&["energy", &t, "--json"]).json();
        assert_eq!(e["power_w"].as_f64(), Some(0.0), "{model}: power while off");
        assert!(e["voltage_v"].as_f64().unwrap_or(0.0) > 100.0, "voltage still reported while off");
    }
}

#[test]
fn energy_on_a_plug_without_meter_is_a_clear_error() {
    let emu = Emulator::kasa(&["--model", "hs100-hw2"], 1);
    let r = plugctl(&["energy", &emu.first().target()]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("energy meter") || r.stderr.contains("module not support"), "{}", r.stderr);
    assert_eq!(r.stderr.trim().lines().count(), 1, "one-line error: {}", r.stderr);
}

#[test]
fn alias_get_and_set_with_unicode() {
    let emu = Emulator::kasa(&["--model", "hs100-hw2"], 1);
    let t = emu.first().target();
    let before = plugctl(&["alias", &t]).ok().trim().to_string();
    assert!(!before.is_empty());
    let name = "Küche 😽 “kettle”";
    assert_eq!(plugctl(&["alias", &t, name]).ok().trim(), name);
    assert_eq!(plugctl(&["alias", &t, "--json"]).json()["alias"], name);
    assert_eq!(plugctl(&["info", &t, "--json"]).json()["alias"], name);
}

#[test]
fn led_get_and_set() {
    let emu = Emulator::kasa(&["--model", "kp115"], 1);
    let t = emu.first().target();
    assert_eq!(plugctl(&["led", &t, "off"]).ok().trim(), "led off");
    assert_eq!(plugctl(&["led", &t, "--json"]).json()["led"], false);
    assert_eq!(plugctl(&["info", &t, "--json"]).json()["led_off"], 1);
    assert_eq!(plugctl(&["led", &t, "on", "--json"]).json()["led"], true);
    assert_eq!(plugctl(&["led", &t]).ok().trim(), "led on");
}

#[test]
fn reboot_replies_then_the_plug_comes_back() {
    let emu = Emulator::kasa(&["--model", "hs100-hw2"], 1);
    let t = emu.first().target();
    let r = plugctl(&["reboot", &t, "--delay", "1", "--json"]).json();
    assert_eq!(r["reboot_in_s"], 1);
    // The emulated plug goes away for a short while and answers again afterwards.
    let mut back = false;
    for _ in 0..60 {
        std::thread::sleep(Duration::from_millis(250));
        if plugctl(&["state", &t, "--timeout", "1"]).code == Some(0) {
            back = true;
            break;
        }
    }
    assert!(back, "plug did not come back after reboot");
}

#[test]
fn raw_prints_the_device_reply_verbatim() {
    let emu = Emulator::kasa(&["--model", "hs100-hw1"], 1);
    let t = emu.first().target();
    let r = plugctl(&[
        "raw",
        &t,
        r#"{"system":{"get_sysinfo":{},"no_such_method":{}},"emeter":{"get_realtime":{}}}"#,
        "--json",
    ])
    .json();
    assert_eq!(r["system"]["get_sysinfo"]["model"], "HS100(US)");
    assert_eq!(r["system"]["no_such_method"]["err_code"], -2);
    assert_eq!(r["system"]["no_such_method"]["err_msg"], "member not support");
    assert_eq!(r["emeter"]["err_code"], -1);
    assert_eq!(r["emeter"]["err_msg"], "module not support");
    let pretty = plugctl(&["raw", &t, r#"{"system":{"get_sysinfo":null}}"#]).ok().to_string();
    assert!(pretty.contains("\"get_sysinfo\""));
}

#[test]
fn strip_outlets_by_index_and_id() {
    let emu = Emulator::kasa(&["--model", "hs300"], 1);
    let t = emu.first().target();
    let s = plugctl(&["state", &t, "--json"]).json();
    let children = s["children"].as_array().expect("children").clone();
    assert_eq!(children.len(), 6);
    for c in &children {
        plugctl(&["on", &t, "--child", &c["index"].to_string()]).ok();
    }
    let off = plugctl(&["off", &t, "--child", "2", "--json"]).json();
    assert_eq!(off["on"], false);
    let s = plugctl(&["state", &t, "--json"]).json();
    let states: Vec<bool> = s["children"].as_array().unwrap().iter().map(|c| c["on"] == true).collect();
    assert_eq!(states, [true, true, false, true, true, true]);
    // by full id and by the 2-digit suffix
    let id3 = children[3]["id"].as_str().unwrap().to_string();
    assert_eq!(plugctl(&["off", &t, "--child", &id3, "--json"]).json()["on"], false);
    assert_eq!(plugctl(&["toggle", &t, "--child", "03", "--json"]).json()["on"], true);
    // per-outlet energy and alias
    let e = plugctl(&["energy", &t, "--child", "1", "--json"]).json();
    assert!(e["power_w"].as_f64().unwrap() > 0.0);
    assert_eq!(e["child"], children[1]["id"], "--json names the outlet by its full id");
    assert_eq!(plugctl(&["alias", &t, "Desk lamp", "--child", "4"]).ok().trim(), "Desk lamp");
    assert_eq!(plugctl(&["state", &t, "--json"]).json()["children"][4]["alias"], "Desk lamp");
    // text shows every outlet
    let text = plugctl(&["state", &t]).ok().to_string();
    assert_eq!(
        text.lines().filter(|l| l.contains(&children[0]["id"].as_str().unwrap()[..38])).count(),
        6,
        "{text}"
    );
}

#[test]
fn bad_arguments_exit_2_with_one_line() {
    let emu = Emulator::kasa(&["--model", "hs300"], 1);
    let t = emu.first().target();
    for args in [
        vec!["state", "127.0.0.1:notaport"],
        vec!["raw", "127.0.0.1", "{not json"],
        vec!["raw", "127.0.0.1", "[1,2]"],
        vec!["state", &t, "--child", "9"],
        vec!["state", "127.0.0.1", "--timeout", "-1"],
        vec!["alias", &t, ""],
        vec!["led", &t, "blue"],
        vec!["reboot", &t, "--delay", "0"],
        vec!["state", &t, "--retries", "11"],
    ] {
        let r = plugctl(&args);
        assert_eq!(r.code, Some(2), "{args:?}: {r:?}");
        assert!(!r.stderr.trim().is_empty(), "{args:?}");
    }
    let plug = Emulator::kasa(&["--model", "hs100-hw2"], 1);
    let r = plugctl(&["on", &plug.first().target(), "--child", "1"]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("not a strip"), "{}", r.stderr);
}

#[test]
fn refused_connection_is_reported_at_once() {
    let port = closed_port();
    let t = format!("127.0.0.1:{port}");
    // Family given: one connection attempt, no retry.
    let r =
        plugctl_with_guard(&["state", &t, "--family", "kasa", "--timeout", "20"], Duration::from_secs(15));
    assert_eq!(r.code, Some(1), "{r:?}");
    let err = r.stderr.trim();
    assert_eq!(err, format!("error: {t}: connection refused"));
    // Family probed: both probes refused, both reasons in one line.
    let r = plugctl_with_guard(&["state", &t, "--timeout", "20"], Duration::from_secs(15));
    assert_eq!(r.code, Some(1), "{r:?}");
    let err = r.stderr.trim();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("127.0.0.1") && err.contains(&port.to_string()), "{err}");
    assert_eq!(err.matches("refused").count(), 2, "{err}");
}

#[test]
fn discover_a_fleet_of_20_by_broadcast_on_loopback() {
    let emu = Emulator::kasa(&["--model", "hs110-hw4", "--count", "20"], 20);
    let port = emu.port().to_string();
    let lines =
        plugctl(&["discover", "--target", "127.255.255.255", "--port", &port, "--timeout", "2", "--json"])
            .json_lines();
    assert_eq!(lines.len(), 20, "{lines:#?}");
    let announced: HashSet<String> = emu.devices.iter().map(|d| d.host.clone()).collect();
    let hosts: HashSet<String> = lines.iter().map(|l| l["host"].as_str().unwrap().to_string()).collect();
    assert_eq!(hosts, announced);
    let macs: HashSet<&str> = lines.iter().map(|l| l["mac"].as_str().unwrap()).collect();
    assert_eq!(macs.len(), 20, "MACs must be unique");
    for l in &lines {
        assert_eq!(l["family"], "kasa");
        assert_eq!(l["model"], "HS110(EU)");
        assert_eq!(l["port"].as_u64(), Some(emu.port() as u64));
        assert!(l["alias"].is_string() && l["on"].is_boolean());
    }
    // text table: a header and one row per device
    let r = plugctl(&["discover", "--target", "127.255.255.255", "--port", &port, "--timeout", "1"]);
    let text = r.ok();
    assert!(text.starts_with("HOST"), "{text}");
    assert_eq!(text.lines().count(), 21, "{text}");
}

#[test]
fn discover_probes_explicit_hosts() {
    let emu = Emulator::kasa(&["--model", "kp115", "--count", "3"], 3);
    let port = emu.port().to_string();
    let mut args = vec!["discover", "--port", &port, "--timeout", "2", "--json"];
    let hosts: Vec<String> = emu.devices.iter().map(|d| d.host.clone()).collect();
    for h in &hosts {
        args.push("--host");
        args.push(h);
    }
    let lines = plugctl(&args).json_lines();
    assert_eq!(lines.len(), 3);
    assert!(lines.iter().all(|l| l["model"] == "KP115(US)"));
    // The same fields as broadcast discovery.
    for l in &lines {
        assert_eq!(l["device_id"].as_str().map(str::len), Some(40), "{l}");
        assert_eq!(l["hw_ver"], "1.0", "{l}");
        assert!(l["sw_ver"].is_string() && l["kind"] == "plug" && l["rssi"].is_i64(), "{l}");
    }
}

#[test]
fn emulate_lists_models() {
    let out = plugctl(&["emulate", "kasa", "--list-models"]).ok().to_string();
    for m in ["hs100-hw1", "hs100-hw2", "hs110-hw1", "hs110-hw4", "hs300", "kp115"] {
        assert!(out.contains(m), "{m} missing from {out}");
    }
    let r = plugctl(&["emulate", "kasa", "--model", "no-such-plug"]);
    assert_eq!(r.code, Some(2), "{r:?}");
}

#[test]
fn demo_discovers_switches_and_meters() {
    let r = plugctl_with_guard(&["demo"], Duration::from_secs(120));
    let out = r.ok();
    // Both families discovered in one table, every emulated device found.
    let rows: Vec<&str> = out.lines().filter(|l| l.starts_with("127.")).collect();
    assert!(rows.iter().any(|l| l.contains(" kasa ") && l.contains("HS110")), "{out}");
    assert!(rows.iter().any(|l| l.contains(" hf ") && l.contains("HF-LPB100")), "{out}");
    assert!(out.contains("Found 8 of 8 devices"), "{out}");
    // One plug of each family switched and metered.
    assert!(out.contains("Switched kasa") && out.contains("Switched hf"), "{out}");
    assert_eq!(out.matches("(read back from the plug)").count(), 2, "{out}");
    assert_eq!(out.matches("energy now:").count(), 2, "{out}");
}
