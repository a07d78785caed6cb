//! Commands that talk to one device: state, on, off, toggle, info, energy, alias, led,
//! reboot, raw.

use std::{net::SocketAddr, time::Duration};

use anyhow::{Context, Result};
use plugctl_client::kasa::{ClientConfig, KasaDevice};
use plugctl_proto::kasa::{Request, SysInfo, DEFAULT_PORT};
use serde_json::{json, Value};

use super::usage;
use crate::{
    args::{AliasArgs, DeviceArgs, LedArgs, OnOff, RawArgs, RebootArgs},
    output, target,
};

/// A connected device and where it is.
struct Target {
    dev: KasaDevice,
    addr: SocketAddr,
}

async fn open(args: &DeviceArgs) -> Result<Target> {
    let addr = target::resolve(&args.host, DEFAULT_PORT).await.map_err(|e| usage(format!("{e:#}")))?;
    let cfg = ClientConfig {
        timeout: Duration::from_secs_f64(args.timeout),
        retries: args.retries,
        ..ClientConfig::default()
    };
    Ok(Target { dev: KasaDevice::new(addr, cfg), addr })
}

/// The JSON document `state`, `on`, `off` and `toggle` print.
fn state_doc(addr: SocketAddr, si: &SysInfo, child: Option<&str>) -> Result<Value> {
    let mut doc = json!({
        "host": addr.ip().to_string(),
        "port": addr.port(),
        "family": "kasa",
        "model": si.model,
        "alias": si.alias,
        "mac": si.mac,
        "on": si.is_on(),
    });
    if let Some(c) = child {
        let ch = find_child(si, c)?;
        doc["child"] = json!(ch.id);
        doc["alias"] = json!(ch.alias);
        doc["on"] = json!(ch.state);
        doc["on_time"] = json!(ch.on_time);
    } else if !si.children.is_empty() {
        doc["children"] = si
            .children
            .iter()
            .enumerate()
            .map(|(i, c)| json!({"index": i, "id": c.id, "alias": c.alias, "on": c.state, "on_time": c.on_time}))
            .collect();
    } else if let Some(t) = si.on_time {
        doc["on_time"] = json!(t);
    }
    Ok(doc)
}

fn find_child<'a>(si: &'a SysInfo, spec: &str) -> Result<&'a plugctl_proto::kasa::ChildInfo> {
    if si.children.is_empty() {
        return Err(usage(format!("--child {spec}: {} has no outlets (it is not a strip)", si.model)));
    }
    si.child(spec).ok_or_else(|| {
        usage(format!(
            "--child {spec}: no such outlet; {} has outlets 0..{} (or their ids)",
            si.model,
            si.children.len() - 1
        ))
    })
}

fn print_state(doc: &Value, json_out: bool) {
    if json_out {
        return output::json_line(doc);
    }
    let name = doc["alias"].as_str().unwrap_or("");
    let on = doc["on"].as_bool().unwrap_or(false);
    let mut line = format!(
        "{} \"{}\" at {}:{} is {}",
        doc["model"].as_str().unwrap_or("?"),
        name,
        doc["host"].as_str().unwrap_or("?"),
        doc["port"],
        output::on_off(on).to_uppercase()
    );
    if let (true, Some(t)) = (on, doc["on_time"].as_u64()) {
        line.push_str(&format!(" (on for {})", output::duration(t)));
    }
    println!("{line}");
    if let Some(children) = doc["children"].as_array() {
        let rows: Vec<Vec<String>> = children
            .iter()
            .map(|c| {
                vec![
                    c["index"].to_string(),
                    c["alias"].as_str().unwrap_or("").to_string(),
                    output::on_off(c["on"].as_bool().unwrap_or(false)).to_string(),
                    c["id"].as_str().unwrap_or("").to_string(),
                ]
            })
            .collect();
        print!("{}", output::table(&["#", "ALIAS", "STATE", "ID"], &rows));
    }
}

/// `plugctl state`.
pub async fn state(args: &DeviceArgs) -> Result<()> {
    let t = open(args).await?;
    let si = t.dev.sysinfo().await?;
    print_state(&state_doc(t.addr, &si, args.child.as_deref())?, args.json);
    Ok(())
}

/// `plugctl on|off|toggle`: switch, then read the state back from the device.
pub async fn switch(args: &DeviceArgs, to: Option<bool>) -> Result<()> {
    let t = open(args).await?;
    if let Some(c) = &args.child {
        // Validate the outlet before switching anything, for a clear message.
        find_child(&t.dev.sysinfo().await?, c)?;
    }
    match to {
        Some(on) => t.dev.set_power(on, args.child.as_deref()).await?,
        None => {
            t.dev.toggle(args.child.as_deref()).await?;
        }
    }
    let si = t.dev.sysinfo().await?;
    print_state(&state_doc(t.addr, &si, args.child.as_deref())?, args.json);
    Ok(())
}

/// `plugctl info`.
pub async fn info(args: &DeviceArgs) -> Result<()> {
    let t = open(args).await?;
    let resp = t.dev.query(&Request::get_sysinfo()).await?;
    let mut map =
        resp.result("system", "get_sysinfo").map_err(|e| anyhow::anyhow!("{}: {e}", t.addr))?.clone();
    map.remove("err_code");
    if args.json {
        output::json_line(&Value::Object(map));
        return Ok(());
    }
    let width = map.keys().map(|k| k.len()).max().unwrap_or(0);
    for (k, v) in &map {
        let shown = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        println!("{k:width$}  {shown}");
    }
    Ok(())
}

/// `plugctl energy`.
pub async fn energy(args: &DeviceArgs) -> Result<()> {
    let t = open(args).await?;
    let r = t.dev.energy(args.child.as_deref()).await?;
    let mut doc = json!({
        "host": t.addr.ip().to_string(),
        "port": t.addr.port(),
        "power_w": r.power_w,
        "voltage_v": r.voltage_v,
        "current_a": r.current_a,
        "total_kwh": r.total_kwh,
    });
    if let Some(c) = &args.child {
        doc["child"] = json!(c);
    }
    if args.json {
        output::json_line(&doc);
    } else {
        println!("power    {:>10.3} W", r.power_w);
        println!("voltage  {:>10.3} V", r.voltage_v);
        println!("current  {:>10.3} A", r.current_a);
        println!("total    {:>10.3} kWh", r.total_kwh);
    }
    Ok(())
}

/// `plugctl alias`.
pub async fn alias(args: &AliasArgs) -> Result<()> {
    let d = &args.device;
    let t = open(d).await?;
    if let Some(new) = &args.new {
        if new.is_empty() {
            return Err(usage("the new alias is empty"));
        }
        t.dev.set_alias(new, d.child.as_deref()).await?;
    }
    let si = t.dev.sysinfo().await?;
    let alias = match &d.child {
        Some(c) => find_child(&si, c)?.alias.clone(),
        None => si.alias.clone(),
    };
    if d.json {
        output::json_line(&json!({"host": t.addr.ip().to_string(), "port": t.addr.port(), "alias": alias}));
    } else {
        println!("{alias}");
    }
    Ok(())
}

/// `plugctl led`.
pub async fn led(args: &LedArgs) -> Result<()> {
    let d = &args.device;
    let t = open(d).await?;
    if let Some(state) = args.state {
        t.dev.set_led(state == OnOff::On).await?;
    }
    let si = t.dev.sysinfo().await?;
    let on = !si.led_off.context("the device does not report its LED state (no led_off field)")?;
    if d.json {
        output::json_line(&json!({"host": t.addr.ip().to_string(), "port": t.addr.port(), "led": on}));
    } else {
        println!("led {}", output::on_off(on));
    }
    Ok(())
}

/// `plugctl reboot`.
pub async fn reboot(args: &RebootArgs) -> Result<()> {
    let d = &args.device;
    if args.delay == 0 {
        return Err(usage(
            "--delay 0 makes the plug reboot at once without replying, so success cannot be confirmed; use --delay 1 or more",
        ));
    }
    let t = open(d).await?;
    t.dev.reboot(args.delay).await?;
    if d.json {
        output::json_line(
            &json!({"host": t.addr.ip().to_string(), "port": t.addr.port(), "reboot_in_s": args.delay}),
        );
    } else {
        println!("{} reboots in {} s", t.addr, args.delay);
    }
    Ok(())
}

/// `plugctl raw`.
pub async fn raw(args: &RawArgs) -> Result<()> {
    let d = &args.device;
    let parsed: Value = serde_json::from_str(&args.command)
        .map_err(|e| usage(format!("the command is not valid JSON: {e}")))?;
    if !parsed.is_object() {
        return Err(usage("the command must be a JSON object like {\"system\":{\"get_sysinfo\":{}}}"));
    }
    let t = open(d).await?;
    let reply = t.dev.query_raw(&parsed.to_string()).await?;
    if d.json {
        output::json_line(&reply);
    } else {
        println!("{}", serde_json::to_string_pretty(&reply).unwrap_or_else(|_| reply.to_string()));
    }
    Ok(())
}
