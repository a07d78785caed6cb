//! `plugctl wifi scan|join`: Wi-Fi set-up for both families.

use anyhow::Result;
use plugctl_client::hf::Security;
use serde_json::json;

use super::{device::open, usage};
use crate::{
    args::{DeviceArgs, WifiJoinArgs},
    output,
};

/// `plugctl wifi scan`.
pub async fn scan(args: &DeviceArgs) -> Result<()> {
    let dev = open(args).await?;
    let nets = dev.wifi_scan().await?;
    let addr = dev.addr();
    if args.json {
        output::json_line(&json!({
            "host": addr.ip().to_string(),
            "family": dev.family(),
            "networks": nets,
        }));
        return Ok(());
    }
    let rows: Vec<Vec<String>> = nets
        .iter()
        .map(|n| {
            let opt = |v: Option<String>| v.unwrap_or_default();
            vec![
                n.ssid.clone(),
                n.security.clone(),
                opt(n.signal.map(|s| s.to_string())),
                opt(n.channel.map(|c| c.to_string())),
                opt(n.bssid.clone()),
            ]
        })
        .collect();
    print!("{}", output::table(&["SSID", "SECURITY", "SIGNAL", "CHANNEL", "BSSID"], &rows));
    eprintln!("{} network(s) seen by {addr}", nets.len());
    Ok(())
}

/// `plugctl wifi join`.
pub async fn join(args: &WifiJoinArgs) -> Result<()> {
    let d = &args.device;
    let password = args.password.as_deref().filter(|p| !p.is_empty());
    match (args.security, password) {
        (Security::Open, Some(_)) => return Err(usage("--security open takes no --password")),
        (Security::Wpa2Aes | Security::WpaTkip, None) => {
            return Err(usage(format!("--security {} needs --password", args.security)))
        }
        _ => {}
    }
    if args.ssid.is_empty() || args.ssid.len() > 32 {
        return Err(usage(format!(
            "the SSID must be 1 to 32 bytes; `{}` is {} bytes",
            args.ssid,
            args.ssid.len()
        )));
    }
    args.security
        .wskey(password.unwrap_or_default())
        .map_err(|e| usage(format!("--password does not fit --security {}: {e}", args.security)))?;
    let dev = open(d).await?;
    dev.wifi_join(&args.ssid, args.security, password).await?;
    let addr = dev.addr();
    if d.json {
        output::json_line(&json!({
            "host": addr.ip().to_string(),
            "family": dev.family(),
            "ssid": args.ssid,
            "security": args.security.to_string(),
            "sent": true,
        }));
    } else {
        println!(
            "{} plug at {} joins \"{}\" ({}); it leaves its set-up network now. Find it on your network with `plugctl discover`.",
            dev.family(),
            addr.ip(),
            args.ssid,
            args.security
        );
    }
    Ok(())
}
