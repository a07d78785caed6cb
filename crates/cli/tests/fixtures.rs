//! Every real device dump under `$PLUGCTL_FIXTURES`, served by our emulator and read by our
//! client, gives back what the file holds: model, MAC, relay state(s) and energy.

mod common;

use std::net::{IpAddr, Ipv4Addr};

use common::{fixture_files, plugctl, Emulator};
use plugctl_client::kasa::{ClientConfig, KasaDevice};
use plugctl_emulator::kasa::{bind_device, shared, Profile, ServerConfig};
use plugctl_proto::kasa::EmeterReading;
use serde_json::Value;

fn close(a: f64, b: f64, rel: f64, abs: f64) -> bool {
    (a - b).abs() <= (b.abs() * rel).max(abs)
}

#[tokio::test]
async fn client_reads_every_dump_as_the_file_holds_it() {
    let files = fixture_files();
    assert!(files.len() >= 10, "expected the 10 dumps, found {}", files.len());
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let want = &file["system"]["get_sysinfo"];
        let profile = Profile::from_dump_file(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let running = bind_device(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            0,
            shared(profile.instantiate(0, 7)),
            ServerConfig::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let dev = KasaDevice::new(running.addr(), ClientConfig::default());
        let si = dev.sysinfo().await.unwrap_or_else(|e| panic!("{name}: {e}"));

        assert_eq!(si.model, want["model"].as_str().unwrap(), "{name}: model");
        assert_eq!(si.mac, want["mac"].as_str().unwrap(), "{name}: mac");
        assert_eq!(si.hw_ver, want["hw_ver"].as_str().unwrap(), "{name}: hw_ver");
        assert_eq!(si.sw_ver, want["sw_ver"].as_str().unwrap(), "{name}: sw_ver");
        assert_eq!(si.device_id.len(), 40, "{name}: deviceId length");
        assert!(si.device_id.chars().any(|c| c != '0'), "{name}: scrubbed deviceId served");
        assert!(!si.alias.contains("MASKED"), "{name}: masked alias served");
        if let Some(r) = want["relay_state"].as_i64() {
            assert_eq!(si.relay_state, Some(r == 1), "{name}: relay_state");
        }
        if let Some(children) = want["children"].as_array() {
            assert_eq!(si.children.len(), children.len(), "{name}: outlets");
            for (i, (got, c)) in si.children.iter().zip(children).enumerate() {
                assert_eq!(got.state, c["state"] == 1, "{name}: outlet {i} state");
                assert_eq!(got.id, format!("{}{:02}", si.device_id, i), "{name}: outlet {i} id");
            }
        }

        let rt = &file["emeter"]["get_realtime"];
        if rt["err_code"] == 0 {
            let want_e = EmeterReading::from_map(rt.as_object().unwrap()).unwrap();
            let child = (!si.children.is_empty()).then_some("0");
            let got = dev.energy(child).await.unwrap_or_else(|e| panic!("{name}: energy: {e}"));
            assert!(
                close(got.voltage_v, want_e.voltage_v, 0.02, 0.5),
                "{name}: voltage {got:?} vs {want_e:?}"
            );
            assert!(close(got.power_w, want_e.power_w, 0.05, 0.01), "{name}: power {got:?} vs {want_e:?}");
            assert!(
                close(got.current_a, want_e.current_a, 0.10, 0.005),
                "{name}: current {got:?} vs {want_e:?}"
            );
            assert!(
                got.total_kwh >= want_e.total_kwh - 0.001 && got.total_kwh <= want_e.total_kwh + 0.01,
                "{name}: total {got:?} vs {want_e:?}"
            );
        } else {
            let err = dev.energy(None).await.expect_err("no meter");
            assert!(err.to_string().contains("energy meter"), "{name}: {err}");
        }
        running.shutdown().await;
    }
}

/// The same through the binary: `plugctl emulate kasa --profile FILE`, read by `plugctl`.
#[test]
fn emulate_profile_serves_a_dump() {
    let path = fixture_files()
        .into_iter()
        .find(|p| p.to_string_lossy().contains("HS110(EU)_1.0"))
        .expect("HS110 hw1 dump");
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let emu = Emulator::kasa(&["--profile", path.to_str().unwrap()], 1);
    let t = emu.first().target();
    let info = plugctl(&["info", &t, "--json"]).json();
    assert_eq!(info["model"], file["system"]["get_sysinfo"]["model"]);
    assert_eq!(info["mac"], file["system"]["get_sysinfo"]["mac"]);
    let e = plugctl(&["energy", &t, "--json"]).json();
    let want = file["emeter"]["get_realtime"]["voltage"].as_f64().unwrap();
    assert!(close(e["voltage_v"].as_f64().unwrap(), want, 0.02, 0.5), "{e} vs {want}");
    let bad = plugctl(&["emulate", "kasa", "--profile", "/nonexistent/dump.json"]);
    assert_eq!(bad.code, Some(2), "{bad:?}");
}
