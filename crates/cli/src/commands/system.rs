//! System commands: `location`, `reset`, `brightness` (kasa-protocol.md §8.1, §8.9).

use anyhow::Result;
use clap::Args;
use plugctl_client::{kasa::KasaDevice, Device};
use serde_json::json;

use super::{device::open, usage};
use crate::{args::DeviceArgs, output};

/// `plugctl location`.
#[derive(Debug, Args)]
pub struct LocationArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    /// New latitude in degrees (-90..90); with LON. Omit both to show the location.
    #[arg(value_name = "LAT", allow_negative_numbers = true, requires = "longitude")]
    pub latitude: Option<f64>,
    /// New longitude in degrees (-180..180).
    #[arg(value_name = "LON", allow_negative_numbers = true)]
    pub longitude: Option<f64>,
}

/// `plugctl reset`.
#[derive(Debug, Args)]
pub struct ResetArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Confirm: the plug forgets its settings.
    #[arg(long)]
    pub yes: bool,
    /// Seconds before the plug resets (at least 1: with 0 it would not reply).
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub delay: u32,
}

/// `plugctl brightness`.
#[derive(Debug, Args)]
pub struct BrightnessArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    /// New brightness 1-100 (0 switches the dimmer off); omit to show it.
    #[arg(value_name = "0-100", value_parser = clap::value_parser!(u8).range(0..=100))]
    pub level: Option<u8>,
}

/// What a factory reset wipes, for the confirmation message.
const RESET_WIPES: &str = "a factory reset makes the plug forget its Wi-Fi network, name, cloud binding, \
schedules, timers, away mode, location and LED setting, and reboot into set-up mode (its own access point); \
add --yes to confirm";

fn kasa<'a>(dev: &'a Device, what: &str) -> Result<&'a KasaDevice> {
    match dev.as_kasa() {
        Some(k) => Ok(k),
        None => anyhow::bail!("{}: Hi-Flying plugs have no {what}; only Kasa plugs do", dev.addr()),
    }
}

fn no_child(args: &DeviceArgs, cmd: &str) -> Result<()> {
    match &args.child {
        Some(_) => Err(usage(format!("`{cmd}` applies to the whole device; --child does not apply"))),
        None => Ok(()),
    }
}

/// `plugctl location`.
pub async fn location(args: &LocationArgs) -> Result<()> {
    let d = &args.device;
    no_child(d, "location")?;
    if let (Some(lat), Some(lon)) = (args.latitude, args.longitude) {
        plugctl_client::kasa::system::check_location(lat, lon).map_err(usage)?;
    }
    let dev = open(d).await?;
    let k = kasa(&dev, "location setting")?;
    if let (Some(lat), Some(lon)) = (args.latitude, args.longitude) {
        k.set_location(lat, lon).await?;
    }
    let loc = k.location().await?;
    let addr = k.addr();
    if d.json {
        output::json_line(&json!({
            "host": addr.ip().to_string(),
            "port": addr.port(),
            "latitude": loc.map(|l| l.0),
            "longitude": loc.map(|l| l.1),
        }));
    } else {
        match loc {
            Some((lat, lon)) => println!("{lat:.4} {lon:.4}"),
            None => println!("{addr}: the device reports no location"),
        }
    }
    Ok(())
}

/// `plugctl reset`.
pub async fn reset(args: &ResetArgs) -> Result<()> {
    let d = &args.device;
    no_child(d, "reset")?;
    if !args.yes {
        return Err(usage(RESET_WIPES));
    }
    if args.delay == 0 {
        return Err(usage("--delay 0 makes the plug reset without replying, so success cannot be confirmed; use --delay 1 or more"));
    }
    let dev = open(d).await?;
    let k = kasa(&dev, "factory reset command")?;
    k.factory_reset(args.delay).await?;
    let addr = k.addr();
    if d.json {
        output::json_line(
            &json!({"host": addr.ip().to_string(), "port": addr.port(), "reset_in_s": args.delay}),
        );
    } else {
        println!("{addr} resets to factory settings in {} s; it comes back in set-up mode", args.delay);
    }
    Ok(())
}

/// `plugctl brightness`.
pub async fn brightness(args: &BrightnessArgs) -> Result<()> {
    let d = &args.device;
    no_child(d, "brightness")?;
    let dev = open(d).await?;
    let k = kasa(&dev, "dimmer")?;
    if let Some(level) = args.level {
        k.set_brightness(level).await?;
    }
    let b = k.brightness().await?;
    let on = k.last_sysinfo().map(|s| s.is_on());
    let addr = k.addr();
    if d.json {
        output::json_line(
            &json!({"host": addr.ip().to_string(), "port": addr.port(), "brightness": b, "on": on}),
        );
    } else {
        let state = match on {
            Some(true) => " (on)",
            Some(false) => " (off)",
            None => "",
        };
        println!("brightness {b}%{state}");
    }
    Ok(())
}
