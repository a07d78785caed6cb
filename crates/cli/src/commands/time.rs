//! `plugctl time HOST [set|sync]`: device time and zone (kasa-protocol.md §8.4).
//!
//! - `time HOST`: the device's local time, its zone index and the IANA zone of that index,
//!   and how far the device clock is from the host clock;
//! - `time HOST set --at "YYYY-MM-DD HH:MM[:SS]" [--zone IANA | --index N]`, or only a zone
//!   (the device keeps the instant, its local time follows the zone);
//! - `time HOST sync [--zone IANA]`: the host's clock, in the host's zone (or `--zone`),
//!   with the matching firmware zone index.

use anyhow::Result;
use clap::{Args, Subcommand};
use jiff::{civil, tz::TimeZone};
use plugctl_client::kasa::{
    time::{DeviceTime, TimeChange},
    timezone::{self, Fit, ZoneMatch},
    KasaDevice,
};
use serde_json::json;

use super::{device::open, usage};
use crate::{args::DeviceArgs, output};

/// `plugctl time`.
#[derive(Debug, Args)]
pub struct TimeArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Show (default), set or sync.
    #[command(subcommand)]
    pub action: Option<TimeAction>,
}

/// `plugctl time HOST …`.
#[derive(Debug, Subcommand)]
pub enum TimeAction {
    /// Set the device's clock and/or zone explicitly.
    Set(TimeSetArgs),
    /// Push this host's clock to the device, with the matching zone index.
    Sync(TimeSyncArgs),
}

/// `plugctl time HOST set`.
#[derive(Debug, Args)]
pub struct TimeSetArgs {
    /// Local time on the device, `YYYY-MM-DD HH:MM[:SS]`.
    #[arg(long, value_name = "DATETIME", value_parser = parse_local, required_unless_present_any = ["zone", "index"])]
    pub at: Option<civil::DateTime>,
    /// Zone by IANA name (e.g. Europe/Berlin), mapped to the firmware's index table.
    #[arg(long, value_name = "IANA", conflicts_with = "index")]
    pub zone: Option<String>,
    /// Zone by firmware index (0–109).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(0..=109))]
    pub index: Option<u8>,
}

/// `plugctl time HOST sync`.
#[derive(Debug, Args)]
pub struct TimeSyncArgs {
    /// Zone by IANA name; default: this host's zone.
    #[arg(long, value_name = "IANA")]
    pub zone: Option<String>,
}

/// Runs the command.
pub async fn run(args: &TimeArgs) -> Result<()> {
    let d = &args.device;
    // Argument mistakes are found before any network traffic.
    let plan = match &args.action {
        None => Plan::Show,
        Some(TimeAction::Set(s)) => {
            let index = match (&s.zone, s.index) {
                (Some(name), _) => Some(zone_match(name)?),
                (None, Some(i)) => {
                    timezone::zone(i64::from(i)).map(|zone| ZoneMatch { zone, fit: Fit::Name })
                }
                (None, None) => None,
            };
            Plan::Set { at: s.at, index }
        }
        Some(TimeAction::Sync(s)) => Plan::Sync(match &s.zone {
            Some(name) => TimeZone::get(name).map_err(|e| usage(format!("--zone {name}: {e}")))?,
            None => TimeZone::system(),
        }),
    };
    if d.child.is_some() {
        return Err(usage("a strip has one clock; --child does not apply to `time`"));
    }
    let dev = open(d).await?;
    let Some(k) = dev.as_kasa() else {
        anyhow::bail!("{}: Hi-Flying plugs have no clock to show or set; only Kasa plugs do", dev.addr());
    };
    let (t, note) = match plan {
        Plan::Show => (k.time().await?, None),
        Plan::Set { at, index } => {
            let change = set(k, at, index.map(|m| m.zone.index)).await?;
            (change.after.clone(), Some((index, change)))
        }
        Plan::Sync(tz) => {
            let (m, change) = k.sync_time(&tz).await?;
            (change.after.clone(), Some((Some(m), change)))
        }
    };
    if let Some((Some(m), _)) = &note {
        if m.fit == Fit::OffsetNow {
            eprintln!(
                "note: no firmware zone follows the same daylight-saving rules; index {} ({}) has the same UTC offset today",
                m.zone.index, m.zone.iana
            );
        }
    }
    print(k, &t, note.as_ref().map(|(_, c)| c), d.json);
    Ok(())
}

enum Plan {
    Show,
    Set { at: Option<civil::DateTime>, index: Option<ZoneMatch> },
    Sync(TimeZone),
}

async fn set(k: &KasaDevice, at: Option<civil::DateTime>, index: Option<u8>) -> Result<TimeChange> {
    Ok(match (at, index) {
        (Some(local), index) => k.set_time(local, index).await?,
        (None, Some(i)) => k.set_time_zone(i).await?,
        (None, None) => return Err(usage("give --at, --zone or --index")),
    })
}

/// The firmware zone for an IANA name (usage error if unknown or without a match).
fn zone_match(name: &str) -> Result<ZoneMatch> {
    let tz = TimeZone::get(name).map_err(|e| usage(format!("--zone {name}: {e}")))?;
    timezone::index_for_zone(&tz, jiff::Timestamp::now()).map_err(|e| usage(format!("--zone {name}: {e}")))
}

fn print(k: &KasaDevice, t: &DeviceTime, change: Option<&TimeChange>, json_out: bool) {
    let addr = k.addr();
    let zone = t.zone();
    let instant = t.instant();
    if json_out {
        let mut doc = json!({
            "host": addr.ip().to_string(),
            "port": addr.port(),
            "local": t.local.to_string(),
            "index": t.index,
            "zone": zone.map(|z| z.iana),
            "zone_description": zone.map(|z| z.description),
            "utc_offset": instant.as_ref().map(|z| offset_text(z.offset())),
            "utc": instant.as_ref().map(|z| z.timestamp().to_string()),
            "drift_s": t.drift_s(),
        });
        if let Some(s) = &t.zone_str {
            doc["zone_str"] = json!(s);
        }
        if let Some(c) = change {
            doc["method"] = json!(c.method);
        }
        output::json_line(&doc);
        return;
    }
    let when = t.local.strftime("%Y-%m-%d %H:%M:%S");
    let zone_text = match (zone, t.index) {
        (Some(z), _) => format!("{} (index {}, {})", z.iana, z.index, z.description),
        (None, Some(i)) => format!("unknown zone index {i}"),
        (None, None) => "zone not reported".to_string(),
    };
    println!("device time  {when}  {zone_text}");
    if let Some(at) = &instant {
        println!("utc offset   {}", offset_text(at.offset()));
    }
    match t.drift_s() {
        Some(0) => println!("vs host      in step"),
        Some(s) => println!(
            "vs host      {} {}",
            output::duration(s.unsigned_abs()),
            if s > 0 { "ahead" } else { "behind" }
        ),
        None => {}
    }
    if let Some(z) = &t.zone_str {
        println!("firmware     {z}");
    }
    if let Some(c) = change {
        println!("set with     time.{}", c.method);
    }
}

/// `+01:00`, `-03:30`.
fn offset_text(o: jiff::tz::Offset) -> String {
    let secs = o.seconds();
    let sign = if secs < 0 { '-' } else { '+' };
    let m = secs.unsigned_abs() / 60;
    format!("{sign}{:02}:{:02}", m / 60, m % 60)
}

/// Parses `YYYY-MM-DD HH:MM[:SS]` (or with `T`).
fn parse_local(s: &str) -> Result<civil::DateTime, String> {
    let t = s.trim().replace('T', " ");
    let full = if t.len() == 16 { format!("{t}:00") } else { t };
    civil::DateTime::strptime("%Y-%m-%d %H:%M:%S", &full)
        .map_err(|_| {
            format!("`{s}` is not a local time like \"2026-03-01 07:30\" or \"2026-03-01 07:30:15\"")
        })
        .and_then(|dt| {
            if (1970..=2099).contains(&dt.year()) {
                Ok(dt)
            } else {
                Err(format!("year {} is outside 1970-2099", dt.year()))
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_times() {
        assert_eq!(parse_local("2016-01-01 10:10"), Ok(civil::date(2016, 1, 1).at(10, 10, 0, 0)));
        assert_eq!(parse_local("2016-01-01T10:10:05"), Ok(civil::date(2016, 1, 1).at(10, 10, 5, 0)));
        assert!(parse_local("2016-02-30 10:10").is_err());
        assert!(parse_local("10:10").is_err());
        assert!(parse_local("1960-01-01 00:00").is_err());
    }

    #[test]
    fn zones_by_name() {
        assert_eq!(zone_match("Europe/Berlin").unwrap().zone.index, 41);
        assert!(zone_match("Mars/Olympus").is_err());
    }
}
