//! The MQTT bridge against a real Mosquitto (started by the tests on a free loopback port):
//! exact Home Assistant discovery payloads, `set` switching emulated plugs, availability and
//! errors, last will, broker restart, Home Assistant's birth message, device removal, and two
//! hubs on one broker.

mod mqtt_support;

use std::{
    net::{IpAddr, Ipv4Addr},
    time::Duration,
};

use mqtt_support::{entry, eventually, settings, Broker, Stack, Watcher};
use plugctl_emulator::kasa::{bind_device, builtin, shared, ServerConfig};
use plugctl_hub::{config::HubConfig, events::HubEvent, mqtt, Hub, StartOptions};

const FRIDGE: &str = "kasa-807a727158e383a7538fcc256094d0d87ee0672e";
const STRIP: &str = "kasa-8069e0628720e3ed8c790bf5d1b3f04dfe0e4a4c";
const LAMP: &str = "hf-accf2397b27f";

/// Compares JSON text exactly (whitespace of the literal ignored); pretty diff on mismatch.
fn snapshot(topic: &str, got: Option<&String>, want: &str) {
    let got = got.unwrap_or_else(|| panic!("nothing on {topic}"));
    let want: String = want.lines().map(str::trim).collect::<Vec<_>>().join("").replace("\": ", "\":");
    let pretty = serde_json::from_str::<serde_json::Value>(got)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| got.clone());
    assert_eq!(got, &want, "{topic}:\n{pretty}");
}

const FRIDGE_DEVICE: &str = r#""device": {"identifiers": ["hub_a_kasa-807a727158e383a7538fcc256094d0d87ee0672e"],
    "connections": [["mac", "b0:95:75:6e:13:a8"]], "name": "Fridge", "manufacturer": "TP-Link", "model": "HS110(EU)",
    "sw_version": "1.0.4 Build 191105 Rel.120218"},
    "origin": {"name": "plugctl", "sw_version": "0.1.0"}}"#;

const FRIDGE_AVAILABILITY: &str = r#""availability": [{"topic": "plugctl/bridge/state"},
    {"topic": "plugctl/kasa-807a727158e383a7538fcc256094d0d87ee0672e/availability"}], "availability_mode": "all","#;

fn literal(parts: &[&str]) -> String {
    parts.iter().flat_map(|p| p.lines()).map(str::trim).collect::<Vec<_>>().join("").replace(", ", ",")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_payloads_are_exact() {
    let broker = Broker::start().await;
    let stack = Stack::start(Ipv4Addr::new(127, 0, 60, 2)).await;
    assert_eq!(
        (stack.slug("Fridge"), stack.slug("Desk strip"), stack.slug("Reading lamp")),
        (FRIDGE.into(), STRIP.into(), LAMP.into())
    );
    let watch = Watcher::start(broker.port, "watch-snap").await;
    let bridge = stack.bridge(settings(&broker, "plugctl-a", "plugctl", "hub_a"));
    watch.wait("plugctl/bridge/state", "online").await;
    let sensor = |what: &str| format!("homeassistant/sensor/hub_a/{FRIDGE}_{what}/config");
    let fridge_switch = format!("homeassistant/switch/hub_a/{FRIDGE}/config");
    let lamp_switch = format!("homeassistant/switch/hub_a/{LAMP}/config");
    let outlet_switch = format!("homeassistant/switch/hub_a/{STRIP}-outlet-0/config");
    let topics = [
        fridge_switch.clone(),
        sensor("power"),
        sensor("energy_total"),
        sensor("voltage"),
        sensor("current"),
        sensor("rssi"),
        lamp_switch.clone(),
        outlet_switch.clone(),
    ];
    for t in &topics {
        watch.wait_after(0, t, |p| !p.is_empty()).await;
    }
    let latest = watch.latest();

    snapshot(
        &fridge_switch,
        latest.get(&fridge_switch),
        &literal(&[
            r#"{"name": null, "unique_id": "hub_a_kasa-807a727158e383a7538fcc256094d0d87ee0672e_switch",
        "state_topic": "plugctl/kasa-807a727158e383a7538fcc256094d0d87ee0672e/state",
        "command_topic": "plugctl/kasa-807a727158e383a7538fcc256094d0d87ee0672e/set",
        "payload_on": "ON", "payload_off": "OFF", "state_on": "ON", "state_off": "OFF","#,
            FRIDGE_AVAILABILITY,
            r#""json_attributes_topic": "plugctl/kasa-807a727158e383a7538fcc256094d0d87ee0672e/attributes","#,
            FRIDGE_DEVICE,
        ]),
    );
    let sensor_literal = |key: &str, name: &str, class: &str, state_class: &str, unit: &str, extra: &str| {
        literal(&[
            &format!(
                r#"{{"name": "{name}", "unique_id": "hub_a_{FRIDGE}_{key}",
                "state_topic": "plugctl/{FRIDGE}/attributes", "value_template": "{{{{ value_json.{key} }}}}",
                "device_class": "{class}", "state_class": "{state_class}", "unit_of_measurement": "{unit}",{extra}"#
            ),
            FRIDGE_AVAILABILITY,
            FRIDGE_DEVICE,
        ])
    };
    for (key, name, class, state_class, unit, extra) in [
        ("power", "Power", "power", "measurement", "W", ""),
        ("energy_total", "Energy", "energy", "total_increasing", "kWh", ""),
        ("voltage", "Voltage", "voltage", "measurement", "V", ""),
        ("current", "Current", "current", "measurement", "A", ""),
        ("rssi", "RSSI", "signal_strength", "measurement", "dBm", r#""entity_category": "diagnostic","#),
    ] {
        let t = sensor(key);
        snapshot(&t, latest.get(&t), &sensor_literal(key, name, class, state_class, unit, extra));
    }
    // The value template really is `{{ value_json.power }}` (format! escapes above).
    assert!(latest[&sensor("power")].contains(r#""value_template":"{{ value_json.power }}""#));

    snapshot(
        &lamp_switch,
        latest.get(&lamp_switch),
        &literal(&[r#"{"name": null,
        "unique_id": "hub_a_hf-accf2397b27f_switch",
        "state_topic": "plugctl/hf-accf2397b27f/state", "command_topic": "plugctl/hf-accf2397b27f/set",
        "payload_on": "ON", "payload_off": "OFF", "state_on": "ON", "state_off": "OFF",
        "availability": [{"topic": "plugctl/bridge/state"}, {"topic": "plugctl/hf-accf2397b27f/availability"}],
        "availability_mode": "all", "json_attributes_topic": "plugctl/hf-accf2397b27f/attributes",
        "device": {"identifiers": ["hub_a_hf-accf2397b27f"], "connections": [["mac", "ac:cf:23:97:b2:7f"]],
        "name": "Reading lamp", "manufacturer": "Hi-Flying", "model": "HF-LPB100"},
        "origin": {"name": "plugctl", "sw_version": "0.1.0"}}"#]),
    );

    snapshot(
        &outlet_switch,
        latest.get(&outlet_switch),
        &literal(&[r#"{"name": null,
        "unique_id": "hub_a_kasa-8069e0628720e3ed8c790bf5d1b3f04dfe0e4a4c-outlet-0_switch",
        "state_topic": "plugctl/kasa-8069e0628720e3ed8c790bf5d1b3f04dfe0e4a4c-outlet-0/state",
        "command_topic": "plugctl/kasa-8069e0628720e3ed8c790bf5d1b3f04dfe0e4a4c-outlet-0/set",
        "payload_on": "ON", "payload_off": "OFF", "state_on": "ON", "state_off": "OFF",
        "availability": [{"topic": "plugctl/bridge/state"},
        {"topic": "plugctl/kasa-8069e0628720e3ed8c790bf5d1b3f04dfe0e4a4c-outlet-0/availability"}],
        "availability_mode": "all",
        "device": {"identifiers": ["hub_a_kasa-8069e0628720e3ed8c790bf5d1b3f04dfe0e4a4c-outlet-0"],
        "name": "Desk strip Plug 1", "manufacturer": "TP-Link", "model": "HS300(US) outlet",
        "sw_version": "1.0.19 Build 200224 Rel.090814",
        "via_device": "hub_a_kasa-8069e0628720e3ed8c790bf5d1b3f04dfe0e4a4c"},
        "origin": {"name": "plugctl", "sw_version": "0.1.0"}}"#]),
    );
    // Every strip outlet is its own device with its own topics.
    for i in 0..6 {
        let t = format!("homeassistant/switch/hub_a/{STRIP}-outlet-{i}/config");
        watch.wait_after(0, &t, |p| !p.is_empty()).await;
        watch.wait_after(0, &format!("plugctl/{STRIP}-outlet-{i}/state"), |p| p == "ON" || p == "OFF").await;
    }

    // States, availability and attributes, retained (a late subscriber gets them).
    let late = Watcher::start(broker.port, "watch-late").await;
    for (topic, ok) in [
        (format!("plugctl/{FRIDGE}/state"), &(|p: &str| p == "ON" || p == "OFF") as &dyn Fn(&str) -> bool),
        (format!("plugctl/{FRIDGE}/availability"), &|p: &str| p == "online"),
        (format!("plugctl/{LAMP}/availability"), &|p: &str| p == "online"),
        ("plugctl/bridge/state".to_string(), &|p: &str| p == "online"),
        (fridge_switch.clone(), &|p: &str| !p.is_empty()),
    ] {
        let m = late.wait_after(0, &topic, ok).await;
        assert!(m.retain, "{topic} is retained");
    }
    let attrs =
        late.wait_after(0, &format!("plugctl/{FRIDGE}/attributes"), |p| p.contains("\"power\"")).await;
    assert!(attrs.retain);
    let a: serde_json::Value = serde_json::from_str(&attrs.payload).expect("attributes json");
    let keys: Vec<&str> = a.as_object().expect("object").keys().map(|k| k.as_str()).collect();
    assert_eq!(keys, ["power", "voltage", "current", "energy_today", "energy_total", "rssi", "model", "ip"]);
    assert!(a["power"].is_number() && a["voltage"].is_number() && a["current"].is_number(), "{a}");
    assert!(a["energy_total"].is_number() && a["rssi"].is_number() && a["energy_today"].is_number(), "{a}");
    assert_eq!((a["model"].as_str(), a["ip"].as_str()), (Some("HS110(EU)"), Some("127.0.60.2")));

    bridge.shutdown().await;
    watch.wait("plugctl/bridge/state", "offline").await;
    stack.hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_switches_plugs_and_state_follows() {
    let broker = Broker::start().await;
    let stack = Stack::start(Ipv4Addr::new(127, 0, 61, 2)).await;
    let watch = Watcher::start(broker.port, "watch-set").await;
    let bridge = stack.bridge(settings(&broker, "plugctl-set", "plugctl", "hub_set"));
    watch.wait("plugctl/bridge/state", "online").await;
    watch.wait_after(0, &format!("plugctl/{FRIDGE}/state"), |p| p == "ON" || p == "OFF").await;
    let relay = |index: usize| {
        let dev = stack.kasa.device(index).expect("device");
        let reply = dev
            .lock()
            .expect("lock")
            .handle(br#"{"system":{"get_sysinfo":{}}}"#, std::time::Instant::now())
            .expect("reply");
        serde_json::from_slice::<serde_json::Value>(&reply).expect("json")["system"]["get_sysinfo"].clone()
    };

    for (cmd, want, relay_state) in
        [("OFF", "OFF", 0), ("ON", "ON", 1), ("toggle", "OFF", 0), ("TOGGLE", "ON", 1)]
    {
        let mark = watch.mark();
        watch.publish(&format!("plugctl/{FRIDGE}/set"), cmd, false).await;
        watch.wait_after(mark, &format!("plugctl/{FRIDGE}/state"), |p| p == want).await;
        assert_eq!(relay(0)["relay_state"], relay_state, "the emulated plug switched ({cmd})");
    }

    // A strip outlet on its own.
    let outlet = format!("plugctl/{STRIP}-outlet-2");
    let mark = watch.mark();
    watch.publish(&format!("{outlet}/set"), "OFF", false).await;
    watch.wait_after(mark, &format!("{outlet}/state"), |p| p == "OFF").await;
    assert_eq!(relay(1)["children"][2]["state"], 0, "outlet 2 of the emulated strip is off");
    assert_eq!(relay(1)["children"][1]["state"], 1, "outlet 1 untouched");
    let mark = watch.mark();
    watch.publish(&format!("{outlet}/set"), "ON", false).await;
    watch.wait_after(mark, &format!("{outlet}/state"), |p| p == "ON").await;

    // The Hi-Flying plug.
    let mark = watch.mark();
    watch.publish(&format!("plugctl/{LAMP}/set"), "OFF", false).await;
    watch.wait_after(mark, &format!("plugctl/{LAMP}/state"), |p| p == "OFF").await;
    let mark = watch.mark();
    watch.publish(&format!("plugctl/{LAMP}/set"), "ON", false).await;
    watch.wait_after(mark, &format!("plugctl/{LAMP}/state"), |p| p == "ON").await;

    // A bad command: an error event and an error message, no switch.
    let mut events = stack.hub.events().subscribe();
    let mark = watch.mark();
    watch.publish(&format!("plugctl/{LAMP}/set"), "DIM", false).await;
    let e = watch.wait_after(mark, &format!("plugctl/{LAMP}/error"), |_| true).await;
    assert!(e.payload.contains("unknown command") && e.payload.contains("DIM"), "{}", e.payload);
    let ev = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(HubEvent::Error { message, .. }) = events.recv().await {
                return message;
            }
        }
    })
    .await
    .expect("error event");
    assert!(ev.contains("DIM"), "{ev}");

    bridge.shutdown().await;
    stack.hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_plug_availability_and_command_error() {
    let broker = Broker::start().await;
    let ip = IpAddr::V4(Ipv4Addr::new(127, 0, 62, 2));
    let dev = shared(builtin("hs110-hw4").expect("profile").instantiate(0, 5));
    let running = bind_device(ip, 0, dev.clone(), ServerConfig::default()).await.expect("bind");
    let addr = running.addr();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = HubConfig::default();
    config.hub.poll_interval = 1.0;
    config.discovery.enabled = false;
    config.devices = vec![entry(addr, None, None, "Kettle")];
    let hub = Hub::start(config, StartOptions { config_path: None, db_path: dir.path().join("hub.db") })
        .await
        .expect("hub");
    eventually("online", || hub.devices().first().is_some_and(|d| d.availability.online)).await;
    let id = hub.devices()[0].info.id.clone();
    let slug = mqtt::discovery::device_slug(&id);
    let watch = Watcher::start(broker.port, "watch-off").await;
    let bridge =
        mqtt::start(hub.clone(), settings(&broker, "plugctl-off", "plugctl", "hub_off")).expect("bridge");
    watch.wait(&format!("plugctl/{slug}/availability"), "online").await;

    running.shutdown().await;
    watch.wait(&format!("plugctl/{slug}/availability"), "offline").await;
    let mut events = hub.events().subscribe();
    watch.publish(&format!("plugctl/{slug}/set"), "ON", false).await;
    let e = watch.wait_after(0, &format!("plugctl/{slug}/error"), |_| true).await;
    let body: serde_json::Value = serde_json::from_str(&e.payload).expect("json");
    assert_eq!(body["command"], "ON");
    assert!(!body["error"].as_str().unwrap_or_default().is_empty(), "{body}");
    let msg = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            if let Ok(HubEvent::Error { id: Some(i), message, .. }) = events.recv().await {
                if i == id && message.starts_with("mqtt command") {
                    return message;
                }
            }
        }
    })
    .await
    .expect("an error event for the failed command");
    assert!(msg.contains(&format!("plugctl/{slug}/set")), "{msg}");

    let back = bind_device(ip, addr.port(), dev, ServerConfig::default()).await.expect("rebind");
    watch.wait_after(0, &format!("plugctl/{slug}/availability"), |p| p == "online").await;
    let mark = watch.mark();
    watch.publish(&format!("plugctl/{slug}/set"), "OFF", false).await;
    watch.wait_after(mark, &format!("plugctl/{slug}/state"), |p| p == "OFF").await;
    bridge.shutdown().await;
    hub.shutdown().await;
    drop(back);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_will_broker_restart_ha_birth_and_removal() {
    let mut broker = Broker::start().await;
    let stack = Stack::start(Ipv4Addr::new(127, 0, 63, 2)).await;
    let watch = Watcher::start(broker.port, "watch-life").await;
    let config_topic = format!("homeassistant/switch/hub_life/{FRIDGE}/config");
    let state_topic = format!("plugctl/{FRIDGE}/state");

    // Killed without DISCONNECT: the broker publishes the last will.
    let bridge = stack.bridge(settings(&broker, "plugctl-life", "plugctl", "hub_life"));
    watch.wait("plugctl/bridge/state", "online").await;
    let mark = watch.mark();
    bridge.abort().await;
    let will = watch.wait_after(mark, "plugctl/bridge/state", |p| p == "offline").await;
    assert_eq!(will.payload, "offline");

    // A new bridge; then the broker dies and comes back empty (no persistence): the bridge
    // reconnects and publishes discovery and retained states again.
    let bridge = stack.bridge(settings(&broker, "plugctl-life", "plugctl", "hub_life"));
    watch.wait_after(mark, "plugctl/bridge/state", |p| p == "online").await;
    watch.wait_after(mark, &config_topic, |p| !p.is_empty()).await;
    broker.restart().await;
    let fresh = Watcher::start(broker.port, "watch-life-2").await;
    fresh.wait("plugctl/bridge/state", "online").await;
    fresh.wait_after(0, &config_topic, |p| p.contains("unique_id")).await;
    fresh.wait_after(0, &state_topic, |p| p == "ON" || p == "OFF").await;
    let late = Watcher::start(broker.port, "watch-life-3").await;
    assert!(late.wait_after(0, &config_topic, |p| !p.is_empty()).await.retain, "discovery retained again");
    assert!(late.wait_after(0, &state_topic, |_| true).await.retain, "state retained again");

    // Home Assistant restarts: its birth message makes the bridge publish discovery again.
    let mark = fresh.mark();
    fresh.publish("homeassistant/status", "online", false).await;
    fresh.wait_after(mark, &config_topic, |p| p.contains("unique_id")).await;
    fresh.wait_after(mark, &format!("homeassistant/switch/hub_life/{LAMP}/config"), |p| !p.is_empty()).await;

    // A deleted device: empty retained configs (switch and sensors) and cleared states.
    let id = stack.hub.devices().into_iter().find(|d| d.info.name == "Fridge").expect("fridge").info.id;
    let mark = fresh.mark();
    stack.hub.remove_device(&id).await.expect("remove");
    fresh.wait_after(mark, &config_topic, |p| p.is_empty()).await;
    fresh
        .wait_after(mark, &format!("homeassistant/sensor/hub_life/{FRIDGE}_power/config"), |p| p.is_empty())
        .await;
    fresh.wait_after(mark, &state_topic, |p| p.is_empty()).await;
    let after = Watcher::start(broker.port, "watch-life-4").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!after.latest().contains_key(&config_topic), "no retained config left for the removed device");
    assert!(after.latest().contains_key(&format!("homeassistant/switch/hub_life/{LAMP}/config")));

    bridge.shutdown().await;
    stack.hub.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hubs_share_one_broker() {
    let broker = Broker::start().await;
    let a = Stack::start(Ipv4Addr::new(127, 0, 64, 2)).await;
    let b = Stack::start(Ipv4Addr::new(127, 0, 65, 2)).await;
    let watch = Watcher::start(broker.port, "watch-two").await;
    // Default node ids come from the client ids.
    let sa = mqtt::Settings::parse(
        &broker.url(),
        "plugctl-hub-one".into(),
        "plugctl/one",
        mqtt::discovery::slug("plugctl-hub-one"),
        "homeassistant",
    )
    .expect("a");
    let sb = mqtt::Settings::parse(
        &format!("{}/plugctl/two", broker.url()),
        "plugctl-hub-two".into(),
        "plugctl",
        mqtt::discovery::slug("plugctl-hub-two"),
        "homeassistant",
    )
    .expect("b");
    assert_eq!(sb.topics.base, "plugctl/two", "the URL path is the base topic");
    let ba = a.bridge(sa);
    let bb = b.bridge(sb);
    assert_ne!(ba.node_id(), bb.node_id());
    watch.wait("plugctl/one/bridge/state", "online").await;
    watch.wait("plugctl/two/bridge/state", "online").await;
    // The same emulated identities (same seed) on both hubs: distinct topics and unique ids.
    let ta = format!("homeassistant/switch/plugctl-hub-one/{FRIDGE}/config");
    let tb = format!("homeassistant/switch/plugctl-hub-two/{FRIDGE}/config");
    let pa = watch.wait_after(0, &ta, |p| !p.is_empty()).await.payload;
    let pb = watch.wait_after(0, &tb, |p| !p.is_empty()).await.payload;
    let (ja, jb): (serde_json::Value, serde_json::Value) =
        (serde_json::from_str(&pa).expect("a"), serde_json::from_str(&pb).expect("b"));
    assert_ne!(ja["unique_id"], jb["unique_id"]);
    assert_eq!(ja["command_topic"], format!("plugctl/one/{FRIDGE}/set"));
    assert_eq!(jb["command_topic"], format!("plugctl/two/{FRIDGE}/set"));

    // A command to hub two switches hub two's plug only.
    watch.wait_after(0, &format!("plugctl/one/{FRIDGE}/state"), |p| p == "ON").await;
    let mark = watch.mark();
    watch.publish(&format!("plugctl/two/{FRIDGE}/set"), "OFF", false).await;
    watch.wait_after(mark, &format!("plugctl/two/{FRIDGE}/state"), |p| p == "OFF").await;
    let on = |s: &Stack| {
        s.hub.devices().into_iter().find(|d| d.info.name == "Fridge").and_then(|d| d.reading).map(|r| r.on)
    };
    assert_eq!(on(&b), Some(false));
    assert_eq!(on(&a), Some(true));

    // One hub dies: only its bridge state goes offline.
    let mark = watch.mark();
    ba.abort().await;
    watch.wait_after(mark, "plugctl/one/bridge/state", |p| p == "offline").await;
    assert_eq!(watch.latest().get("plugctl/two/bridge/state").map(String::as_str), Some("online"));
    bb.shutdown().await;
    a.hub.shutdown().await;
    b.hub.shutdown().await;
}
