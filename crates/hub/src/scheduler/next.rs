//! When a rule is due next: cron expressions on the wall clock of the rule's zone (with the
//! DST rules of the [module docs](super)), sunrise and sunset at the hub's location.

use croner::{
    parser::{CronParser, Seconds, Year},
    Cron, Direction,
};
use jiff::{
    civil::DateTime,
    tz::{AmbiguousOffset, TimeZone},
    SignedDuration, Timestamp, ToSpan,
};
use plugctl_sun::{sun_event, SunEvent};

use super::rule::{Day, Rule, When};
use crate::config::Location;

/// Most cron matches looked at for one answer (a fall-back night makes a per-minute rule
/// skip about 60 of them).
const MAX_CANDIDATES: usize = 100_000;
/// Most days searched for a sunrise or sunset (polar night lasts months).
const MAX_SUN_DAYS: i64 = 400;

const FIELD_NAMES: [(&str, &str); 5] = [
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day-of-month", "1-31, L, W"),
    ("month", "1-12 or JAN-DEC"),
    ("day-of-week", "0-7 or SUN-SAT, 0 and 7 are Sunday; # and L"),
];

/// Parses a 5-field cron expression (`minute hour day-of-month month day-of-week`, names
/// like `MON` and `JAN`, `@daily`-style nicknames, croner's `L`, `W` and `#`). Rejects
/// expressions that never match.
pub fn parse_cron(expr: &str) -> Result<Cron, String> {
    let parser = CronParser::builder().seconds(Seconds::Disallowed).year(Year::Disallowed).build();
    let trimmed = expr.trim();
    if trimmed.is_empty() {
        return Err(
            "the cron expression is empty (five fields: minute hour day-of-month month day-of-week)".into()
        );
    }
    let fields: Vec<&str> = trimmed.split_whitespace().collect();
    if !trimmed.starts_with('@') && fields.len() != 5 {
        return Err(format!(
            "\"{trimmed}\" has {} field(s); five are needed: minute hour day-of-month month day-of-week \
             (e.g. \"30 7 * * 1-5\")",
            fields.len()
        ));
    }
    let cron = match parser.parse(trimmed) {
        Ok(c) => c,
        Err(e) => {
            // Find the field at fault by parsing it alone.
            if fields.len() == 5 {
                for (i, (name, range)) in FIELD_NAMES.iter().enumerate() {
                    let mut probe = ["*"; 5];
                    probe[i] = fields[i];
                    if parser.parse(&probe.join(" ")).is_err() {
                        return Err(format!(
                            "\"{trimmed}\": the {name} field \"{}\" is invalid ({range})",
                            fields[i]
                        ));
                    }
                }
            }
            return Err(format!("\"{trimmed}\": {e}"));
        }
    };
    // An expression like "0 0 31 2 *" parses but never matches.
    let probe: DateTime = jiff::civil::date(2001, 1, 1).at(0, 0, 0, 0);
    if cron.iter_from(probe, Direction::Forward).next().is_none() {
        return Err(format!("\"{trimmed}\" never matches a real date"));
    }
    Ok(cron)
}

/// A rule ready to answer "when next?".
#[derive(Debug, Clone)]
pub struct CompiledRule {
    tz: TimeZone,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Cron(Box<Cron>),
    Sun { event: SunEvent, offset: SignedDuration, days: Option<Vec<Day>>, lat: f64, lon: f64 },
}

/// The zone rules use when they name none: `[location] timezone`, else the host's.
pub fn default_time_zone(location: Option<&Location>) -> Result<TimeZone, String> {
    match location.and_then(|l| l.timezone.as_deref()) {
        Some(name) => TimeZone::get(name).map_err(|e| format!("[location] timezone \"{name}\": {e}")),
        None => Ok(TimeZone::system()),
    }
}

impl CompiledRule {
    /// Prepares `rule` with the hub's location (needed by sunrise/sunset rules).
    pub fn new(rule: &Rule, location: Option<&Location>) -> Result<Self, String> {
        let tz = match &rule.timezone {
            Some(_) => rule.time_zone(&TimeZone::UTC)?,
            None => default_time_zone(location)?,
        };
        let kind = match &rule.when {
            When::Cron(expr) => Kind::Cron(Box::new(parse_cron(expr)?)),
            When::Sunrise(o) | When::Sunset(o) => {
                let event =
                    if matches!(rule.when, When::Sunrise(_)) { SunEvent::Rise } else { SunEvent::Set };
                let Some(loc) = location else {
                    return Err("sunrise/sunset rules need the hub's location: set [location] latitude and \
                                longitude in the configuration"
                        .into());
                };
                Kind::Sun {
                    event,
                    offset: SignedDuration::from_mins(i64::from(o.offset_min)),
                    days: rule.days.clone(),
                    lat: loc.latitude,
                    lon: loc.longitude,
                }
            }
        };
        Ok(Self { tz, kind })
    }

    /// The zone the rule's times are in.
    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// The first instant strictly after `after` at which the rule is due, or `None` if it
    /// never is again (a cron date that no longer comes, a sun event that does not happen
    /// within 400 days at a polar location).
    pub fn next_after(&self, after: Timestamp) -> Option<Timestamp> {
        match &self.kind {
            Kind::Cron(cron) => self.cron_next(cron, after),
            Kind::Sun { event, offset, days, lat, lon } => {
                self.sun_next(*event, *offset, days.as_deref(), *lat, *lon, after)
            }
        }
    }

    /// The latest instant at or before `at` at which the rule was due, looking no further
    /// back than `since` (exclusive).
    pub fn latest_between(&self, since: Timestamp, at: Timestamp) -> Option<Timestamp> {
        let mut latest = None;
        let mut t = since;
        for _ in 0..MAX_CANDIDATES {
            match self.next_after(t) {
                Some(n) if n <= at => {
                    latest = Some(n);
                    t = n;
                }
                _ => break,
            }
        }
        latest
    }

    /// Cron matches are wall-clock times in the zone; each maps to one instant:
    /// an ordinary time to itself, a time repeated by a fall-back to its first occurrence,
    /// a time skipped by a spring-forward to the first instant after the gap (the
    /// transition itself). The mapping never goes backwards, so the first match whose
    /// instant lies after `after` is the answer. Several skipped times land on the same
    /// instant and run once.
    fn cron_next(&self, cron: &Cron, after: Timestamp) -> Option<Timestamp> {
        let start = after.to_zoned(self.tz.clone()).datetime().round(jiff::Unit::Second).ok()?;
        let start = start.checked_sub(1.second()).ok()?;
        for wall in cron.iter_from(start, Direction::Forward).take(MAX_CANDIDATES) {
            let Some(at) = self.instant_of(wall) else { continue };
            if at > after {
                return Some(at);
            }
        }
        None
    }

    fn instant_of(&self, wall: DateTime) -> Option<Timestamp> {
        let amb = self.tz.to_ambiguous_timestamp(wall);
        match amb.offset() {
            AmbiguousOffset::Unambiguous { .. } | AmbiguousOffset::Fold { .. } => amb.earlier().ok(),
            AmbiguousOffset::Gap { after, .. } => {
                // Read with the offset in force after the gap, the wall time names an
                // instant before the transition; the next transition is the end of the gap.
                let before_transition = after.to_timestamp(wall).ok()?;
                self.tz.following(before_transition).next().map(|t| t.timestamp())
            }
        }
    }

    fn sun_next(
        &self,
        event: SunEvent,
        offset: SignedDuration,
        days: Option<&[Day]>,
        lat: f64,
        lon: f64,
        after: Timestamp,
    ) -> Option<Timestamp> {
        // Start a day early: an offset can move a run across midnight.
        let first = after.to_zoned(self.tz.clone()).date().checked_sub(1.day()).ok()?;
        for k in 0..MAX_SUN_DAYS {
            let Ok(date) = first.checked_add(k.days()) else { break };
            let Some(ev) = sun_event(date, lat, lon, event) else { continue };
            if let Some(days) = days {
                let local_day = ev.to_zoned(self.tz.clone()).weekday();
                if !days.iter().any(|d| d.weekday() == local_day) {
                    continue;
                }
            }
            let Ok(at) = ev.checked_add(offset) else { continue };
            if at > after {
                return Some(at);
            }
        }
        None
    }
}
