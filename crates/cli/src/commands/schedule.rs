//! `plugctl schedule HOST …`: the plug's own schedule rules (kasa-protocol.md §8.6), which
//! it runs on its own clock, with a human grammar:
//!
//! ```text
//! schedule HOST list
//! schedule HOST add (--at HH:MM | --sunrise | --sunset) [--offset ±Nm|±Nh] [--days DAYS | --date YYYY-MM-DD]
//!                   (--on | --off) [--name TEXT] [--disabled]
//! schedule HOST edit ID [the same options; only the ones given change]
//! schedule HOST delete ID | clear | enable [ID] | disable [ID]
//! ```
//!
//! IDs may be shortened to any unique prefix. `enable`/`disable` without an ID switch the
//! whole schedule (`set_overall_enable`). `--child` addresses one strip outlet. Argument
//! mistakes exit with code 2 before anything is sent; a one-shot date in the past is
//! checked against the plug's own clock.

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use plugctl_client::{
    kasa::{
        rules::{self, Action, Days, DeviceRule, LocalNow, RuleDate, RuleError, RuleList, TimeSpec},
        schedule::ScheduleRule,
        DeviceErrorKind, KasaDevice,
    },
    Device, Error,
};
use serde_json::{json, Value};

use super::{device::open, usage};
use crate::{args::DeviceArgs, output};

/// `plugctl schedule`.
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    #[command(flatten)]
    pub device: DeviceArgs,
    /// What to do.
    #[command(subcommand)]
    pub action: ScheduleAction,
}

/// `plugctl schedule HOST …`.
#[derive(Debug, Subcommand)]
pub enum ScheduleAction {
    /// Show the rules and whether the schedule is on.
    List,
    /// Add a rule, e.g. `add --at 07:30 --days mon-fri --on` or `add --sunset --offset -15m --off`.
    Add(RuleOpts),
    /// Change a rule: only the options given change.
    Edit {
        /// The rule id (or a unique prefix of it).
        id: String,
        #[command(flatten)]
        opts: RuleOpts,
    },
    /// Delete one rule.
    Delete {
        /// The rule id (or a unique prefix of it).
        id: String,
    },
    /// Delete every rule.
    Clear,
    /// Turn one rule on, or without ID the whole schedule.
    Enable {
        /// The rule id (or a unique prefix of it).
        id: Option<String>,
    },
    /// Turn one rule off, or without ID the whole schedule (rules are kept).
    Disable {
        /// The rule id (or a unique prefix of it).
        id: Option<String>,
    },
}

/// The options that describe a schedule rule.
#[derive(Debug, Args, Default)]
pub struct RuleOpts {
    /// At this local time of the plug.
    #[arg(long, value_name = "HH:MM", value_parser = parse_at, conflicts_with_all = ["sunrise", "sunset"])]
    pub at: Option<u16>,
    /// At sunrise (from the plug's location; see `plugctl location`).
    #[arg(long, conflicts_with = "sunset")]
    pub sunrise: bool,
    /// At sunset.
    #[arg(long)]
    pub sunset: bool,
    /// Shift sunrise/sunset: -15m, +1h, -1h30m (at most 12h either way).
    #[arg(long, value_name = "±DURATION", allow_hyphen_values = true, value_parser = parse_offset)]
    pub offset: Option<i16>,
    /// Repeat on these days: mon-fri, weekdays, weekends, daily, mon,wed,fri (default daily).
    #[arg(long, value_name = "DAYS", value_parser = parse_days, conflicts_with = "date")]
    pub days: Option<Days>,
    /// Run once, on this date of the plug's calendar.
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_date)]
    pub date: Option<RuleDate>,
    /// Switch on.
    #[arg(long, conflicts_with = "off")]
    pub on: bool,
    /// Switch off.
    #[arg(long)]
    pub off: bool,
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

impl RuleOpts {
    fn is_empty(&self) -> bool {
        self.at.is_none()
            && !self.sunrise
            && !self.sunset
            && self.offset.is_none()
            && self.days.is_none()
            && self.date.is_none()
            && !self.on
            && !self.off
            && self.name.is_none()
            && !self.disabled
            && !self.enabled
    }

    /// Applies the options to `rule` (a new default one for `add`).
    fn apply(&self, rule: &mut ScheduleRule) -> Result<()> {
        let keep = rule.start.offset();
        if let Some(m) = self.at {
            rule.start = TimeSpec::At(m);
        } else if self.sunrise {
            rule.start = TimeSpec::Sunrise(keep);
        } else if self.sunset {
            rule.start = TimeSpec::Sunset(keep);
        }
        if let Some(o) = self.offset {
            if matches!(rule.start, TimeSpec::At(_)) {
                return Err(usage(
                    "--offset shifts sunrise or sunset; it needs --sunrise or --sunset, not a clock time",
                ));
            }
            rule.start = rule.start.with_offset(o);
        }
        if let Some(d) = self.days {
            if d.is_empty() {
                return Err(usage(RuleError::NoDays.to_string()));
            }
            *rule = rule.clone().on_days(d);
        }
        if let Some(d) = self.date {
            *rule = rule.clone().once_on(d);
        }
        if self.on || self.off {
            rule.action = if self.on { Action::On } else { Action::Off };
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

fn parse_at(s: &str) -> Result<u16, String> {
    rules::parse_time_of_day(s).map_err(|e| e.to_string())
}

fn parse_offset(s: &str) -> Result<i16, String> {
    rules::parse_offset(s).map_err(|e| e.to_string())
}

fn parse_days(s: &str) -> Result<Days, String> {
    s.parse().map_err(|e: RuleError| e.to_string())
}

fn parse_date(s: &str) -> Result<RuleDate, String> {
    s.parse().map_err(|e: RuleError| e.to_string())
}

/// Runs the command.
pub async fn run(args: &ScheduleArgs) -> Result<()> {
    let d = &args.device;
    // Argument mistakes first, before any network traffic.
    if let ScheduleAction::Add(o) = &args.action {
        if o.at.is_none() && !o.sunrise && !o.sunset {
            return Err(usage("add needs a time: --at HH:MM, --sunrise or --sunset"));
        }
        if !o.on && !o.off {
            return Err(usage("add needs an action: --on or --off"));
        }
        o.apply(&mut ScheduleRule::new(TimeSpec::At(0), Action::On))?;
    }
    if let ScheduleAction::Edit { opts, .. } = &args.action {
        if opts.is_empty() {
            return Err(usage(
                "edit needs at least one option to change (see `plugctl schedule HOST edit --help`)",
            ));
        }
    }
    let dev = kasa_device(d, "schedule").await?;
    let Device::Kasa(k) = &dev else { bail!("{}: not a Kasa plug", dev.addr()) };
    let child = d.child.as_deref();
    let rules = k.schedule(child);
    let addr = k.addr();
    match &args.action {
        ScheduleAction::List => {
            let list = rules.list().await.map_err(|e| module_error(e, "schedule"))?;
            print_list(d.json, addr, &list);
        }
        ScheduleAction::Add(o) => {
            let mut rule = ScheduleRule::new(TimeSpec::At(0), Action::On);
            o.apply(&mut rule)?;
            check_date(k, &rule).await?;
            let id = match rules.add(&rule).await {
                Ok(id) => id,
                Err(e) => {
                    return Err(add_error(e, "schedule", rules.list().await.ok().map(|l| l.rules.len())))
                }
            };
            rule.id = id;
            let overall = rules.list().await.map(|l| l.enabled).unwrap_or(true);
            if d.json {
                output::json_line(&doc(
                    addr,
                    json!({"added": rule_json(&rule), "schedule_enabled": overall}),
                ));
            } else {
                println!("added schedule rule {}: {}, {}", rule.id, rule.when(), rule.what());
                if !overall {
                    println!(
                        "note: the schedule is disabled; `plugctl schedule {} enable` turns it on",
                        d.host
                    );
                }
            }
        }
        ScheduleAction::Edit { id, opts } => {
            let list = rules.list().await.map_err(|e| module_error(e, "schedule"))?;
            let mut rule = find(&list, id)?.clone();
            opts.apply(&mut rule)?;
            if opts.date.is_some() {
                check_date(k, &rule).await?;
            }
            rules.edit(&rule).await.map_err(|e| module_error(e, "schedule"))?;
            if d.json {
                output::json_line(&doc(addr, json!({"edited": rule_json(&rule)})));
            } else {
                println!("edited schedule rule {}: {}, {}", rule.id, rule.when(), rule.what());
            }
        }
        ScheduleAction::Delete { id } => {
            let list = rules.list().await.map_err(|e| module_error(e, "schedule"))?;
            let full = find(&list, id)?.id.clone();
            rules.delete(&full).await.map_err(|e| module_error(e, "schedule"))?;
            report(d.json, addr, json!({"deleted": full}), &format!("deleted schedule rule {full}"));
        }
        ScheduleAction::Clear => {
            let n = rules.list().await.map_err(|e| module_error(e, "schedule"))?.rules.len();
            rules.clear().await.map_err(|e| module_error(e, "schedule"))?;
            let s = if n == 1 { "" } else { "s" };
            report(d.json, addr, json!({"removed": n}), &format!("removed {n} schedule rule{s}"));
        }
        ScheduleAction::Enable { id } | ScheduleAction::Disable { id } => {
            let on = matches!(args.action, ScheduleAction::Enable { .. });
            match id {
                None => {
                    rules.set_overall_enable(on).await.map_err(|e| module_error(e, "schedule"))?;
                    let word = if on { "enabled" } else { "disabled" };
                    report(d.json, addr, json!({"schedule_enabled": on}), &format!("schedule {word}"));
                }
                Some(id) => {
                    let list = rules.list().await.map_err(|e| module_error(e, "schedule"))?;
                    let mut rule = find(&list, id)?.clone();
                    rule.enable = on;
                    rules.edit(&rule).await.map_err(|e| module_error(e, "schedule"))?;
                    let word = if on { "enabled" } else { "disabled" };
                    let text = format!("schedule rule {} {word}", rule.id);
                    report(d.json, addr, json!({"id": rule.id, "enabled": on}), &text);
                }
            }
        }
    }
    Ok(())
}

/// Connects and checks that the device is a Kasa plug and that `--child` names an outlet.
pub(crate) async fn kasa_device(d: &DeviceArgs, what: &str) -> Result<Device> {
    let dev = open(d).await?;
    if matches!(dev, Device::Hf(_)) {
        bail!("{}: Hi-Flying plugs have no {what} on the device; only Kasa plugs do", dev.addr());
    }
    super::device::check_child(&dev, d.child.as_deref()).await?;
    Ok(dev)
}

/// Finds a rule by id or unique prefix; a miss is a usage error.
pub(crate) fn find<'a, R: DeviceRule>(list: &'a RuleList<R>, id: &str) -> Result<&'a R> {
    list.find(id).map_err(|e| usage(format!("{e} (see `list`)")))
}

/// The device's clock, if it can tell (a plug whose clock was never set cannot).
async fn device_now(k: &KasaDevice) -> Option<LocalNow> {
    k.local_now().await.ok()
}

/// A one-shot date must not be in the past on the plug's own clock.
async fn check_date(k: &KasaDevice, rule: &ScheduleRule) -> Result<()> {
    let Some(date) = rule.date else { return Ok(()) };
    let at = match rule.start {
        TimeSpec::At(m) => Some(m),
        _ => None,
    };
    let now = device_now(k).await;
    rules::check_not_past(date, at, now.as_ref()).map_err(|e| usage(e.to_string()))
}

/// Friendlier lines for the device errors rule commands meet.
pub(crate) fn module_error(e: Error, module: &str) -> anyhow::Error {
    if let Error::Device { addr, error } = &e {
        match error.kind() {
            DeviceErrorKind::ModuleNotSupported => {
                return anyhow::anyhow!(
                    "{addr}: this plug has no {module} (module `{}` not supported)",
                    error.module
                )
            }
            DeviceErrorKind::EntryNotFound => {
                return anyhow::anyhow!(
                    "{addr}: no such rule on the plug (device error -14 on {})",
                    error.module
                )
            }
            _ => {}
        }
    }
    e.into()
}

/// `add` errors: a full table names the limit.
pub(crate) fn add_error(e: Error, module: &str, count: Option<usize>) -> anyhow::Error {
    if let Error::Device { addr, error } = &e {
        if error.kind() == DeviceErrorKind::TableFull {
            let held = count.map(|n| format!(" (it holds {n} rules)")).unwrap_or_default();
            return anyhow::anyhow!(
                "{addr}: the plug's {module} table is full{held}; delete a rule first (device error -10 \"table is full\")"
            );
        }
    }
    module_error(e, module)
}

/// Adds `host` and `port` to a JSON document.
pub(crate) fn doc(addr: std::net::SocketAddr, mut v: Value) -> Value {
    v["host"] = json!(addr.ip().to_string());
    v["port"] = json!(addr.port());
    v
}

/// Prints a JSON document or a line of text.
pub(crate) fn report(json_out: bool, addr: std::net::SocketAddr, v: Value, text: &str) {
    if json_out {
        output::json_line(&doc(addr, v));
    } else {
        println!("{text}");
    }
}

/// `yes`/`no`.
pub(crate) fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// A time as JSON: `{"time":"sunset-15m","kind":"sunset","offset_min":-15}`.
pub(crate) fn time_json(t: &TimeSpec) -> Value {
    match *t {
        TimeSpec::At(m) => json!({"time": t.to_string(), "kind": "clock", "minute": m}),
        TimeSpec::Sunrise(o) => json!({"time": t.to_string(), "kind": "sunrise", "offset_min": o}),
        TimeSpec::Sunset(o) => json!({"time": t.to_string(), "kind": "sunset", "offset_min": o}),
    }
}

/// One rule as the stable JSON `list --json` prints.
fn rule_json(r: &ScheduleRule) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "enabled": r.enable,
        "repeat": r.repeat,
        "days": r.days.names(),
        "date": r.date.map(|d| d.to_string()),
        "start": time_json(&r.start),
        "action": r.action,
        "end": r.end.map(|e| json!({"end": time_json(&e.time), "action": e.action})),
        "text": format!("{}, {}", r.when(), r.what()),
    })
}

fn print_list(json_out: bool, addr: std::net::SocketAddr, list: &RuleList<ScheduleRule>) {
    if json_out {
        let rules: Vec<Value> = list.rules.iter().map(rule_json).collect();
        output::json_line(&doc(addr, json!({"enabled": list.enabled, "rules": rules})));
        return;
    }
    let state = if list.enabled { "enabled" } else { "DISABLED (no rule runs)" };
    let n = list.rules.len();
    println!("schedule {state}, {n} rule{}", if n == 1 { "" } else { "s" });
    if list.rules.is_empty() {
        return;
    }
    let rows: Vec<Vec<String>> = list
        .rules
        .iter()
        .map(|r| {
            let (time, action) = match &r.end {
                Some(e) => (rules::span_text(r.start, e.time), format!("{}/{}", r.action, e.action)),
                None => (r.start.to_string(), r.action.to_string()),
            };
            let days = match r.date {
                Some(d) => d.to_string(),
                None => r.days.to_string(),
            };
            let repeat = if r.repeat && r.date.is_none() { "weekly" } else { "once" };
            vec![r.id.clone(), r.name.clone(), yes_no(r.enable).into(), days, time, action, repeat.into()]
        })
        .collect();
    print!("{}", output::table(&["ID", "NAME", "ENABLED", "DAYS", "TIME", "ACTION", "REPEAT"], &rows));
}
