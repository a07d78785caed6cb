//! Interop: python-kasa (pinned 0.12.0 in .venv-interop, installed by scripts/test.sh) reads
//! the schedule rules `plugctl` wrote to our emulator through its own `Rule` model (which
//! needs `id`, `name`, `enable`, `wday`, `repeat` and valid `sact`/`stime_opt` values), and
//! changes them with its own calls, which `plugctl` then reads back.
//!
//! python-kasa's API is driven directly (`IotPlug`/`IotStrip` + `modules["schedule"]`):
//! its CLI `kasa schedule list` fails on every device in 0.12.0 (the command's
//! `pass_dev_or_child` wrapper is called without its `child`/`child_index` options).

mod common;

use std::process::Command;

use common::{
    plugctl,
    process::{python_kasa_python, run_guarded},
    Emulator,
};
use serde_json::Value;

/// Reads (and with `mutate`, changes) the schedule through python-kasa; prints JSON.
const SCRIPT: &str = r#"
import asyncio, json, sys
from kasa import DeviceConfig
from kasa.iot import IotPlug, IotStrip

async def main(host, port, kind, action, index):
    cls = IotStrip if kind == "strip" else IotPlug
    dev = cls(host, config=DeviceConfig(host, port_override=int(port)))
    await dev.update()
    target = dev.children[int(index)] if index != "-" else dev
    if index != "-":
        # python-kasa 0.12.0 strip sockets share their parent's nested module dicts
        # (`self._last_update = parent._last_update`), so after a strip update every socket
        # shows the last socket's rules; refresh the one we read.
        await target.update()
    sched = target.modules["schedule"]
    if action == "mutate":
        await sched.delete_rule(sched.rules[0])
        await sched.set_enabled(False)
        await dev.update()
    rules = [{"id": r.id, "name": r.name, "enable": r.enable, "wday": r.wday, "repeat": r.repeat,
              "sact": r.sact.name if r.sact else None, "stime_opt": r.stime_opt.name if r.stime_opt else None,
              "smin": r.smin} for r in sched.rules]
    print(json.dumps({"rules": rules}))
    await dev.disconnect()

asyncio.run(main(*sys.argv[1:]))
"#;

/// Runs the script; returns its JSON and stderr (python-kasa logs rule parse errors there).
fn python_kasa(host: &str, port: u16, kind: &str, action: &str, index: Option<usize>) -> (Value, String) {
    let idx = index.map_or("-".to_string(), |i| i.to_string());
    let mut cmd = Command::new(python_kasa_python());
    cmd.args(["-c", SCRIPT, host, &port.to_string(), kind, action, &idx]);
    let (ok, stdout, stderr) = run_guarded(cmd, "python-kasa");
    assert!(ok, "python-kasa failed:\n{stdout}\n{stderr}");
    let v =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{stderr}"));
    (v, stderr)
}

#[test]
fn python_kasa_reads_and_changes_rules_plugctl_added() {
    let emu = Emulator::kasa(&["--model", "hs110-hw4"], 1);
    let d = emu.first();
    let t = d.target();
    let add = |args: &[&str]| -> String {
        let mut full = vec!["schedule", t.as_str(), "add", "--json"];
        full.extend_from_slice(args);
        plugctl(&full).json()["added"]["id"].as_str().unwrap().to_string()
    };
    let wake = add(&["--at", "07:30", "--days", "mon-fri", "--on", "--name", "wake"]);
    let dusk = add(&["--sunset", "--offset", "-15m", "--off", "--name", "dusk"]);
    let once = add(&["--at", "23:00", "--date", "2099-12-31", "--off"]);

    let (v, stderr) = python_kasa(&d.host, d.port, "plug", "list", None);
    assert!(!stderr.contains("Unable to read rule list"), "{stderr}");
    let rules = v["rules"].as_array().unwrap();
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [wake.as_str(), dusk.as_str(), once.as_str()]);
    let r0 = &rules[0];
    assert_eq!(
        (r0["name"].as_str(), r0["sact"].as_str(), r0["stime_opt"].as_str()),
        (Some("wake"), Some("TurnOn"), Some("Enabled"))
    );
    assert_eq!(r0["wday"], serde_json::json!([0, 1, 1, 1, 1, 1, 0]));
    assert_eq!(r0["smin"], 450);
    assert_eq!(
        (rules[1]["stime_opt"].as_str(), rules[1]["sact"].as_str()),
        (Some("AtSunset"), Some("TurnOff"))
    );
    assert_eq!(rules[2]["repeat"], 0);

    // python-kasa deletes the first rule and switches the schedule off (it sends booleans).
    let (v, _) = python_kasa(&d.host, d.port, "plug", "mutate", None);
    assert_eq!(v["rules"].as_array().unwrap().len(), 2);
    let ours = plugctl(&["schedule", &t, "list", "--json"]).json();
    assert_eq!(ours["enabled"], false, "{ours}");
    let left: Vec<&str> =
        ours["rules"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(left, [dusk.as_str(), once.as_str()]);
}

#[test]
fn python_kasa_reads_a_strip_outlet_schedule() {
    let emu = Emulator::kasa(&["--model", "hs300"], 1);
    let d = emu.first();
    let t = d.target();
    let a =
        plugctl(&["schedule", &t, "--child", "1", "add", "--sunrise", "--offset", "+1h", "--on", "--json"])
            .json();
    let id = a["added"]["id"].as_str().unwrap().to_string();
    let (v, stderr) = python_kasa(&d.host, d.port, "strip", "list", Some(1));
    assert!(!stderr.contains("Unable to read rule list"), "{stderr}");
    assert_eq!(v["rules"][0]["id"], id.as_str(), "{v}");
    assert_eq!(v["rules"][0]["stime_opt"], "AtSunrise");
    let (v, _) = python_kasa(&d.host, d.port, "strip", "list", Some(0));
    assert_eq!(v["rules"], serde_json::json!([]), "outlet 0 has none");
}
