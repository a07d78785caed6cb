//! Topic names and Home Assistant discovery payloads: pure functions of a device view, so the
//! payloads are deterministic (key order as written; `serde_json` keeps insertion order).

use serde_json::{json, Value};

use crate::model::{DeviceId, DeviceView, OutletInfo};
use plugctl_client::Family;

/// The topic layout of one bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topics {
    /// Base topic, e.g. `plugctl`.
    pub base: String,
    /// Discovery prefix, e.g. `homeassistant`.
    pub prefix: String,
    /// Home Assistant node id (unique per hub on a broker).
    pub node: String,
}

impl Topics {
    /// `<base>/bridge/state` (`online`, retained; last will `offline`).
    pub fn bridge_state(&self) -> String {
        format!("{}/bridge/state", self.base)
    }

    /// `<base>/<device>/<leaf>`.
    pub fn device(&self, slug: &str, leaf: &str) -> String {
        format!("{}/{slug}/{leaf}", self.base)
    }

    /// `<prefix>/status` (Home Assistant's birth message).
    pub fn ha_status(&self) -> String {
        format!("{}/status", self.prefix)
    }

    /// `<base>/+/set`.
    pub fn set_filter(&self) -> String {
        format!("{}/+/set", self.base)
    }

    fn config(&self, component: &str, object: &str) -> String {
        format!("{}/{component}/{}/{object}/config", self.prefix, self.node)
    }
}

/// A stable topic-safe slug: ASCII lower case, anything but `[a-z0-9_-]` becomes `_`.
pub fn slug(s: &str) -> String {
    s.chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect()
}

/// The topic name of a device (`kasa-8006…`, `hf-accf23…`).
pub fn device_slug(id: &DeviceId) -> String {
    slug(id.as_str())
}

/// The topic name of a strip outlet (`<device>-outlet-<index>`, 0-based as in the API).
pub fn outlet_slug(id: &DeviceId, index: usize) -> String {
    format!("{}-outlet-{index}", device_slug(id))
}

/// `aa:bb:cc:dd:ee:ff` from any spelling of a 12-digit MAC, else the input in lower case.
pub fn normalize_mac(mac: &str) -> String {
    let hex: String = mac.chars().filter(|c| c.is_ascii_hexdigit()).collect::<String>().to_ascii_lowercase();
    if hex.len() != 12 {
        return mac.to_ascii_lowercase();
    }
    hex.as_bytes().chunks(2).map(|p| String::from_utf8_lossy(p).into_owned()).collect::<Vec<_>>().join(":")
}

fn manufacturer(f: Family) -> &'static str {
    match f {
        Family::Kasa => "TP-Link",
        Family::Hf => "Hi-Flying",
    }
}

/// A sensor published from the attributes JSON.
struct Sensor {
    key: &'static str,
    name: &'static str,
    device_class: &'static str,
    state_class: &'static str,
    unit: &'static str,
    diagnostic: bool,
}

const METER: [Sensor; 4] = [
    Sensor {
        key: "power",
        name: "Power",
        device_class: "power",
        state_class: "measurement",
        unit: "W",
        diagnostic: false,
    },
    Sensor {
        key: "energy_total",
        name: "Energy",
        device_class: "energy",
        state_class: "total_increasing",
        unit: "kWh",
        diagnostic: false,
    },
    Sensor {
        key: "voltage",
        name: "Voltage",
        device_class: "voltage",
        state_class: "measurement",
        unit: "V",
        diagnostic: false,
    },
    Sensor {
        key: "current",
        name: "Current",
        device_class: "current",
        state_class: "measurement",
        unit: "A",
        diagnostic: false,
    },
];

const RSSI: Sensor = Sensor {
    key: "rssi",
    name: "RSSI",
    device_class: "signal_strength",
    state_class: "measurement",
    unit: "dBm",
    diagnostic: true,
};

fn origin() -> Value {
    json!({ "name": "plugctl", "sw_version": env!("CARGO_PKG_VERSION") })
}

fn availability(t: &Topics, slug: &str) -> Value {
    json!([{ "topic": t.bridge_state() }, { "topic": t.device(slug, "availability") }])
}

fn ha_device(view: &DeviceView, t: &Topics) -> Value {
    let i = &view.info;
    let mut d = json!({
        "identifiers": [format!("{}_{}", t.node, device_slug(&i.id))],
        "connections": [["mac", normalize_mac(&i.mac)]],
        "name": i.name,
        "manufacturer": manufacturer(i.family),
        "model": i.model,
    });
    if let Some(v) = &i.sw_version {
        d["sw_version"] = json!(v);
    }
    d
}

fn ha_outlet_device(view: &DeviceView, o: &OutletInfo, t: &Topics) -> Value {
    let i = &view.info;
    let name = if o.name.trim().is_empty() {
        format!("{} outlet {}", i.name, o.index)
    } else {
        format!("{} {}", i.name, o.name)
    };
    let mut d = json!({
        "identifiers": [format!("{}_{}", t.node, outlet_slug(&i.id, o.index))],
        "name": name,
        "manufacturer": manufacturer(i.family),
        "model": format!("{} outlet", i.model),
    });
    // An outlet runs its strip's firmware.
    if let Some(v) = &i.sw_version {
        d["sw_version"] = json!(v);
    }
    d["via_device"] = json!(format!("{}_{}", t.node, device_slug(&i.id)));
    d
}

fn switch(t: &Topics, slug: &str, device: Value, attributes: bool) -> Value {
    let mut v = json!({
        "name": null,
        "unique_id": format!("{}_{slug}_switch", t.node),
        "state_topic": t.device(slug, "state"),
        "command_topic": t.device(slug, "set"),
        "payload_on": "ON",
        "payload_off": "OFF",
        "state_on": "ON",
        "state_off": "OFF",
        "availability": availability(t, slug),
        "availability_mode": "all",
    });
    if attributes {
        v["json_attributes_topic"] = json!(t.device(slug, "attributes"));
    }
    v["device"] = device;
    v["origin"] = origin();
    v
}

fn sensor(t: &Topics, slug: &str, s: &Sensor, device: Value) -> Value {
    let mut v = json!({
        "name": s.name,
        "unique_id": format!("{}_{slug}_{}", t.node, s.key),
        "state_topic": t.device(slug, "attributes"),
        "value_template": format!("{{{{ value_json.{} }}}}", s.key),
        "device_class": s.device_class,
        "state_class": s.state_class,
        "unit_of_measurement": s.unit,
    });
    if s.diagnostic {
        v["entity_category"] = json!("diagnostic");
    }
    v["availability"] = availability(t, slug);
    v["availability_mode"] = json!("all");
    v["device"] = device;
    v["origin"] = origin();
    v
}

/// Every discovery message of a device: `(topic, JSON payload)`, in a stable order. Meter
/// sensors appear once a reading shows a meter, RSSI once a reading carries it; strip outlets
/// are their own Home Assistant devices (a switch each, linked with `via_device`).
pub fn configs(view: &DeviceView, t: &Topics) -> Vec<(String, String)> {
    let slug = device_slug(&view.info.id);
    let dev = ha_device(view, t);
    let mut out = vec![(t.config("switch", &slug), switch(t, &slug, dev.clone(), true))];
    let reading = view.reading.as_ref();
    if reading.is_some_and(|r| r.power_w.is_some()) {
        for s in &METER {
            out.push((t.config("sensor", &format!("{slug}_{}", s.key)), sensor(t, &slug, s, dev.clone())));
        }
    }
    if reading.is_some_and(|r| r.rssi.is_some()) {
        out.push((t.config("sensor", &format!("{slug}_{}", RSSI.key)), sensor(t, &slug, &RSSI, dev.clone())));
    }
    for o in &view.info.outlets {
        let os = outlet_slug(&view.info.id, o.index);
        out.push((t.config("switch", &os), switch(t, &os, ha_outlet_device(view, o, t), false)));
    }
    out.into_iter().map(|(topic, v)| (topic, v.to_string())).collect()
}

/// The attributes JSON (`null` for what the device does not measure).
pub fn attributes(view: &DeviceView, energy_today_kwh: Option<f64>) -> String {
    let r = view.reading.as_ref();
    json!({
        "power": r.and_then(|r| r.power_w),
        "voltage": r.and_then(|r| r.voltage_v),
        "current": r.and_then(|r| r.current_a),
        "energy_today": energy_today_kwh,
        "energy_total": r.and_then(|r| r.total_kwh),
        "rssi": r.and_then(|r| r.rssi),
        "model": view.info.model,
        "ip": view.info.host.to_string(),
    })
    .to_string()
}

/// `ON` / `OFF`.
pub fn on_off(on: bool) -> &'static str {
    if on {
        "ON"
    } else {
        "OFF"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_macs() {
        assert_eq!(device_slug(&DeviceId("kasa-8006ABC".into())), "kasa-8006abc");
        assert_eq!(slug("Plug Host.lan"), "plug_host_lan");
        assert_eq!(outlet_slug(&DeviceId("kasa-X".into()), 2), "kasa-x-outlet-2");
        assert_eq!(normalize_mac("AC-CF-23-01-02-0A"), "ac:cf:23:01:02:0a");
        assert_eq!(normalize_mac("ACCF2301020A"), "ac:cf:23:01:02:0a");
        assert_eq!(normalize_mac("weird"), "weird");
    }
}
