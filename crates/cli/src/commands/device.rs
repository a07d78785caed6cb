//! Commands that talk to one device: state, on, off, toggle, info, energy, alias, led,
//! reboot, raw. They work for both families through [`plugctl_client::Device`]; alias, LED
//! and reboot exist on Kasa plugs only.

use std::{net::SocketAddr, time::Duration};

use anyhow::{bail, Result};
use plugctl_client::{
    device::{RawReply, State},
    hf::HfConfig,
    kasa::{ClientConfig, KasaDevice, KlapProbe},
    ConnectOptions, Device, Family,
};
use serde_json::{json, Value};

use super::usage;
use crate::{
    args::{AliasArgs, DeviceArgs, LedArgs, OnOff, RawArgs, RebootArgs},
    output, target,
};

/// Connection options from the common flags.
pub fn connect_options(args: &DeviceArgs, port: Option<u16>, family: Option<Family>) -> ConnectOptions {
    let kasa = ClientConfig {
        timeout: Duration::from_secs_f64(args.timeout),
        retries: args.retries,
        klap: Some(KlapProbe {
            http_port: args.klap_http_port,
            udp_port: args.klap_udp_port,
            timeout: Duration::from_secs_f64(args.timeout.min(2.0)),
        }),
        ..ClientConfig::default()
    };
    let hf = HfConfig {
        udp_port: args.udp_port,
        reply_port: args.udp_port,
        assist_password: args.assist_password.clone(),
        ..HfConfig::from_client(&kasa)
    };
    ConnectOptions { family, port, kasa, hf }
}

/// Resolves the host and connects (probing the family unless given).
pub async fn open(args: &DeviceArgs) -> Result<Device> {
    open_as(args, args.family).await
}

async fn open_as(args: &DeviceArgs, family: Option<Family>) -> Result<Device> {
    let (ip, port) = target::resolve(&args.host).await.map_err(|e| usage(format!("{e:#}")))?;
    Ok(Device::connect(ip, &connect_options(args, port, family)).await?)
}

/// The Kasa handle of a device, or a clear error for a Hi-Flying plug.
fn kasa_only<'a>(dev: &'a Device, what: &str) -> Result<&'a KasaDevice> {
    match dev.as_kasa() {
        Some(k) => Ok(k),
        None => bail!("{}: Hi-Flying plugs have no {what}; only Kasa plugs do", dev.addr()),
    }
}

/// The JSON document `state`, `on`, `off` and `toggle` print: the state plus where.
fn state_doc(addr: SocketAddr, st: &State) -> Value {
    let mut doc = json!({ "host": addr.ip().to_string(), "port": addr.port() });
    if let (Value::Object(d), Ok(Value::Object(s))) = (&mut doc, serde_json::to_value(st)) {
        d.extend(s);
    }
    doc
}

fn print_state(addr: SocketAddr, st: &State, json_out: bool) {
    if json_out {
        return output::json_line(&state_doc(addr, st));
    }
    let mut line =
        format!("{} \"{}\" at {addr} is {}", st.model, st.alias, output::on_off(st.on).to_uppercase());
    if let (true, Some(t)) = (st.on, st.on_time) {
        line.push_str(&format!(" (on for {})", output::duration(t)));
    }
    println!("{line}");
    if let Some(next) = &st.next_action {
        println!("next: {}", next.describe());
    }
    if !st.children.is_empty() {
        let rows: Vec<Vec<String>> = st
            .children
            .iter()
            .map(|c| {
                vec![c.index.to_string(), c.alias.clone(), output::on_off(c.on).to_string(), c.id.clone()]
            })
            .collect();
        print!("{}", output::table(&["#", "ALIAS", "STATE", "ID"], &rows));
    }
}

/// Checks `--child` against the device before acting, for a clear message.
pub async fn check_child(dev: &Device, child: Option<&str>) -> Result<()> {
    let Some(spec) = child else { return Ok(()) };
    match dev {
        Device::Hf(_) => Err(usage(format!("--child {spec}: Hi-Flying plugs have a single outlet"))),
        Device::Kasa(k) => {
            let si = k.sysinfo().await?;
            if si.children.is_empty() {
                return Err(usage(format!(
                    "--child {spec}: {} has no outlets (it is not a strip)",
                    si.model
                )));
            }
            if si.child(spec).is_none() {
                return Err(usage(format!(
                    "--child {spec}: no such outlet; {} has outlets 0..{} (or their ids)",
                    si.model,
                    si.children.len() - 1
                )));
            }
            Ok(())
        }
    }
}

/// `plugctl state`.
pub async fn state(args: &DeviceArgs) -> Result<()> {
    let dev = open(args).await?;
    check_child(&dev, args.child.as_deref()).await?;
    let st = dev.state(args.child.as_deref()).await?;
    print_state(dev.addr(), &st, args.json);
    Ok(())
}

/// `plugctl on|off|toggle`: switch, then read the state back from the device.
pub async fn switch(args: &DeviceArgs, to: Option<bool>) -> Result<()> {
    let dev = open(args).await?;
    let child = args.child.as_deref();
    check_child(&dev, child).await?;
    match to {
        Some(on) => dev.set_power(on, child).await?,
        None => {
            dev.toggle(child).await?;
        }
    }
    let st = dev.state(child).await?;
    print_state(dev.addr(), &st, args.json);
    Ok(())
}

/// `plugctl info`.
pub async fn info(args: &DeviceArgs) -> Result<()> {
    let dev = open(args).await?;
    let map = dev.info().await?;
    if args.json {
        output::json_line(&map);
        return Ok(());
    }
    print_tree(&map, "");
    Ok(())
}

/// Prints an object as aligned `key  value` lines (nested objects as `a.b`).
fn print_tree(v: &Value, prefix: &str) {
    let Value::Object(map) = v else {
        println!("{prefix}{v}");
        return;
    };
    let width = map.keys().map(|k| k.len() + prefix.len()).max().unwrap_or(0);
    for (k, v) in map {
        match v {
            Value::Object(_) => print_tree(v, &format!("{prefix}{k}.")),
            Value::String(s) => println!("{:width$}  {s}", format!("{prefix}{k}")),
            Value::Null => {}
            other => println!("{:width$}  {other}", format!("{prefix}{k}")),
        }
    }
}

/// `plugctl alias`.
pub async fn alias(args: &AliasArgs) -> Result<()> {
    let d = &args.device;
    if args.new.as_deref() == Some("") {
        return Err(usage("the new alias is empty"));
    }
    if let Some(new) = &args.new {
        plugctl_client::kasa::system::check_alias(new).map_err(|e| usage(e.to_string()))?;
    }
    let dev = open(d).await?;
    let k = kasa_only(&dev, "name")?;
    check_child(&dev, d.child.as_deref()).await?;
    if let Some(new) = &args.new {
        k.set_alias(new, d.child.as_deref()).await?;
    }
    let alias = dev.state(d.child.as_deref()).await?.alias;
    if d.json {
        output::json_line(
            &json!({"host": dev.addr().ip().to_string(), "port": dev.addr().port(), "alias": alias}),
        );
    } else {
        println!("{alias}");
    }
    Ok(())
}

/// `plugctl led`.
pub async fn led(args: &LedArgs) -> Result<()> {
    let d = &args.device;
    let dev = open(d).await?;
    let k = kasa_only(&dev, "status LED control")?;
    if let Some(state) = args.state {
        k.set_led(state == OnOff::On).await?;
    }
    let si = k.sysinfo().await?;
    let Some(off) = si.led_off else {
        bail!("{}: the device does not report its LED state (no led_off field)", dev.addr());
    };
    if d.json {
        output::json_line(
            &json!({"host": dev.addr().ip().to_string(), "port": dev.addr().port(), "led": !off}),
        );
    } else {
        println!("led {}", output::on_off(!off));
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
    let dev = open(d).await?;
    kasa_only(&dev, "reboot command")?.reboot(args.delay).await?;
    let addr = dev.addr();
    if d.json {
        output::json_line(
            &json!({"host": addr.ip().to_string(), "port": addr.port(), "reboot_in_s": args.delay}),
        );
    } else {
        println!("{addr} reboots in {} s", args.delay);
    }
    Ok(())
}

/// Whether a raw command is a Hi-Flying AT line rather than Kasa JSON.
fn is_at_line(cmd: &str) -> bool {
    cmd.trim_start().get(..2).is_some_and(|p| p.eq_ignore_ascii_case("AT"))
}

/// `plugctl raw`.
pub async fn raw(args: &RawArgs) -> Result<()> {
    let d = &args.device;
    let cmd = args.command.as_str();
    let family = if is_at_line(cmd) {
        if d.family == Some(Family::Kasa) {
            return Err(usage("an AT line is a Hi-Flying command; Kasa plugs take JSON"));
        }
        Family::Hf
    } else {
        let parsed: Value = serde_json::from_str(cmd)
            .map_err(|e| usage(format!("the command is neither Kasa JSON ({e}) nor a Hi-Flying AT line")))?;
        if !parsed.is_object() {
            return Err(usage("a Kasa command is a JSON object like {\"system\":{\"get_sysinfo\":{}}}"));
        }
        if d.family == Some(Family::Hf) {
            return Err(usage("Hi-Flying plugs take AT lines like 'AT+YZOUT', not JSON"));
        }
        Family::Kasa
    };
    let dev = open_as(d, Some(family)).await?;
    let command = match family {
        Family::Kasa => {
            serde_json::from_str::<Value>(cmd).map(|v| v.to_string()).unwrap_or_else(|_| cmd.to_string())
        }
        Family::Hf => cmd.trim().to_string(),
    };
    match dev.raw(&command).await? {
        RawReply::Json(reply) if d.json => output::json_line(&reply),
        RawReply::Json(reply) => {
            println!("{}", serde_json::to_string_pretty(&reply).unwrap_or_else(|_| reply.to_string()))
        }
        RawReply::Text(text) if d.json => output::json_line(&json!({ "reply": text.trim_end() })),
        RawReply::Text(text) => println!("{}", text.trim_end()),
    }
    Ok(())
}
