//! End to end: the `plugctl` binary against `plugctl emulate hf` (Hi-Flying HF-LPB100 plugs)
//! over loopback, through the same commands as Kasa plugs.

mod common;

use std::{collections::HashSet, time::Duration};

use common::{plugctl, Emulator};

/// `--family hf --udp-port P` for a plug.
fn hf_flags(d: &common::EmuDevice) -> Vec<String> {
    vec!["--family".into(), "hf".into(), "--udp-port".into(), d.udp_port()]
}

fn run(cmd: &[&str], extra: &[String]) -> common::Run {
    let mut args: Vec<&str> = cmd.to_vec();
    args.extend(extra.iter().map(String::as_str));
    plugctl(&args)
}

#[test]
fn switch_state_energy_info_on_a_hi_flying_plug() {
    let emu = Emulator::hf(&[], 1);
    let d = emu.first();
    let t = d.target();
    let f = hf_flags(d);
    let on = run(&["on", &t, "--json"], &f).json();
    assert_eq!(on["on"], true);
    assert_eq!(on["family"], "hf");
    assert_eq!(on["model"], "HF-LPB100");
    assert_eq!(on["mac"], d.info["mac"]);
    assert_eq!(on["serial"], d.info["serial"]);
    assert_eq!(run(&["state", &t, "--json"], &f).json()["on"], true);
    assert_eq!(run(&["off", &t, "--json"], &f).json()["on"], false);
    assert_eq!(run(&["toggle", &t, "--json"], &f).json()["on"], true);
    let text = run(&["state", &t], &f).ok().to_string();
    assert!(text.contains("is ON") && text.contains("HF-LPB100"), "{text}");

    let e = run(&["energy", &t, "--json"], &f).json();
    assert_eq!(e["family"], "hf");
    let (p, v, a) =
        (e["power_w"].as_f64().unwrap(), e["voltage_v"].as_f64().unwrap(), e["current_a"].as_f64().unwrap());
    assert!(p > 0.0 && (200.0..260.0).contains(&v) && a * v >= p * 0.99, "{e}");
    assert!((49.0..51.0).contains(&e["frequency_hz"].as_f64().unwrap()), "{e}");
    run(&["off", &t], &f).ok();
    let e = run(&["energy", &t, "--json"], &f).json();
    assert_eq!(e["power_w"].as_f64(), Some(0.0), "{e}");
    assert!(e["voltage_v"].as_f64().unwrap() > 200.0, "voltage still reported while off: {e}");

    let info = run(&["info", &t, "--json"], &f).json();
    assert_eq!(info["state"]["serial"], d.info["serial"]);
    assert!(info["measurement"]["voltage_v"].as_f64().unwrap() > 200.0, "{info}");
    let text = run(&["info", &t], &f).ok().to_string();
    assert!(text.contains("measurement.voltage_v"), "{text}");
}

#[test]
fn the_family_is_detected_by_probing() {
    let hf = Emulator::hf(&[], 1);
    let d = hf.first();
    // No --family: the Kasa probe fails on the AT port, the Hi-Flying probe answers.
    let s = plugctl(&["state", &d.target(), "--udp-port", &d.udp_port(), "--json"]).json();
    assert_eq!(s["family"], "hf");
    let kasa = Emulator::kasa(&["--model", "kp115"], 1);
    let s = plugctl(&["state", &kasa.first().target(), "--json"]).json();
    assert_eq!(s["family"], "kasa");
    // Nothing at all: both reasons in one line.
    let port = common::closed_port().to_string();
    let r = plugctl(&["state", &format!("127.0.0.1:{port}"), "--timeout", "1"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("Kasa") && r.stderr.contains("Hi-Flying"), "{}", r.stderr);
    assert_eq!(r.stderr.trim().lines().count(), 1, "{}", r.stderr);
}

#[test]
fn raw_at_lines_go_to_hi_flying_plugs() {
    let emu = Emulator::hf(&[], 1);
    let d = emu.first();
    let t = d.target();
    let f = hf_flags(d);
    let out = run(&["raw", &t, "AT+YZOUT"], &f).ok().to_string();
    assert!(out.starts_with("+ok=") && out.trim().split(',').count() == 7, "{out}");
    let j = run(&["raw", &t, "AT+YZSWITCH=1,ON,201704031153", "--json"], &f).json();
    assert_eq!(j["reply"], "+ok");
    assert_eq!(run(&["state", &t, "--json"], &f).json()["on"], true);
    assert_eq!(run(&["raw", &t, "HELLO-not-AT"], &f).code, Some(2));
    let bogus = run(&["raw", &t, "AT+NOPE"], &f).ok().to_string();
    assert_eq!(bogus.trim(), "+ERROR");
    // Without --family an AT line still goes to the Hi-Flying port given.
    let out = plugctl(&["raw", &t, "at+yzout", "--udp-port", &d.udp_port()]).ok().to_string();
    assert!(out.starts_with("+ok="), "{out}");
    let r = run(&["raw", &t, r#"{"system":{"get_sysinfo":{}}}"#], &f);
    assert_eq!(r.code, Some(2), "{r:?}");
}

#[test]
fn kasa_only_features_give_clear_errors_on_hi_flying_plugs() {
    let emu = Emulator::hf(&[], 1);
    let d = emu.first();
    let t = d.target();
    let f = hf_flags(d);
    for cmd in [vec!["alias", &t as &str], vec!["led", &t], vec!["reboot", &t]] {
        let r = run(&cmd, &f);
        assert_eq!(r.code, Some(1), "{cmd:?}: {r:?}");
        assert!(r.stderr.contains("Hi-Flying plugs have no"), "{}", r.stderr);
    }
    let r = run(&["on", &t, "--child", "1"], &f);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("single outlet"), "{}", r.stderr);
}

/// `discover --host` with a bare address and no `--family` probes each family on its own
/// port: a Hi-Flying plug is found on `--hf-control-port`, not on the Kasa `--port`.
#[test]
fn discover_host_without_port_finds_a_hi_flying_plug() {
    let hf = Emulator::hf(&["--base", "127.0.4.40"], 1);
    let h = hf.first();
    let lines = plugctl(&[
        "discover",
        "--host",
        &h.host,
        "--hf-port",
        &h.udp_port(),
        "--hf-control-port",
        &h.port.to_string(),
        "--timeout",
        "1",
        "--json",
    ])
    .json_lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(lines[0]["family"], "hf", "{lines:#?}");
    assert_eq!(lines[0]["port"].as_u64(), Some(h.port as u64));
}

#[test]
fn discover_finds_10_kasa_and_10_hi_flying_plugs_in_one_call() {
    let kasa = Emulator::kasa(&["--model", "hs110-hw4", "--count", "10", "--base", "127.0.3.2"], 10);
    let hf = Emulator::hf(&["--count", "10", "--base", "127.0.4.2"], 10);
    let h = hf.first();
    let args = [
        "discover",
        "--target",
        "127.255.255.255",
        "--port",
        &kasa.port().to_string(),
        "--hf-port",
        &h.udp_port(),
        "--hf-control-port",
        &h.port.to_string(),
        "--timeout",
        "2",
        "--json",
    ]
    .map(String::from);
    let lines = plugctl(&args.iter().map(String::as_str).collect::<Vec<_>>()).json_lines();
    let by = |fam: &str| -> HashSet<String> {
        lines.iter().filter(|l| l["family"] == fam).map(|l| l["host"].as_str().unwrap().to_string()).collect()
    };
    let want_kasa: HashSet<String> = kasa.devices.iter().map(|d| d.host.clone()).collect();
    let want_hf: HashSet<String> = hf.devices.iter().map(|d| d.host.clone()).collect();
    assert_eq!(by("kasa"), want_kasa, "{lines:#?}");
    assert_eq!(by("hf"), want_hf, "{lines:#?}");
    assert_eq!(lines.len(), 20, "no duplicates: {lines:#?}");
    for l in lines.iter().filter(|l| l["family"] == "hf") {
        assert_eq!(l["port"].as_u64(), Some(h.port as u64));
        assert_eq!(l["model"], "HF-LPB100");
        assert!(l["mac"].as_str().unwrap().starts_with("ACCF23"), "{l}");
        assert!(l["alias"].is_string() && l["on"].is_boolean() && l["serial"].is_string());
    }
    // --family narrows it down
    let mut only = args.to_vec();
    only.extend(["--family".to_string(), "hf".to_string()]);
    let lines = plugctl(&only.iter().map(String::as_str).collect::<Vec<_>>()).json_lines();
    assert_eq!(lines.len(), 10);
    assert!(lines.iter().all(|l| l["family"] == "hf"));
}

/// The whole set-up story: a plug fresh out of the box (AP mode, only on its own access
/// point) is put on the home network with `wifi join`, reappears there, and is switched.
#[test]
fn ap_mode_plug_joins_the_home_network_and_is_switched_there() {
    let emu = Emulator::hf(&["--mode", "ap", "--base", "127.0.5.2", "--home-base", "127.0.6.2"], 1);
    let d = emu.first();
    assert_eq!(d.info["mode"], "ap");
    let home = d.info["home_ip"].as_str().unwrap().to_string();
    assert_eq!(home, "127.0.6.2");
    let f = hf_flags(d);

    let scan = run(&["wifi", "scan", &d.host, "--json"], &f).json();
    let nets = scan["networks"].as_array().expect("networks");
    assert!(nets.len() >= 2, "{scan}");
    let home_net = nets.iter().find(|n| n["ssid"] == "HomeNet").expect("HomeNet listed");
    assert!(home_net["security"].as_str().unwrap().contains("WPA2"), "{home_net}");
    assert!(nets.iter().any(|n| n["ssid"].as_str().unwrap().contains(',')), "an SSID with a comma: {scan}");
    let table = run(&["wifi", "scan", &d.host], &f).ok().to_string();
    assert!(table.starts_with("SSID") && table.contains("HomeNet"), "{table}");

    // Not on the home network yet.
    let at_home = format!("{home}:{}", d.port);
    let r = run(&["state", &at_home, "--timeout", "1", "--retries", "0"], &f);
    assert_eq!(r.code, Some(1), "{r:?}");

    let joined =
        run(&["wifi", "join", &d.host, "HomeNet", "--password", "correct horse battery", "--json"], &f)
            .json();
    assert_eq!(joined["sent"], true);
    assert_eq!(joined["family"], "hf");

    // The plug reboots and reappears at its home address with the same MAC and serial.
    let hp = d.udp_port();
    let mut seen = None;
    for _ in 0..60 {
        let lines = plugctl(&[
            "discover",
            "--family",
            "hf",
            "--target",
            "127.255.255.255",
            "--hf-port",
            &hp,
            "--hf-control-port",
            &d.port.to_string(),
            "--timeout",
            "0.5",
            "--json",
        ])
        .json_lines();
        if let Some(l) = lines.into_iter().find(|l| l["host"] == home.as_str()) {
            seen = Some(l);
            break;
        }
    }
    let seen = seen.expect("plug reappeared at its home address");
    assert_eq!(seen["mac"], d.info["mac"]);
    assert_eq!(seen["serial"], d.info["serial"]);
    assert_eq!(run(&["on", &at_home, "--json"], &f).json()["on"], true);
    assert_eq!(run(&["state", &at_home, "--json"], &f).json()["on"], true);

    // Joined plugs refuse a second join: they are in STA mode now.
    let r = run(&["wifi", "join", &home, "HomeNet", "--password", "correct horse battery"], &f);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("STA mode"), "{}", r.stderr);
}

#[test]
fn a_wrong_key_leaves_the_plug_on_its_access_point() {
    let emu = Emulator::hf(&["--mode", "ap", "--base", "127.0.7.2", "--home-base", "127.0.8.2"], 1);
    let d = emu.first();
    let f = hf_flags(d);
    run(&["wifi", "join", &d.host, "HomeNet", "--password", "wrong password!"], &f).ok();
    // After its reboot the plug is back on the AP address, not at home.
    let mut back = false;
    for _ in 0..60 {
        std::thread::sleep(Duration::from_millis(100));
        if run(&["state", &d.target(), "--timeout", "0.5", "--retries", "0"], &f).code == Some(0) {
            back = true;
            break;
        }
    }
    assert!(back, "plug came back on its AP address");
    let home = format!("{}:{}", d.info["home_ip"].as_str().unwrap(), d.port);
    assert_eq!(run(&["state", &home, "--timeout", "0.5", "--retries", "0"], &f).code, Some(1));
}

#[test]
fn wifi_join_validates_before_sending() {
    let emu = Emulator::hf(&["--mode", "ap", "--base", "127.0.9.2", "--home-base", "127.0.10.2"], 1);
    let d = emu.first();
    let f = hf_flags(d);
    let long = "x".repeat(33);
    for (args, needle) in [
        (vec!["wifi", "join", &d.host as &str, &long, "--password", "correct horse battery"], "32 bytes"),
        (vec!["wifi", "join", &d.host, "HomeNet", "--password", "short77"], "password"),
        (vec!["wifi", "join", &d.host, "OpenCafe", "--security", "open", "--password", "secret123"], "open"),
        (vec!["wifi", "join", &d.host, "HomeNet"], "needs --password"),
        (vec!["wifi", "join", &d.host, "HomeNet", "--password", "x", "--security", "wep"], "wep"),
    ] {
        let r = run(&args, &f);
        assert_eq!(r.code, Some(2), "{args:?}: {r:?}");
        assert!(r.stderr.to_lowercase().contains(&needle.to_lowercase()), "{args:?}: {}", r.stderr);
    }
    // The plug is untouched: still in AP mode, so a wrong assist password is the next error.
    let r = run(
        &[
            "wifi",
            "scan",
            &d.host,
            "--assist-password",
            "not-the-password",
            "--timeout",
            "0.5",
            "--retries",
            "0",
        ],
        &f,
    );
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.to_lowercase().contains("password"), "{}", r.stderr);
}

#[test]
fn kasa_wifi_scan_and_join() {
    let emu = Emulator::kasa(&["--model", "hs110-hw4"], 1);
    let t = emu.first().target();
    let scan = plugctl(&["wifi", "scan", &t, "--json"]).json();
    assert_eq!(scan["family"], "kasa");
    let nets = scan["networks"].as_array().expect("networks");
    assert!(!nets.is_empty(), "{scan}");
    let ssid = nets[0]["ssid"].as_str().unwrap().to_string();
    let j = plugctl(&["wifi", "join", &t, &ssid, "--password", "correct horse battery", "--json"]).json();
    assert_eq!(j["sent"], true);
    let r = plugctl(&["wifi", "join", &t, &"y".repeat(40), "--password", "correct horse battery"]);
    assert_eq!(r.code, Some(2), "{r:?}");
}
