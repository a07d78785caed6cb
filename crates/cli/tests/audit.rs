//! `plugctl audit` against real emulators on loopback: a mixed fleet found by broadcast
//! (Hi-Flying plugs with factory and changed passwords, Kasa plugs bound and unbound to the
//! cloud, one with a wrong clock), plugs on newer (KLAP) firmware, silent addresses; the
//! fix commands the audit prints are run and must make their findings go away; the Wi-Fi
//! key never appears without `--show-secrets`.

mod common;

use std::{net::UdpSocket, time::Duration};

use common::{closed_port, plugctl, plugctl_with_guard, EmuDevice, Emulator, Run};
use plugctl_emulator::hf::config::HOME_KEY;
use serde_json::Value;

/// Exit code for "risks found".
const RISKS: Option<i32> = Some(3);

/// The loopback broadcast address the emulators answer discovery on.
const BROADCAST: &str = "127.255.255.255";

/// Runs `plugctl audit ARGS` (with a generous hang guard).
fn audit(args: &[&str]) -> Run {
    let mut all = vec!["audit"];
    all.extend_from_slice(args);
    plugctl_with_guard(&all, Duration::from_secs(90))
}

/// Parses the one JSON document `audit --json` prints, whatever the exit code.
fn doc(r: &Run) -> Value {
    serde_json::from_str(r.stdout.trim())
        .unwrap_or_else(|e| panic!("not one JSON document ({e})\nstdout: {}\nstderr: {}", r.stdout, r.stderr))
}

/// The plug entry for `host`.
fn plug<'a>(d: &'a Value, host: &str) -> &'a Value {
    d["plugs"]
        .as_array()
        .expect("plugs")
        .iter()
        .find(|p| p["host"] == host)
        .unwrap_or_else(|| panic!("{host} not in the report: {d}"))
}

/// The finding `check` of a plug entry.
fn finding<'a>(p: &'a Value, check: &str) -> &'a Value {
    p["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["check"] == check)
        .unwrap_or_else(|| panic!("no {check} finding: {p}"))
}

fn severity<'a>(p: &'a Value, check: &str) -> &'a str {
    finding(p, check)["severity"].as_str().expect("severity")
}

fn no_finding(p: &Value, check: &str) -> bool {
    p["findings"].as_array().expect("findings").iter().all(|f| f["check"] != check)
}

/// Talks the Hi-Flying assist protocol to `d`: factory password, `+ok`, then each command
/// (each must be answered `+ok`).
fn assist(d: &EmuDevice, commands: &[&str]) {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let to = format!("{}:{}", d.host, d.udp_port());
    let mut buf = [0u8; 512];
    s.send_to(b"HF-A11ASSISTHREAD", &to).expect("send");
    let n = s.recv(&mut buf).expect("answer to the assist password");
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with(&d.host));
    s.send_to(b"+ok", &to).expect("send");
    for c in commands {
        s.send_to(format!("{c}\r").as_bytes(), &to).expect("send");
        let n = s.recv(&mut buf).expect("AT reply");
        assert!(buf[..n].starts_with(b"+ok"), "{c}: {}", String::from_utf8_lossy(&buf[..n]));
    }
}

/// Runs a fix command printed by the audit (`plugctl …`, no quoting needed for Kasa fixes).
fn run_fix(fix: &str) {
    let words: Vec<&str> = fix.split_whitespace().collect();
    assert_eq!(words.first(), Some(&"plugctl"), "{fix}");
    plugctl(&words[1..]).ok();
}

struct Fleet {
    hf: Emulator,
    kasa: Emulator,
}

impl Fleet {
    /// Two Hi-Flying plugs with a web page, three Kasa HS110s; discovery on loopback.
    fn start() -> Self {
        let hf = Emulator::hf(&["-n", "2", "--base", "127.0.71.2", "--http-port", "0"], 2);
        let kasa = Emulator::kasa(&["-n", "3", "--base", "127.0.71.10", "--model", "hs110-hw4"], 3);
        Fleet { hf, kasa }
    }

    fn args(&self) -> Vec<String> {
        let h = self.hf.first();
        let port = |k: &str| h.info[k].as_u64().unwrap_or_else(|| panic!("{k}: {}", h.info)).to_string();
        vec![
            "--target".into(),
            BROADCAST.into(),
            "--port".into(),
            self.kasa.port().to_string(),
            "--hf-port".into(),
            port("udp_port"),
            "--hf-control-port".into(),
            h.port.to_string(),
            "--http-port".into(),
            port("http_port"),
            "--timeout".into(),
            "2".into(),
        ]
    }

    fn audit(&self, extra: &[&str]) -> Run {
        let args = self.args();
        let mut all: Vec<&str> = args.iter().map(String::as_str).collect();
        all.extend_from_slice(extra);
        audit(&all)
    }
}

#[test]
fn a_mixed_fleet_gets_the_right_findings_and_fixes() {
    let fleet = Fleet::start();
    let (hf_default, hf_changed) = (&fleet.hf.devices[0], &fleet.hf.devices[1]);
    let kasa = &fleet.kasa.devices;
    let (unbound, bound, late) = (&kasa[0], &kasa[1], &kasa[2]);

    // Set-up through the plugs' own protocols: the owner of the second Hi-Flying plug changed
    // its web login and assist password; the first runs its access point beside the home
    // network; one Kasa plug is bound to a cloud account, another's clock is years off.
    assist(hf_default, &["AT+WMODE=APSTA"]);
    assist(hf_changed, &["AT+WEBU=owner,n3w-web-pw", "AT+ASWD=n3w-assist-pw"]);
    plugctl(&["cloud", &bound.target(), "bind", "--user", "me@example.com", "--password", "pw"]).ok();
    plugctl(&["time", &late.target(), "set", "--at", "2016-01-01 10:10:10"]).ok();

    let r = fleet.audit(&["--json"]);
    assert_eq!(r.code, RISKS, "{r:?}");
    let d = doc(&r);
    assert_eq!(d["risks_found"], true);
    assert_eq!(d["summary"]["plugs"], 5, "{d}");
    assert!(!r.stdout.contains(HOME_KEY), "the Wi-Fi key leaked: {}", r.stdout);

    // Hi-Flying, factory settings.
    let p = plug(&d, &hf_default.host);
    assert_eq!(p["family"], "hf");
    assert_eq!(severity(p, "reachable"), "ok");
    assert_eq!(severity(p, "local-protocol"), "info");
    let udp = hf_default.udp_port();
    let assist_pw = finding(p, "assist-password");
    assert_eq!(assist_pw["severity"], "risk");
    let new_assist = assist_pw["fix"].as_str().unwrap().to_string();
    assert_eq!(
        new_assist,
        format!("plugctl hf-passwords {} --udp-port {udp} --new-assist-password <NEW>", hf_default.host)
    );
    let key = finding(p, "wifi-key");
    assert_eq!(key["severity"], "risk");
    let detail = key["detail"].as_str().unwrap();
    assert!(
        detail.contains("WPA2PSK,AES") && detail.contains(&format!("{} characters", HOME_KEY.len())),
        "{detail}"
    );
    assert!(detail.contains("HomeNet"), "{detail}");
    let web = finding(p, "web-password");
    assert_eq!(web["severity"], "risk");
    assert!(web["detail"].as_str().unwrap().contains("ADMIN/ADMIN"), "{web}");
    assert!(web["advice"].as_str().unwrap().contains("AT+WEBU"), "{web}");
    let new_web = web["fix"].as_str().unwrap().to_string();
    assert_eq!(
        new_web,
        format!(
            "plugctl hf-passwords {} --udp-port {udp} --web-user <USER> --web-password <PASSWORD>",
            hf_default.host
        )
    );
    let ap = finding(p, "access-point");
    assert_eq!(ap["severity"], "risk", "{ap}");
    assert!(ap["detail"].as_str().unwrap().contains("APSTA"));
    assert_eq!(
        ap["fix"].as_str().unwrap(),
        format!(
            "plugctl wifi join {}:{} HomeNet --family hf --udp-port {udp} --password <KEY>",
            hf_default.host, hf_default.port
        )
    );

    // Hi-Flying, passwords changed: the factory ones get nowhere.
    let p = plug(&d, &hf_changed.host);
    for check in ["assist-password", "wifi-key", "web-password"] {
        assert_eq!(severity(p, check), "ok", "{check}: {p}");
    }
    assert!(no_finding(p, "access-point"), "unknowable without the assist password: {p}");

    // Kasa: every plug gets the protocol note; cloud and clock where due.
    for k in kasa {
        let p = plug(&d, &k.host);
        assert_eq!(p["family"], "kasa");
        assert_eq!(p["port"], fleet.kasa.port());
        let proto = finding(p, "local-protocol");
        assert_eq!(proto["severity"], "info");
        assert!(proto["detail"].as_str().unwrap().contains("XOR"), "{proto}");
        assert_eq!(severity(p, "firmware"), "ok", "{p}");
    }
    let p = plug(&d, &unbound.host);
    assert_eq!((severity(p, "cloud"), severity(p, "clock")), ("ok", "ok"), "{p}");
    let p = plug(&d, &bound.host);
    let cloud = finding(p, "cloud");
    assert_eq!(cloud["severity"], "risk");
    assert!(cloud["detail"].as_str().unwrap().contains("devs.tplinkcloud.com"), "{cloud}");
    assert!(cloud["detail"].as_str().unwrap().contains("me@example.com"), "{cloud}");
    let unbind = cloud["fix"].as_str().unwrap().to_string();
    assert_eq!(unbind, format!("plugctl cloud {} unbind", bound.target()));
    assert_eq!(severity(p, "clock"), "ok");
    let p = plug(&d, &late.host);
    let clock = finding(p, "clock");
    assert_eq!(clock["severity"], "risk");
    assert!(clock["detail"].as_str().unwrap().contains("behind"), "{clock}");
    let sync = clock["fix"].as_str().unwrap().to_string();
    assert_eq!(sync, format!("plugctl time {} sync", late.target()));
    assert_eq!(severity(p, "cloud"), "ok");

    // The human report says the same, without the key.
    let text = fleet.audit(&[]);
    assert_eq!(text.code, RISKS);
    assert!(!text.stdout.contains(HOME_KEY), "{}", text.stdout);
    assert!(text.stdout.contains(&format!("fix: {unbind}")), "{}", text.stdout);
    assert!(text.stdout.contains(&format!("fix: {sync}")), "{}", text.stdout);
    assert!(text.stdout.contains("5 plug(s)"), "{}", text.stdout);
    // With --show-secrets the key is shown.
    let shown = fleet.audit(&["--json", "--show-secrets"]);
    assert!(finding(plug(&doc(&shown), &hf_default.host), "wifi-key")["detail"]
        .as_str()
        .unwrap()
        .contains(HOME_KEY));

    // The printed fixes work: after running them (placeholders filled in) the findings are gone.
    run_fix(&unbind);
    run_fix(&sync);
    run_fix(&new_web.replace("<USER>", "owner").replace("<PASSWORD>", "s3cret-web"));
    run_fix(&new_assist.replace("<NEW>", "s3cret-assist"));
    let r = fleet.audit(&["--json"]);
    let d = doc(&r);
    assert_eq!(d["summary"]["plugs"], 5, "{d}");
    assert_eq!(severity(plug(&d, &bound.host), "cloud"), "ok");
    assert_eq!(severity(plug(&d, &late.host), "clock"), "ok");
    let p = plug(&d, &hf_default.host);
    for check in ["assist-password", "wifi-key", "web-password"] {
        assert_eq!(severity(p, check), "ok", "{check}: {p}");
    }
    // Nothing is left: with the factory assist password gone, the access point cannot be
    // checked any more (nor re-pointed by a stranger).
    assert!(no_finding(p, "access-point"), "{p}");
    assert_eq!(d["summary"]["risk"], 0, "{d}");
    assert_eq!(r.code, Some(0), "{r:?}");
}

#[test]
fn hf_passwords_needs_the_current_assist_password_and_checks_values() {
    let hf = Emulator::hf(&["--base", "127.0.74.2"], 1);
    let h = hf.first();
    let udp = h.udp_port();
    let base =
        ["hf-passwords", h.host.as_str(), "--udp-port", udp.as_str(), "--timeout", "1", "--retries", "0"];
    let with = |extra: &[&str]| {
        let mut a = base.to_vec();
        a.extend_from_slice(extra);
        plugctl(&a)
    };
    // Invalid values are refused before anything is sent; the password is not echoed.
    let r = with(&["--web-user", "owner", "--web-password", "a,b"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("printable ASCII") && !r.stderr.contains("a,b"), "{}", r.stderr);
    let r = with(&[]);
    assert_eq!(r.code, Some(2), "{r:?}");
    // Change the assist password, then the factory one no longer opens the plug.
    let r = with(&["--new-assist-password", "n3w-assist", "--json"]);
    let v: Value = serde_json::from_str(r.ok().trim()).expect("JSON");
    assert_eq!(v["assist_password_changed"], true, "{v}");
    let r = with(&["--web-user", "owner", "--web-password", "s3cret"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("no answer to the assist password"), "{}", r.stderr);
    let r = with(&["--assist-password", "n3w-assist", "--web-user", "owner", "--web-password", "s3cret"]);
    assert!(r.ok().contains("web login set to user owner"), "{r:?}");
    assert!(!r.stdout.contains("s3cret") && !r.stderr.contains("s3cret"), "{r:?}");
}

#[test]
fn a_clean_kasa_plug_exits_zero() {
    let kasa = Emulator::kasa(&["--base", "127.0.72.2", "--model", "hs100-hw2"], 1);
    let port = kasa.port().to_string();
    let r = audit(&["--target", BROADCAST, "--family", "kasa", "--port", &port, "--timeout", "2", "--json"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    let d = doc(&r);
    assert_eq!(d["risks_found"], false);
    assert_eq!(d["summary"]["risk"], 0);
    let p = plug(&d, &kasa.first().host);
    assert_eq!(severity(p, "firmware"), "ok");
    let r = audit(&["--host", &kasa.first().target(), "--timeout", "2"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(r.stdout.contains("0 risk, 0 offline-risk"), "{}", r.stdout);
}

#[test]
fn klap_firmware_and_silent_addresses_are_reported_not_waited_for() {
    let klap = Emulator::kasa(
        &["--base", "127.0.73.2", "--klap", "--klap-refuse", "--klap-http-port", "0", "--klap-udp-port", "0"],
        1,
    );
    let k = klap.first();
    let kp = |key: &str| k.info[key].as_u64().unwrap_or_else(|| panic!("{key}: {}", k.info)).to_string();
    let hf = Emulator::hf(&["--base", "127.0.73.5", "--http-port", "0"], 1);
    let h = hf.first();
    let silent = "127.0.73.9";
    let r = audit(&[
        "--host",
        &k.target(),
        "--host",
        silent,
        "--host",
        &h.host,
        "--port",
        &closed_port().to_string(),
        "--hf-control-port",
        &h.port.to_string(),
        "--hf-port",
        &h.udp_port(),
        "--http-port",
        &h.info["http_port"].to_string(),
        "--klap-port",
        &kp("klap_udp_port"),
        "--klap-http-port",
        &kp("klap_http_port"),
        "--timeout",
        "2",
        "--json",
    ]);
    assert_eq!(r.code, RISKS, "{r:?}");
    let d = doc(&r);
    assert_eq!(d["summary"]["plugs"], 3);

    let p = plug(&d, &k.host);
    assert_eq!(p["family"], "kasa");
    let fw = finding(p, "firmware");
    assert_eq!(fw["severity"], "offline-risk", "{fw}");
    assert!(fw["detail"].as_str().unwrap().contains("newer firmware"), "{fw}");
    assert!(fw["fix"].is_null());

    let p = plug(&d, silent);
    let reach = finding(p, "reachable");
    assert_eq!(reach["severity"], "offline-risk", "{reach}");
    assert!(reach["detail"].as_str().unwrap().contains("no answer"), "{reach}");
    assert_eq!(p["findings"].as_array().unwrap().len(), 1);

    // The Hi-Flying plug found by probing (no port given) is audited in full.
    let p = plug(&d, &h.host);
    assert_eq!(p["family"], "hf");
    assert_eq!(severity(p, "assist-password"), "risk");
    assert_eq!(severity(p, "web-password"), "risk");
    assert_eq!(severity(p, "access-point"), "ok");

    // A plug on KLAP firmware answers the newer discovery: the library finds it there.
    let target = format!("{}:{}", k.host, kp("klap_udp_port")).parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let found =
        rt.block_on(plugctl_client::audit::klap_scan::discover(target, Duration::from_secs(2))).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].ip.to_string(), k.host);
    let a = plugctl_client::audit::klap_scan::audit(&found[0], 9999);
    assert_eq!(a.findings[0].severity, plugctl_client::audit::Severity::OfflineRisk);
    assert_eq!(a.plug.model.as_deref(), Some("HS110(EU)"));
}

#[test]
fn nothing_found_is_an_error_not_a_clean_bill() {
    let port = closed_port().to_string();
    let r = audit(&[
        "--target",
        BROADCAST,
        "--port",
        &port,
        "--hf-port",
        &port,
        "--klap-port",
        &port,
        "--timeout",
        "1",
    ]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("nothing to audit"), "{}", r.stderr);
}
