//! `plugctl energy`: the energy meter (kasa-protocol.md §8.5; Hi-Flying `AT+YZOUT`):
//! realtime, per day of a month (`--month YYYY-MM`), per month of a year (`--year YYYY`),
//! and erasing the statistics (`--erase --yes`). A strip shows every outlet and the total,
//! or one outlet with `--child`.

use anyhow::Result;
use clap::Args;
use plugctl_client::{
    kasa::{
        energy::{EnergyStat, OutletValue, Period},
        EmeterReading, KasaDevice,
    },
    Device,
};
use serde_json::{json, Value};

use super::{device::open, usage};
use crate::{args::DeviceArgs, output};

/// A `YYYY-MM` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct YearMonth {
    /// Year.
    pub year: i32,
    /// Month 1–12.
    pub month: u32,
}

/// `plugctl energy`.
#[derive(Debug, Args)]
pub struct EnergyArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    /// Energy per day of this month (kWh).
    #[arg(long, value_name = "YYYY-MM", value_parser = parse_month, conflicts_with_all = ["year", "erase"])]
    pub month: Option<YearMonth>,
    /// Energy per month of this year (kWh).
    #[arg(long, value_name = "YYYY", value_parser = parse_year, conflicts_with = "erase")]
    pub year: Option<i32>,
    /// Erase the day and month statistics (the cumulative total stays); needs --yes.
    #[arg(long)]
    pub erase: bool,
    /// Confirm --erase.
    #[arg(long, requires = "erase")]
    pub yes: bool,
}

/// `plugctl energy`.
pub async fn run(a: &EnergyArgs) -> Result<()> {
    let args = &a.device;
    if a.erase && !a.yes {
        return Err(usage(
            "--erase deletes the plug's energy statistics per day and per month (of every outlet of a strip unless \
             --child is given); the cumulative total stays. Add --yes to confirm",
        ));
    }
    let dev = open(args).await?;
    super::device::check_child(&dev, args.child.as_deref()).await?;
    let period = match (a.month, a.year) {
        (Some(m), _) => Some(Period::Month { year: m.year, month: m.month }),
        (None, Some(y)) => Some(Period::Year { year: y }),
        (None, None) => None,
    };
    if !a.erase && period.is_none() {
        return realtime(&dev, args).await;
    }
    let Some(k) = dev.as_kasa() else {
        anyhow::bail!(
            "{}: Hi-Flying plugs keep no energy statistics; only the realtime reading (plugctl energy HOST)",
            dev.addr()
        );
    };
    if a.erase {
        return erase(k, args).await;
    }
    match period {
        Some(p) => stats(k, args, p).await,
        None => Ok(()),
    }
}

fn place(dev_addr: std::net::SocketAddr) -> Value {
    json!({ "host": dev_addr.ip().to_string(), "port": dev_addr.port() })
}

fn reading_json(e: &EmeterReading) -> Value {
    json!({ "power_w": e.power_w, "voltage_v": e.voltage_v, "current_a": e.current_a, "total_kwh": e.total_kwh })
}

async fn realtime(dev: &Device, args: &DeviceArgs) -> Result<()> {
    let e = dev.energy(args.child.as_deref()).await?;
    let addr = dev.addr();
    // A whole strip: every outlet too.
    let outlets: Vec<OutletValue<EmeterReading>> = match (dev.as_kasa(), &args.child) {
        (Some(k), None) if k.last_sysinfo().is_some_and(|s| !s.children.is_empty()) => {
            k.outlets_energy().await?
        }
        _ => Vec::new(),
    };
    if args.json {
        let mut doc = place(addr);
        doc["family"] = json!(dev.family());
        for (k, v) in [
            ("power_w", e.power_w),
            ("voltage_v", e.voltage_v),
            ("current_a", e.current_a),
            ("total_kwh", e.total_kwh),
        ] {
            doc[k] = json!(v);
        }
        if let Some(f) = e.frequency_hz {
            doc["frequency_hz"] = json!(f);
        }
        if let Some(c) = &args.child {
            doc["child"] = json!(dev.as_kasa().map_or_else(|| c.clone(), |k| full_child_id(k, c)));
        }
        if !outlets.is_empty() {
            doc["outlets"] = outlets
                .iter()
                .map(|o| {
                    let mut v = reading_json(&o.value);
                    v["index"] = json!(o.index);
                    v["id"] = json!(o.id);
                    v["alias"] = json!(o.alias);
                    v
                })
                .collect();
        }
        output::json_line(&doc);
        return Ok(());
    }
    if !outlets.is_empty() {
        let rows: Vec<Vec<String>> = outlets
            .iter()
            .map(|o| {
                vec![
                    o.index.to_string(),
                    o.alias.clone(),
                    format!("{:.3}", o.value.power_w),
                    format!("{:.3}", o.value.voltage_v),
                    format!("{:.3}", o.value.current_a),
                    format!("{:.3}", o.value.total_kwh),
                ]
            })
            .collect();
        print!("{}", output::table(&["#", "ALIAS", "POWER W", "VOLTAGE V", "CURRENT A", "TOTAL kWh"], &rows));
        println!("all outlets:");
    }
    println!("power    {:>10.3} W", e.power_w);
    println!("voltage  {:>10.3} V", e.voltage_v);
    println!("current  {:>10.3} A", e.current_a);
    if let Some(f) = e.frequency_hz {
        println!("freq     {f:>10.3} Hz");
    }
    println!("total    {:>10.3} kWh", e.total_kwh);
    Ok(())
}

async fn erase(k: &KasaDevice, args: &DeviceArgs) -> Result<()> {
    k.erase_energy_stats(args.child.as_deref()).await?;
    let addr = k.addr();
    if args.json {
        let mut doc = place(addr);
        doc["erased"] = json!(true);
        if let Some(c) = &args.child {
            doc["child"] = json!(full_child_id(k, c));
        }
        output::json_line(&doc);
    } else {
        let what = args.child.as_ref().map(|c| format!(" of outlet {c}")).unwrap_or_default();
        println!("{addr}: energy statistics{what} erased");
    }
    Ok(())
}

/// The label of a statistics entry: `2026-11-01` for a day, `2026-11` for a month.
fn label(s: &EnergyStat) -> String {
    match s.day {
        Some(d) => format!("{:04}-{:02}-{d:02}", s.year, s.month),
        None => format!("{:04}-{:02}", s.year, s.month),
    }
}

fn entries_json(list: &[EnergyStat]) -> Value {
    list.iter().map(|s| json!({ "date": label(s), "energy_kwh": round6(s.energy_kwh) })).collect()
}

fn total(list: &[EnergyStat]) -> f64 {
    list.iter().map(|s| s.energy_kwh).sum()
}

/// The outlet's full id as the device knows it (for `--json`), or the argument as given.
fn full_child_id(k: &KasaDevice, spec: &str) -> String {
    k.last_sysinfo().and_then(|si| si.child(spec).map(|c| c.id.clone())).unwrap_or_else(|| spec.to_string())
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

async fn stats(k: &KasaDevice, args: &DeviceArgs, period: Period) -> Result<()> {
    let strip_all = args.child.is_none() && !k.sysinfo().await?.children.is_empty();
    let outlets = if strip_all { k.outlets_energy_stats(period).await? } else { Vec::new() };
    let list = if strip_all {
        plugctl_client::kasa::energy::sum_stats(outlets.iter().map(|o| o.value.as_slice()))
    } else {
        k.energy_stats(period, args.child.as_deref()).await?
    };
    let (key, name, caption) = match period {
        Period::Month { year, month } => ("days", format!("{year:04}-{month:02}"), "per day"),
        Period::Year { year } => ("months", format!("{year:04}"), "per month"),
    };
    if args.json {
        let mut doc = place(k.addr());
        doc[if key == "days" { "month" } else { "year" }] = json!(name);
        doc["unit"] = json!("kWh");
        doc[key] = entries_json(&list);
        doc["total_kwh"] = json!(round6(total(&list)));
        if let Some(c) = &args.child {
            doc["child"] = json!(full_child_id(k, c));
        }
        if strip_all {
            doc["outlets"] = outlets
                .iter()
                .map(|o| {
                    json!({
                        "index": o.index, "id": o.id, "alias": o.alias,
                        key: entries_json(&o.value), "total_kwh": round6(total(&o.value)),
                    })
                })
                .collect();
        }
        output::json_line(&doc);
        return Ok(());
    }
    println!("energy {caption}, {name} (kWh)");
    if list.is_empty() {
        println!("no statistics recorded for {name}");
        return Ok(());
    }
    let mut header: Vec<String> = vec!["DATE".into()];
    header.extend(outlets.iter().map(|o| format!("#{}", o.index)));
    header.push(if strip_all { "TOTAL".into() } else { "ENERGY".into() });
    let value_of = |list: &[EnergyStat], s: &EnergyStat| {
        list.iter()
            .find(|x| (x.year, x.month, x.day) == (s.year, s.month, s.day))
            .map_or(0.0, |x| x.energy_kwh)
    };
    let mut rows: Vec<Vec<String>> = list
        .iter()
        .map(|s| {
            let mut row = vec![label(s)];
            row.extend(outlets.iter().map(|o| format!("{:.3}", value_of(&o.value, s))));
            row.push(format!("{:.3}", s.energy_kwh));
            row
        })
        .collect();
    let mut sum_row = vec!["total".to_string()];
    sum_row.extend(outlets.iter().map(|o| format!("{:.3}", total(&o.value))));
    sum_row.push(format!("{:.3}", total(&list)));
    rows.push(sum_row);
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    print!("{}", output::table(&header, &rows));
    Ok(())
}

fn parse_year(s: &str) -> Result<i32, String> {
    let y: i32 = s.trim().parse().map_err(|_| format!("`{s}` is not a year like 2026"))?;
    if !plugctl_client::kasa::energy::YEARS.contains(&y) {
        return Err(format!("year {y} is outside 1970-2099"));
    }
    Ok(y)
}

fn parse_month(s: &str) -> Result<YearMonth, String> {
    let bad = || format!("`{s}` is not a month like 2026-03 (YYYY-MM)");
    let (y, m) = s.trim().split_once('-').ok_or_else(bad)?;
    let year = parse_year(y).map_err(|_| bad())?;
    let month: u32 = m.parse().map_err(|_| bad())?;
    if !(1..=12).contains(&month) {
        return Err(format!("month {month} in `{s}` is not 1-12"));
    }
    Ok(YearMonth { year, month })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_and_year_arguments() {
        assert_eq!(parse_month("2026-03"), Ok(YearMonth { year: 2026, month: 3 }));
        assert_eq!(parse_month("2026-3"), Ok(YearMonth { year: 2026, month: 3 }));
        assert!(parse_month("2026-13").is_err());
        assert!(parse_month("2026").is_err());
        assert!(parse_month("x-01").is_err());
        assert_eq!(parse_year("2026"), Ok(2026));
        assert!(parse_year("1900").is_err());
    }
}
