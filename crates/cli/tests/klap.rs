//! Newer (KLAP) firmware: `plugctl emulate kasa` impersonates such a plug (automatically for
//! a dump with a KLAP `discovery_result`, or with `--klap`), and every `plugctl` command
//! against it ends with one clear sentence instead of a refusal or a timeout.

mod common;

use std::{net::UdpSocket, time::Duration};

use common::{closed_port, fixture_files, plugctl, EmuDevice, Emulator};
use plugctl_client::kasa::klap;

const SENTENCE: &str =
    "this plug runs newer firmware that requires TP-Link cloud credentials; plugctl supports legacy firmware only";

fn klap_dump() -> String {
    fixture_files()
        .into_iter()
        .find(|p| p.to_string_lossy().contains("HS100(UK)_4.1"))
        .expect("KLAP dump")
        .to_string_lossy()
        .into_owned()
}

fn ports(d: &EmuDevice) -> (String, String) {
    let p = |k: &str| d.info[k].as_u64().unwrap_or_else(|| panic!("{k} announced: {}", d.info)).to_string();
    (p("klap_http_port"), p("klap_udp_port"))
}

/// A UDP port on 127.0.0.1 where nothing listens.
fn closed_udp_port() -> String {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let p = s.local_addr().expect("addr").port();
    drop(s);
    p.to_string()
}

fn assert_newer_firmware(args: &[&str], host: &str) {
    let r = plugctl(args);
    assert_eq!(r.code, Some(1), "{args:?}: {r:?}");
    assert_eq!(r.stderr.trim(), format!("error: {host}: {SENTENCE}"), "{args:?}");
}

#[test]
fn a_klap_dump_gets_the_clear_sentence_from_every_path() {
    let emu =
        Emulator::kasa(&["--profile", &klap_dump(), "--klap-http-port", "0", "--klap-udp-port", "0"], 1);
    let d = emu.first();
    assert_eq!(d.info["klap"], true, "{}", d.info);
    let (http, udp) = ports(d);
    let t = d.target();
    let probe = ["--klap-http-port", http.as_str(), "--klap-udp-port", udp.as_str()];
    for cmd in
        [vec!["state"], vec!["on"], vec!["energy", "--json"], vec!["time"], vec!["cloud"], vec!["info"]]
    {
        for family in [&[][..], &["--family", "kasa"][..]] {
            let mut args: Vec<&str> = vec![cmd[0], &t];
            args.extend(&cmd[1..]);
            args.extend(family);
            args.extend(probe);
            assert_newer_firmware(&args, &d.host);
        }
    }
    // Either sign alone is enough.
    let none = closed_udp_port();
    let no_http = closed_port().to_string();
    assert_newer_firmware(&["state", &t, "--klap-http-port", &http, "--klap-udp-port", &none], &d.host);
    assert_newer_firmware(&["state", &t, "--klap-http-port", &no_http, "--klap-udp-port", &udp], &d.host);
    // Without any sign it stays the plain error.
    let r = plugctl(&[
        "state",
        &t,
        "--family",
        "kasa",
        "--retries",
        "0",
        "--klap-http-port",
        &no_http,
        "--klap-udp-port",
        &none,
    ]);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("connection closed by the device"), "{}", r.stderr);
    assert!(!r.stderr.contains("newer firmware"), "{}", r.stderr);
}

#[test]
fn klap_flag_with_a_refused_legacy_port() {
    let emu = Emulator::kasa(
        &["--model", "hs110-hw4", "--klap", "--klap-refuse", "--klap-http-port", "0", "--klap-udp-port", "0"],
        1,
    );
    let d = emu.first();
    let (http, udp) = ports(d);
    let t = d.target();
    let probe = ["--klap-http-port", http.as_str(), "--klap-udp-port", udp.as_str()];
    let mut args = vec!["state", t.as_str()];
    args.extend(probe);
    assert_newer_firmware(&args, &d.host);
    args.extend(["--family", "kasa"]);
    assert_newer_firmware(&args, &d.host);
    // Without the port, as a user would type it: 9999 and 8899 refuse on that address.
    let mut args = vec!["state", d.host.as_str()];
    args.extend(probe);
    assert_newer_firmware(&args, &d.host);
}

#[test]
fn the_discovery_responder_answers_like_the_dump() {
    let emu =
        Emulator::kasa(&["--profile", &klap_dump(), "--klap-http-port", "0", "--klap-udp-port", "0"], 1);
    let d = emu.first();
    let (http, udp) = ports(d);
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    let to = format!("{}:{udp}", d.host);
    sock.send_to(&klap::discovery_query(7), &to).expect("send");
    let mut buf = vec![0u8; 65536];
    let (n, from) = sock.recv_from(&mut buf).expect("a discovery reply");
    assert_eq!(from.to_string(), to, "the reply comes from the discovery port");
    let reply: serde_json::Value = serde_json::from_slice(&buf[16..n]).expect("JSON after the header");
    let r = &reply["result"];
    assert_eq!(r["device_model"], "HS100(UK)");
    assert_eq!(r["device_type"], "IOT.SMARTPLUGSWITCH");
    assert_eq!(r["mgt_encrypt_schm"]["encrypt_type"], "KLAP");
    assert_eq!(r["mgt_encrypt_schm"]["http_port"].to_string(), http);
    assert_eq!(r["ip"], d.host.as_str());
    assert_eq!(klap::parse_discovery_reply(&buf[..n]).map(|(t, _)| t), Some("KLAP".to_string()));
    // The legacy UDP port is silent.
    sock.set_read_timeout(Some(Duration::from_millis(300))).expect("timeout");
    let legacy = format!("{}:{}", d.host, d.port);
    sock.send_to(&plugctl_proto::kasa::cipher::encrypt(br#"{"system":{"get_sysinfo":{}}}"#), &legacy)
        .expect("send");
    assert!(sock.recv_from(&mut buf).is_err(), "UDP 9999 must stay silent");
}

#[test]
fn legacy_plugs_and_empty_hosts_are_not_mistaken_for_klap() {
    let emu = Emulator::kasa(&["--model", "hs100-hw2"], 1);
    let t = emu.first().target();
    assert!(emu.first().info.get("klap").is_none());
    assert_eq!(plugctl(&["state", &t, "--json"]).json()["family"], "kasa");
    let nobody = format!("127.0.0.1:{}", closed_port());
    let r = plugctl(&["state", &nobody, "--family", "kasa"]);
    assert_eq!(r.code, Some(1));
    assert!(r.stderr.contains("connection refused") && !r.stderr.contains("newer firmware"), "{}", r.stderr);
}
