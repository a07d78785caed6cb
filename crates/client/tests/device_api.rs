//! The typed calls of `KasaDevice` against small fake plugs and strips.

mod common;

use common::{plug_sysinfo, quick, strip_sysinfo, FakeKasa};
use plugctl_client::{
    kasa::{DeviceErrorKind, KasaDevice},
    Error,
};
use serde_json::json;

const STRIP_ID: &str = "8006AF35494E7DB13DDE9B8F40BF2E001E770319";

#[tokio::test]
async fn plug_power_toggle_alias_led_reboot() {
    let fake = FakeKasa::new(plug_sysinfo("8006588E50AD389303FF31AB6302907A17442F16", true));
    let server = fake.serve().await;
    let dev = KasaDevice::new(server.addr, quick(2000, 0));

    dev.set_power(true, None).await.unwrap();
    assert_eq!(fake.sysinfo.lock().unwrap()["relay_state"], 1);
    assert!(!dev.toggle(None).await.unwrap());
    assert_eq!(fake.sysinfo.lock().unwrap()["relay_state"], 0);
    assert!(dev.toggle(None).await.unwrap());

    dev.set_alias("Küche 😽", None).await.unwrap();
    assert_eq!(dev.sysinfo().await.unwrap().alias, "Küche 😽");
    dev.set_led(false).await.unwrap();
    assert_eq!(fake.sysinfo.lock().unwrap()["led_off"], 1);
    dev.reboot(1).await.unwrap();
    assert!(matches!(dev.reboot(0).await, Err(Error::InvalidArgument { .. })));

    let err = dev.set_power(true, Some("1")).await.unwrap_err();
    assert!(matches!(&err, Error::NoSuchChild { valid, .. } if valid.is_empty()), "{err:?}");
    // no request ever carried a context
    assert!(fake.requests().iter().all(|r| r.get("context").is_none()));
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn plug_energy_and_missing_meter() {
    let fake = FakeKasa::new(plug_sysinfo("8006588E50AD389303FF31AB6302907A17442F16", true));
    let server = fake.serve().await;
    let dev = KasaDevice::new(server.addr, quick(2000, 0));
    let r = dev.energy(None).await.unwrap();
    assert_eq!((r.power_w, r.voltage_v, r.current_a, r.total_kwh), (1.0, 230.0, 0.1, 0.5));

    let fake = FakeKasa::new(plug_sysinfo("8006588E50AD389303FF31AB6302907A17442F17", false));
    let server = fake.serve().await;
    let dev = KasaDevice::new(server.addr, quick(2000, 0));
    let err = dev.energy(None).await.unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    assert_eq!(err.to_string(), format!("{}: this device has no energy meter", server.addr));

    // A device that claims ENE but rejects the module: the device's own error comes through.
    fake.sysinfo.lock().unwrap()["feature"] = json!("TIM:ENE");
    let dev = KasaDevice::new(server.addr, quick(2000, 0));
    dev.sysinfo().await.unwrap(); // remembered: has ENE
    fake.sysinfo.lock().unwrap()["feature"] = json!("TIM"); // the fake now answers -1
    let err = dev.energy(None).await.unwrap_err();
    assert_eq!(err.device_error().unwrap().kind(), DeviceErrorKind::ModuleNotSupported);
    assert_eq!(err.to_string(), format!("{}: device error -1 on emeter: module not support", server.addr));
}

#[tokio::test]
async fn strip_outlets_by_index_suffix_and_full_id() {
    let fake = FakeKasa::new(strip_sysinfo(STRIP_ID, 6));
    let server = fake.serve().await;
    let dev = KasaDevice::new(server.addr, quick(2000, 0));
    let state = |i: usize| fake.sysinfo.lock().unwrap()["children"][i]["state"].clone();

    dev.set_power(true, Some("2")).await.unwrap(); // index
    assert_eq!(state(2), 1);
    dev.set_power(false, Some("03")).await.unwrap(); // suffix (outlet 3 was on)
    assert_eq!(state(3), 0);
    dev.set_power(true, Some(&format!("{STRIP_ID}04"))).await.unwrap(); // full id
    assert_eq!(state(4), 1);
    let last = fake.requests().last().cloned().unwrap();
    assert_eq!(last["context"]["child_ids"], json!([format!("{STRIP_ID}04")]));

    // outlet 0 starts off
    assert!(dev.toggle(Some("0")).await.unwrap());
    assert_eq!(state(0), 1);

    // None on a strip addresses every outlet explicitly
    dev.set_power(false, None).await.unwrap();
    assert!((0..6).all(|i| state(i) == 0));
    let last = fake.requests().last().cloned().unwrap();
    assert_eq!(last["context"]["child_ids"].as_array().unwrap().len(), 6);

    dev.set_alias("Lamp", Some("5")).await.unwrap();
    assert_eq!(fake.sysinfo.lock().unwrap()["children"][5]["alias"], "Lamp");
    assert_eq!(fake.sysinfo.lock().unwrap()["alias"], "Strip");

    let err = dev.set_power(true, Some("9")).await.unwrap_err();
    assert!(matches!(&err, Error::NoSuchChild { child, valid, .. } if child == "9" && valid.len() == 6));
    assert_eq!(
        err.to_string(),
        format!(
            "{}: no outlet \"9\"; valid: index 0-5, id suffix 00/01/02/03/04/05, or the full outlet id",
            server.addr
        )
    );
}

#[tokio::test]
async fn strip_energy_per_outlet_and_summed() {
    let fake = FakeKasa::new(strip_sysinfo(STRIP_ID, 3));
    let server = fake.serve().await;
    let dev = KasaDevice::new(server.addr, quick(2000, 0));
    let r = dev.energy(Some("1")).await.unwrap();
    assert_eq!(r.power_w, 2.0);
    assert_eq!(fake.requests().last().unwrap()["context"]["child_ids"], json!([format!("{STRIP_ID}01")]));
    let sum = dev.energy(None).await.unwrap();
    assert_eq!(sum.power_w, 1.0 + 2.0 + 3.0);
    assert!((sum.current_a - 0.3).abs() < 1e-9);
    assert!((sum.total_kwh - 1.5).abs() < 1e-9);
    assert_eq!(sum.voltage_v, 231.0); // average of 230, 231, 232
}

#[tokio::test]
async fn outlet_lookup_rereads_sysinfo_once_on_a_miss() {
    let fake = FakeKasa::new(strip_sysinfo(STRIP_ID, 2));
    let server = fake.serve().await;
    let dev = KasaDevice::new(server.addr, quick(2000, 0));
    dev.sysinfo().await.unwrap();
    // The strip now reports a third outlet; the remembered sysinfo does not know it.
    *fake.sysinfo.lock().unwrap() = strip_sysinfo(STRIP_ID, 3);
    dev.set_power(true, Some("2")).await.unwrap();
    let sysinfo_reads = fake
        .requests()
        .iter()
        .filter(|r| r.get("system").and_then(|s| s.get("get_sysinfo")).is_some())
        .count();
    assert_eq!(sysinfo_reads, 2);
}
