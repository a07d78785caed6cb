//! `plugctl countdown`: switch after a delay. Kasa plugs keep one `count_down` rule (list,
//! add, delete, clear); Hi-Flying plugs take `AT+YZDELAY` in whole minutes (1–2000) and cannot
//! list or cancel it.

use anyhow::{bail, Result};
use plugctl_client::{
    kasa::{DeviceErrorKind, KasaDevice, Request},
    Device,
};
use serde_json::{json, Value};

use super::{device::open, usage};
use crate::{
    args::{CountdownAction, CountdownArgs},
    output,
};

/// Runs the command.
pub async fn run(args: &CountdownArgs) -> Result<()> {
    let d = &args.device;
    if let CountdownAction::Add { delay, .. } = &args.action {
        if d.family == Some(plugctl_client::Family::Hf) {
            hf_minutes(*delay)?;
        }
    }
    let dev = open(d).await?;
    let addr = dev.addr();
    let child = d.child.as_deref();
    match (&dev, &args.action) {
        (Device::Hf(h), CountdownAction::Add { delay, on, .. }) => {
            if child.is_some() {
                return Err(usage("Hi-Flying plugs have a single outlet; drop --child"));
            }
            let minutes = hf_minutes(*delay)?;
            h.countdown(*on, minutes).await?;
            report(d.json, addr, json!({"delay_s": minutes * 60, "act": act(*on)}));
        }
        (Device::Hf(_), _) => {
            bail!("{addr}: Hi-Flying plugs cannot list or cancel a countdown; only add one")
        }
        (Device::Kasa(k), CountdownAction::Add { delay, on, .. }) => {
            let replaced = !rules(k, child).await?.is_empty();
            send(k, child, "delete_all_rules", json!({})).await?;
            let name = format!("turn {} in {}", act(*on), human(*delay));
            let r = send(
                k,
                child,
                "add_rule",
                json!({"enable": 1, "delay": delay, "act": u8::from(*on), "name": name}),
            )
            .await?;
            let id = r.get("id").and_then(Value::as_str).unwrap_or("").to_string();
            report(d.json, addr, json!({"id": id, "delay_s": delay, "act": act(*on), "replaced": replaced}));
        }
        (Device::Kasa(k), CountdownAction::List) => {
            let list = rules(k, child).await?;
            if d.json {
                output::json_line(
                    &json!({"host": addr.ip().to_string(), "port": addr.port(), "rules": list}),
                );
            } else if list.is_empty() {
                println!("no countdown");
            } else {
                let rows: Vec<Vec<String>> = list
                    .iter()
                    .map(|r| {
                        let n = |k: &str| r.get(k).and_then(Value::as_i64);
                        vec![
                            r.get("id").and_then(Value::as_str).unwrap_or("").to_string(),
                            act(n("act") == Some(1)).to_string(),
                            n("delay").map(|s| human(s.max(0) as u64)).unwrap_or_default(),
                            n("remain").map(|s| human(s.max(0) as u64)).unwrap_or_else(|| "?".into()),
                            if n("enable") == Some(1) { "yes" } else { "no" }.to_string(),
                        ]
                    })
                    .collect();
                print!("{}", output::table(&["ID", "ACTION", "DELAY", "REMAINING", "ENABLED"], &rows));
            }
        }
        (Device::Kasa(k), CountdownAction::Delete { id }) => {
            send(k, child, "delete_rule", json!({"id": id})).await?;
            report(d.json, addr, json!({"deleted": id}));
        }
        (Device::Kasa(k), CountdownAction::Clear) => {
            send(k, child, "delete_all_rules", json!({})).await?;
            report(d.json, addr, json!({"cleared": true}));
        }
    }
    Ok(())
}

fn act(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

/// Seconds as `1h30m`, `5m`, `90s` style text.
fn human(s: u64) -> String {
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    let mut out = String::new();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if m > 0 {
        out.push_str(&format!("{m}m"));
    }
    if sec > 0 || out.is_empty() {
        out.push_str(&format!("{sec}s"));
    }
    out
}

/// Hi-Flying countdowns are whole minutes, 1 to 2000.
fn hf_minutes(delay_s: u64) -> Result<u32> {
    if !delay_s.is_multiple_of(60) {
        return Err(usage(format!("Hi-Flying countdowns are whole minutes; {} is not", human(delay_s))));
    }
    match u32::try_from(delay_s / 60) {
        Ok(m @ 1..=2000) => Ok(m),
        _ => Err(usage(format!(
            "Hi-Flying countdowns are 1 to 2000 minutes; {} is out of range",
            human(delay_s)
        ))),
    }
}

async fn send(
    k: &KasaDevice,
    child: Option<&str>,
    method: &str,
    params: Value,
) -> Result<serde_json::Map<String, Value>> {
    let mut req = Request::new().with("count_down", method, params);
    if let Some(c) = child {
        let si = k.sysinfo().await?;
        let Some(ch) = si.child(c) else {
            return Err(usage(format!("--child {c}: no such outlet on {}", si.model)));
        };
        req = req.for_children([ch.id.clone()]);
    }
    let resp = k.query(&req).await?;
    match resp.result("count_down", method) {
        Ok(r) => Ok(r.clone()),
        Err(plugctl_client::kasa::ResponseError::Device(e))
            if e.kind() == DeviceErrorKind::ModuleNotSupported =>
        {
            bail!("{}: this plug has no countdown (count_down module not supported)", k.addr())
        }
        Err(e) => Err(plugctl_client::Error::from_response(k.addr(), e).into()),
    }
}

async fn rules(k: &KasaDevice, child: Option<&str>) -> Result<Vec<Value>> {
    let r = send(k, child, "get_rules", json!({})).await?;
    Ok(r.get("rule_list").and_then(Value::as_array).cloned().unwrap_or_default())
}

fn report(json_out: bool, addr: std::net::SocketAddr, mut doc: Value) {
    doc["host"] = json!(addr.ip().to_string());
    doc["port"] = json!(addr.port());
    if json_out {
        output::json_line(&doc);
        return;
    }
    if let Some(d) = doc.get("delay_s").and_then(Value::as_u64) {
        let verb = doc["act"].as_str().unwrap_or("?");
        let extra = if doc["replaced"] == true { " (replaced the previous countdown)" } else { "" };
        println!("{addr} switches {verb} in {}{extra}", human(d));
    } else if let Some(id) = doc.get("deleted").and_then(Value::as_str) {
        println!("deleted countdown {id}");
    } else {
        println!("countdown cleared");
    }
}
