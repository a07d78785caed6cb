//! `plugctl away HOST …`: away mode, random switching while away (`anti_theft`,
//! kasa-protocol.md §8.8).
//!
//! ```text
//! away HOST list
//! away HOST add --from TIME --to TIME [--days DAYS | --date YYYY-MM-DD] [--frequency N] [--name TEXT] [--disabled]
//! away HOST edit ID [the same options; only the ones given change]
//! away HOST delete ID | clear | enable [ID] | disable [ID]
//! ```
//!
//! TIME is `HH:MM` or `sunrise`/`sunset` with an optional offset (`sunset-30m`); a window
//! whose end is not after its start runs overnight. Away mode itself is off until
//! `away HOST enable` (the list's overall switch, off by default on real plugs).

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use plugctl_client::{
    kasa::{
        away::{AwayRule, DEFAULT_FREQUENCY, MAX_FREQUENCY},
        rules::{self, Days, DeviceRule, RuleDate, RuleError, RuleList, TimeSpec},
    },
    Device,
};
use serde_json::{json, Value};

use super::{
    schedule::{add_error, doc, find, kasa_device, module_error, report, time_json, yes_no},
    usage,
};
use crate::{args::DeviceArgs, output};

/// `plugctl away`.
#[derive(Debug, Args)]
pub struct AwayArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    /// What to do.
    #[command(subcommand)]
    pub action: AwayAction,
}

/// `plugctl away HOST …`.
#[derive(Debug, Subcommand)]
pub enum AwayAction {
    /// Show the away rules and whether away mode is on.
    List,
    /// Add an away window, e.g. `add --from 18:00 --to 23:30 --days daily`.
    Add(AwayOpts),
    /// Change an away rule: only the options given change.
    Edit {
        /// The rule id (or a unique prefix of it).
        id: String,
        #[command(flatten)]
        opts: AwayOpts,
    },
    /// Delete one away rule.
    Delete {
        /// The rule id (or a unique prefix of it).
        id: String,
    },
    /// Delete every away rule.
    Clear,
    /// Turn away mode on, or with ID one rule.
    Enable {
        /// The rule id (or a unique prefix of it).
        id: Option<String>,
    },
    /// Turn away mode off (rules are kept), or with ID one rule.
    Disable {
        /// The rule id (or a unique prefix of it).
        id: Option<String>,
    },
}

/// The options that describe an away rule.
#[derive(Debug, Args, Default)]
pub struct AwayOpts {
    /// Window start: HH:MM, or sunrise/sunset with an offset like sunset-30m.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub from: Option<TimeSpec>,
    /// Window end (overnight if not after the start).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub to: Option<TimeSpec>,
    /// Repeat on these days: mon-fri, weekdays, weekends, daily, mon,wed,fri (default daily).
    #[arg(long, value_name = "DAYS", value_parser = parse_days, conflicts_with = "date")]
    pub days: Option<Days>,
    /// Run once, on this date of the plug's calendar.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub date: Option<RuleDate>,
    /// How often it switches within the window (1–10, default 5).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=i64::from(MAX_FREQUENCY)))]
    pub frequency: Option<u16>,
    /// A name for the rule (at most 32 bytes).
    #[arg(long, value_name = "TEXT")]
    pub name: Option<String>,
    /// Store the rule switched off.
    #[arg(long, conflicts_with = "enabled")]
    pub disabled: bool,
    /// Switch the rule on (edit).
    #[arg(long)]
    pub enabled: bool,
}

impl AwayOpts {
    fn is_empty(&self) -> bool {
        self.from.is_none()
            && self.to.is_none()
            && self.days.is_none()
            && self.date.is_none()
            && self.frequency.is_none()
            && self.name.is_none()
            && !self.disabled
            && !self.enabled
    }

    fn apply(&self, rule: &mut AwayRule) -> Result<()> {
        if let Some(t) = self.from {
            rule.from = t;
        }
        if let Some(t) = self.to {
            rule.to = t;
        }
        if let Some(d) = self.days {
            if d.is_empty() {
                return Err(usage(RuleError::NoDays.to_string()));
            }
            rule.days = d;
            rule.repeat = true;
            rule.date = None;
        }
        if let Some(d) = self.date {
            rule.days = Days::only(d.weekday());
            rule.repeat = false;
            rule.date = Some(d);
        }
        if let Some(f) = self.frequency {
            rule.frequency = f;
        }
        if let Some(n) = &self.name {
            rule.name = n.clone();
        }
        if self.disabled || self.enabled {
            rule.enable = self.enabled;
        }
        rule.check().map_err(|e| usage(e.to_string()))
    }
}

fn parse_time(s: &str) -> Result<TimeSpec, String> {
    s.parse().map_err(|e: RuleError| e.to_string())
}

fn parse_days(s: &str) -> Result<Days, String> {
    s.parse().map_err(|e: RuleError| e.to_string())
}

fn parse_date(s: &str) -> Result<RuleDate, String> {
    s.parse().map_err(|e: RuleError| e.to_string())
}

/// Runs the command.
pub async fn run(args: &AwayArgs) -> Result<()> {
    let d = &args.device;
    if let AwayAction::Add(o) = &args.action {
        if o.from.is_none() || o.to.is_none() {
            return Err(usage("add needs a window: --from TIME --to TIME (e.g. --from 18:00 --to 23:30)"));
        }
        o.apply(&mut AwayRule::new(TimeSpec::At(0), TimeSpec::At(1)))?;
    }
    if let AwayAction::Edit { opts, .. } = &args.action {
        if opts.is_empty() {
            return Err(usage(
                "edit needs at least one option to change (see `plugctl away HOST edit --help`)",
            ));
        }
    }
    let dev = kasa_device(d, "away mode").await?;
    let Device::Kasa(k) = &dev else { bail!("{}: not a Kasa plug", dev.addr()) };
    let rules = k.away(d.child.as_deref());
    let addr = k.addr();
    let err = |e| module_error(e, "away mode");
    match &args.action {
        AwayAction::List => print_list(d.json, addr, &rules.list().await.map_err(err)?),
        AwayAction::Add(o) => {
            let mut rule = AwayRule::new(TimeSpec::At(0), TimeSpec::At(1));
            o.apply(&mut rule)?;
            if let Some(date) = rule.date {
                let now = k.local_now().await.ok();
                rules::check_not_past(date, None, now.as_ref()).map_err(|e| usage(e.to_string()))?;
            }
            rule.id = match rules.add(&rule).await {
                Ok(id) => id,
                Err(e) => return Err(add_error(e, "away", rules.list().await.ok().map(|l| l.rules.len()))),
            };
            let on = rules.list().await.map(|l| l.enabled).unwrap_or(false);
            if d.json {
                output::json_line(&doc(addr, json!({"added": rule_json(&rule), "away_mode": on})));
            } else {
                println!("added away rule {}: {}, {}", rule.id, rule.when(), describe(&rule));
                if !on {
                    println!("note: away mode is off; `plugctl away {} enable` turns it on", d.host);
                }
            }
        }
        AwayAction::Edit { id, opts } => {
            let list = rules.list().await.map_err(err)?;
            let mut rule = find(&list, id)?.clone();
            opts.apply(&mut rule)?;
            rules.edit(&rule).await.map_err(err)?;
            if d.json {
                output::json_line(&doc(addr, json!({"edited": rule_json(&rule)})));
            } else {
                println!("edited away rule {}: {}, {}", rule.id, rule.when(), describe(&rule));
            }
        }
        AwayAction::Delete { id } => {
            let full = find(&rules.list().await.map_err(err)?, id)?.id.clone();
            rules.delete(&full).await.map_err(err)?;
            report(d.json, addr, json!({"deleted": full}), &format!("deleted away rule {full}"));
        }
        AwayAction::Clear => {
            let n = rules.list().await.map_err(err)?.rules.len();
            rules.clear().await.map_err(err)?;
            let s = if n == 1 { "" } else { "s" };
            report(d.json, addr, json!({"removed": n}), &format!("removed {n} away rule{s}"));
        }
        AwayAction::Enable { id } | AwayAction::Disable { id } => {
            let on = matches!(args.action, AwayAction::Enable { .. });
            let word = if on { "on" } else { "off" };
            match id {
                None => {
                    rules.set_overall_enable(on).await.map_err(err)?;
                    report(d.json, addr, json!({"away_mode": on}), &format!("away mode {word}"));
                }
                Some(id) => {
                    let list = rules.list().await.map_err(err)?;
                    let mut rule = find(&list, id)?.clone();
                    rule.enable = on;
                    rules.edit(&rule).await.map_err(err)?;
                    let text = format!("away rule {} {}", rule.id, if on { "enabled" } else { "disabled" });
                    report(d.json, addr, json!({"id": rule.id, "enabled": on}), &text);
                }
            }
        }
    }
    Ok(())
}

fn describe(r: &AwayRule) -> String {
    let f = if r.frequency == 0 { DEFAULT_FREQUENCY } else { r.frequency };
    format!("random switching {} (frequency {f})", r.window())
}

fn rule_json(r: &AwayRule) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "enabled": r.enable,
        "repeat": r.repeat,
        "days": r.days.names(),
        "date": r.date.map(|d| d.to_string()),
        "from": time_json(&r.from),
        "to": time_json(&r.to),
        "frequency": r.frequency,
        "text": format!("{}, {}", r.when(), describe(r)),
    })
}

fn print_list(json_out: bool, addr: std::net::SocketAddr, list: &RuleList<AwayRule>) {
    if json_out {
        let rules: Vec<Value> = list.rules.iter().map(rule_json).collect();
        output::json_line(&doc(addr, json!({"enabled": list.enabled, "rules": rules})));
        return;
    }
    let n = list.rules.len();
    let state = if list.enabled { "ON" } else { "off" };
    println!("away mode {state}, {n} rule{}", if n == 1 { "" } else { "s" });
    if list.rules.is_empty() {
        return;
    }
    let rows: Vec<Vec<String>> = list
        .rules
        .iter()
        .map(|r| {
            let days = r.date.map_or_else(|| r.days.to_string(), |d| d.to_string());
            let repeat = if r.repeat && r.date.is_none() { "weekly" } else { "once" };
            vec![
                r.id.clone(),
                r.name.clone(),
                yes_no(r.enable).into(),
                days,
                r.window(),
                r.frequency.to_string(),
                repeat.into(),
            ]
        })
        .collect();
    print!("{}", output::table(&["ID", "NAME", "ENABLED", "DAYS", "WINDOW", "FREQUENCY", "REPEAT"], &rows));
}
