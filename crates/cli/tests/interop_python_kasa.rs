//! Interop: python-kasa (pinned, installed by scripts/test.sh into .venv-interop) drives our
//! emulator, unchanged. Software nobody here wrote is the judge of protocol fidelity.

mod common;

use common::{
    plugctl,
    process::{python_kasa_command, run_guarded},
    Emulator,
};

/// Runs `kasa ARGS`; returns (success, stdout+stderr).
fn kasa(args: &[&str]) -> (bool, String) {
    let mut cmd = python_kasa_command();
    cmd.args(args);
    let (ok, out, err) = run_guarded(cmd, &format!("kasa {args:?}"));
    let text = format!("{out}{err}");
    (ok && !text.contains("Traceback"), text)
}

fn kasa_ok(args: &[&str]) -> String {
    let (ok, text) = kasa(args);
    assert!(ok, "kasa {args:?} failed:\n{text}");
    text
}

#[test]
fn python_kasa_controls_an_emulated_hs110() {
    let emu = Emulator::kasa(&["--model", "hs110-hw4"], 1);
    let d = emu.first();
    let port = d.port.to_string();
    let base = ["--host", d.host.as_str(), "--port", port.as_str(), "--type", "plug"];
    let with = |rest: &[&str]| -> Vec<String> { base.iter().chain(rest).map(|s| s.to_string()).collect() };
    let run = |rest: &[&str]| {
        let a = with(rest);
        kasa_ok(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };

    let state = run(&["state"]);
    assert!(state.contains("HS110"), "{state}");

    run(&["off"]);
    assert_eq!(plugctl(&["state", &d.target(), "--json"]).json()["on"], false);
    run(&["on"]);
    assert_eq!(plugctl(&["state", &d.target(), "--json"]).json()["on"], true);

    run(&["alias", "Set by python-kasa"]);
    assert_eq!(plugctl(&["alias", &d.target()]).ok().trim(), "Set by python-kasa");
    let alias = run(&["alias"]);
    assert!(alias.contains("Set by python-kasa"), "{alias}");

    run(&["led", "off"]);
    assert_eq!(plugctl(&["led", &d.target(), "--json"]).json()["led"], false);
    let led = run(&["led"]);
    assert!(led.to_lowercase().contains("off") || led.contains("False"), "{led}");

    let energy = run(&["energy"]);
    let ours = plugctl(&["energy", &d.target(), "--json"]).json();
    assert!(ours["power_w"].as_f64().unwrap() > 0.0);
    assert!(energy.contains('W') && energy.to_lowercase().contains("voltage"), "{energy}");
}

#[test]
fn python_kasa_reads_float_unit_emeter() {
    let emu = Emulator::kasa(&["--model", "hs110-hw1"], 1);
    let d = emu.first();
    let port = d.port.to_string();
    plugctl(&["on", &d.target()]).ok();
    let out = kasa_ok(&["--host", &d.host, "--port", &port, "--type", "plug", "energy"]);
    assert!(out.to_lowercase().contains("voltage"), "{out}");
}

#[test]
fn python_kasa_raw_command() {
    let emu = Emulator::kasa(&["--model", "hs100-hw2"], 1);
    let d = emu.first();
    let port = d.port.to_string();
    let out = kasa_ok(&[
        "--host",
        &d.host,
        "--port",
        &port,
        "--type",
        "plug",
        "command",
        "--module",
        "system",
        "get_sysinfo",
    ]);
    assert!(out.contains("HS100(US)"), "{out}");
    assert!(out.contains(d.info["mac"].as_str().unwrap()), "{out}");
}

#[test]
fn python_kasa_drives_a_strip() {
    let emu = Emulator::kasa(&["--model", "hs300"], 1);
    let d = emu.first();
    let port = d.port.to_string();
    let out = kasa_ok(&["--host", &d.host, "--port", &port, "--type", "strip", "state"]);
    assert!(out.contains("HS300"), "{out}");
    kasa_ok(&["--host", &d.host, "--port", &port, "--type", "strip", "off", "--index", "1"]);
    let s = plugctl(&["state", &d.target(), "--json"]).json();
    assert_eq!(s["children"][1]["on"], false, "{s}");
}

#[test]
fn python_kasa_discovers_every_device_of_a_fleet() {
    let emu = Emulator::kasa(&["--model", "kp115", "--count", "12"], 12);
    let port = emu.port().to_string();
    let out = kasa_ok(&[
        "--target",
        "127.255.255.255",
        "--port",
        &port,
        "--discovery-timeout",
        "3",
        "discover",
        "list",
    ]);
    for d in &emu.devices {
        assert!(out.contains(&d.host), "{} missing from python-kasa discovery:\n{out}", d.host);
    }
}
