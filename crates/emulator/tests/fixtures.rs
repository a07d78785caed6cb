//! Every real-device dump in the fixtures directory loads as a profile, and device 0 of it
//! serves the dump's model, MAC, relay state and emeter values, with real-looking ids.

mod common;

use common::*;
use plugctl_emulator::kasa::{self, bind_device, Profile, ServerConfig};
use plugctl_proto::kasa::EmeterReading;
use serde_json::Value;

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[tokio::test]
async fn every_dump_is_served_faithfully() {
    let dir = fixtures_dir();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("readable fixtures directory")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no *.json dumps in {}", dir.display());
    for path in files {
        let name = path.display().to_string();
        let dump: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let want = &dump["system"]["get_sysinfo"];
        let profile = Profile::from_dump_file(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let dev = kasa::shared(profile.instantiate(0, 1));
        let dev = bind_device("127.0.0.1".parse().unwrap(), 0, dev, ServerConfig::default()).await.unwrap();
        let req = if profile.emeter_scheme().is_some() {
            r#"{"system":{"get_sysinfo":{}},"emeter":{"get_realtime":{}}}"#
        } else {
            r#"{"system":{"get_sysinfo":{}}}"#
        };
        let r = tcp_ask(dev.addr(), req).await;
        let got = &r["system"]["get_sysinfo"];
        assert_eq!(got["err_code"], 0, "{name}");
        assert_eq!(got["model"], want["model"], "{name}");
        assert_eq!(got["mac"], want["mac"], "{name}: index 0 keeps the MAC");
        assert_eq!(got["hw_ver"], want["hw_ver"], "{name}");
        assert_eq!(got["sw_ver"], want["sw_ver"], "{name}");
        let id = got["deviceId"].as_str().unwrap();
        assert_eq!(id.len(), 40, "{name}");
        assert!(is_hex(id) && id.bytes().any(|b| b != b'0'), "{name}: {id}");
        let alias = got["alias"].as_str().unwrap();
        assert!(!alias.contains("MASKED") && !alias.is_empty(), "{name}: {alias}");
        for k in ["hwId", "oemId"] {
            let v = got[k].as_str().unwrap();
            assert!(is_hex(v) && v.bytes().any(|b| b != b'0'), "{name}: {k} {v}");
        }
        if let Some(children) = want.get("children").and_then(Value::as_array) {
            let served = got["children"].as_array().unwrap();
            assert_eq!(served.len(), children.len(), "{name}");
            assert_eq!(got["child_num"], children.len(), "{name}");
            for (i, (c, w)) in served.iter().zip(children).enumerate() {
                assert_eq!(c["id"], format!("{id}{i:02}"), "{name}");
                assert_eq!(c["state"], w["state"], "{name}");
                assert!(!c["alias"].as_str().unwrap().contains("MASKED"), "{name}");
            }
            assert!(got.get("relay_state").is_none(), "{name}");
        } else {
            assert_eq!(got["relay_state"], want["relay_state"], "{name}");
        }
        if let Some(rt) =
            dump["emeter"]["get_realtime"].as_object().filter(|m| m.get("err_code") == Some(&0.into()))
        {
            let want = EmeterReading::from_map(rt).unwrap();
            let served = r["emeter"]["get_realtime"].as_object().unwrap();
            assert_eq!(EmeterReading::scheme_of(served), EmeterReading::scheme_of(rt), "{name}: unit scheme");
            let got = EmeterReading::from_map(served).unwrap();
            let close = |a: f64, b: f64, rel: f64| (a - b).abs() <= b.abs() * rel + 0.002;
            assert!(close(got.voltage_v, want.voltage_v, 0.01), "{name}: {got:?} vs {want:?}");
            assert!(close(got.power_w, want.power_w, 0.03), "{name}: {got:?} vs {want:?}");
            assert!(got.total_kwh >= want.total_kwh - 0.001, "{name}: total never falls");
            assert!(got.total_kwh <= want.total_kwh + 0.01, "{name}: {got:?} vs {want:?}");
        }
        // UDP discovery on the same port, from the same port.
        let (udp, from) = udp_ask(dev.addr(), br#"{"system":{"get_sysinfo":{}}}"#).await;
        assert_eq!(from, dev.addr(), "{name}");
        assert_eq!(udp["system"]["get_sysinfo"]["deviceId"], id, "{name}");
        dev.shutdown().await;
    }
}

#[test]
fn klap_dumps_keep_their_discovery_result() {
    let dir = fixtures_dir();
    for entry in std::fs::read_dir(&dir).unwrap().filter_map(Result::ok) {
        let path = entry.path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let dump: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let p = Profile::from_dump_file(&path).unwrap();
        assert_eq!(
            p.klap_discovery().is_some(),
            dump.get("discovery_result").is_some(),
            "{}",
            path.display()
        );
    }
}
