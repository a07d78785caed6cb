//! Rule execution on the simulated clock (kasa-protocol.md §8.6–8.8).
//!
//! - **Schedule** rules fire while the list's overall `enable` and the rule's `enable` are 1.
//!   At the start time (`stime_opt` 0: `smin` minutes after local midnight; 1 / 2: sunrise /
//!   sunset of that date, see `sun.rs`, plus `soffset` minutes) the unit's outlets switch to
//!   `sact` (0 off; 1, and 3 = dimmer "on at a level", on). If `etime_opt` and `eact` are
//!   set too, they switch to `eact` at the end time (the next day if it is not after the
//!   start). Repeating rules fire on their `wday` days. One-shot rules (`repeat` 0) fire on
//!   their `year`/`month`/`day` (without a date: on the next `wday` day, or any day if no
//!   day is set), then disable themselves.
//! - **Away** rules switch while the list's overall `enable` (0 by default, as on real
//!   plugs) and the rule's `enable` are 1. They switch randomly within `smin`…`emin` on their
//!   days; the window runs overnight if `emin` ≤ `smin`. The window is cut into `frequency`
//!   slots (default 5, at most 60). Each slot has one on period at pseudo-random times
//!   derived from the rule id, the date and the slot (deterministic). The last period ends
//!   before the window does, so the outlets are off when it closes.
//! - **Count-down** rules fire once, `delay` seconds after they were armed, then disable
//!   themselves.
//!
//! `next_action` (sysinfo and `schedule.get_next_action`) is the unit's earliest pending
//! schedule or count-down event. A schedule rule gives `{"type":1,…}`. A count-down gives
//! `{"type":2,…}`, as the KP105 dump shows next to `active_mode` `count_down`. Both carry
//! `id`, `schd_sec` (seconds after local midnight of the day it happens) and `action`
//! (1 on, 0 off). `{"type":-1}` means nothing is pending. Away switching is not reported
//! there. Look-ahead is 8 days; one-shot dates are found at any distance.

use jiff::{civil::Date, ToSpan};
use serde_json::{json, Value};

use super::{
    host_tz, idle_action,
    rules::{Rule, RuleBook},
    sun::{self, SunEvent},
    DeviceState,
};
use crate::kasa::profile::ids;

/// Days searched ahead of the current one for repeating rules.
const LOOKAHEAD_DAYS: i64 = 8;
/// Events fired in one time step at most (a guard for huge jumps at huge time scales);
/// later ones are skipped.
pub(crate) const MAX_EVENTS_PER_ADVANCE: usize = 100_000;
/// Simulated time planned at once (repeating rules are planned [`LOOKAHEAD_DAYS`] ahead).
pub(crate) const PLAN_WINDOW_SECS: f64 = 7.0 * 86_400.0;
/// Windows planned in one time step at most (10 years); the rest of a longer jump passes
/// without firing.
pub(crate) const MAX_PLAN_WINDOWS: usize = 520;
/// Away slots per window when the rule has no usable `frequency`.
const DEFAULT_FREQUENCY: i64 = 5;
/// Away slots per window at most.
const MAX_FREQUENCY: i64 = 60;

/// What produced an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Source {
    /// A `count_down` rule.
    CountDown,
    /// A `schedule` rule.
    Schedule,
    /// An `anti_theft` rule.
    Away,
}

/// One relay switch a rule will make.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Event {
    /// Simulated second.
    pub(crate) at: f64,
    pub(crate) unit: usize,
    pub(crate) source: Source,
    pub(crate) rule: String,
    pub(crate) on: bool,
    /// The rule disables itself after this event (one-shot and count-down rules).
    pub(crate) last: bool,
}

/// Turns rule fields into instants: the device's clock and location, with a sun cache.
struct Planner<'a> {
    dev: &'a DeviceState,
    location: Option<(f64, f64)>,
    sun: Vec<(Date, SunEvent, Option<f64>)>,
}

impl<'a> Planner<'a> {
    fn new(dev: &'a DeviceState) -> Self {
        Self { dev, location: dev.sun_location(), sun: Vec::new() }
    }

    /// The simulated second of a rule time on `day`: `opt` 0 = `min` minutes after local
    /// midnight; 1 / 2 = sunrise / sunset plus `offset` minutes.
    fn day_time(&mut self, day: Date, opt: i64, min: i64, offset: i64) -> Option<f64> {
        match opt {
            0 => {
                let m = min.clamp(0, 1439);
                let dt = day.at(i8::try_from(m / 60).ok()?, i8::try_from(m % 60).ok()?, 0, 0);
                self.dev.clock.sim_of_local(dt)
            }
            1 | 2 => {
                let ev = if opt == 1 { SunEvent::Rise } else { SunEvent::Set };
                Some(self.sun(day, ev)? + offset as f64 * 60.0)
            }
            _ => None,
        }
    }

    fn sun(&mut self, day: Date, ev: SunEvent) -> Option<f64> {
        if let Some((_, _, v)) = self.sun.iter().find(|(d, e, _)| *d == day && *e == ev) {
            return *v;
        }
        let (lat, lon) = self.location.unwrap_or_else(|| sun::default_location(&host_tz(), day));
        let v = sun::sun_event(day, lat, lon, ev).map(|ts| self.dev.clock.sim_of(ts));
        self.sun.push((day, ev, v));
        v
    }

    /// The days to look at for `rule`, from `base` (the current local date).
    fn days(rule: &Rule, base: Date) -> Vec<Date> {
        if let Some(d) = rule.one_shot_date() {
            return vec![d];
        }
        (-1..=LOOKAHEAD_DAYS).filter_map(|i| base.checked_add(i.days()).ok()).collect()
    }

    fn applies(rule: &Rule, day: Date) -> bool {
        if let Some(d) = rule.one_shot_date() {
            return d == day;
        }
        let w = rule.wday();
        let today = w.get(usize::try_from(day.weekday().to_sunday_zero_offset()).unwrap_or(0)) == Some(&true);
        if rule.repeat() {
            today
        } else {
            today || w.iter().all(|d| !d)
        }
    }

    /// Start and end events of a schedule rule on `day`.
    fn schedule_events(&mut self, rule: &Rule, day: Date, unit: usize, out: &mut Vec<Event>) {
        let acts = |k: &str| rule.int(k).filter(|a| matches!(a, 0 | 1 | 3));
        let start_time = self.day_time(
            day,
            rule.int("stime_opt").unwrap_or(0),
            rule.int("smin").unwrap_or(0),
            rule.int("soffset").unwrap_or(0),
        );
        let start = acts("sact").zip(start_time);
        let end = match (acts("eact"), rule.int("etime_opt").filter(|o| (0..=2).contains(o))) {
            (Some(act), Some(opt)) => {
                let (min, off) = (rule.int("emin").unwrap_or(0), rule.int("eoffset").unwrap_or(0));
                let mut at = self.day_time(day, opt, min, off);
                if let (Some(e), Some(s)) = (at, start_time) {
                    if e <= s {
                        at = day.tomorrow().ok().and_then(|d| self.day_time(d, opt, min, off));
                    }
                }
                at.map(|at| (act, at))
            }
            _ => None,
        };
        let one_shot = !rule.repeat();
        let last_at = end.map(|e| e.1).or(start.map(|s| s.1));
        for (act, at) in [start, end].into_iter().flatten() {
            out.push(Event {
                at,
                unit,
                source: Source::Schedule,
                rule: rule.id.clone(),
                on: act != 0,
                last: one_shot && Some(at) == last_at,
            });
        }
    }

    /// The on/off periods of an away rule whose window opens on `day`.
    fn away_events(&mut self, rule: &Rule, day: Date, unit: usize, out: &mut Vec<Event>) {
        let field = |k: &str| rule.int(k).unwrap_or(0);
        let (sopt, smin, soff) = (field("stime_opt"), field("smin"), field("soffset"));
        let (eopt, emin, eoff) = (field("etime_opt"), field("emin"), field("eoffset"));
        let Some(start) = self.day_time(day, sopt, smin, soff) else { return };
        let Some(mut end) = self.day_time(day, eopt, emin, eoff) else { return };
        if end <= start {
            match day.tomorrow().ok().and_then(|d| self.day_time(d, eopt, emin, eoff)) {
                Some(e) if e > start => end = e,
                _ => return,
            }
        }
        let n = rule.int("frequency").filter(|f| *f > 0).unwrap_or(DEFAULT_FREQUENCY).min(MAX_FREQUENCY);
        let slot = (end - start) / n as f64;
        let key = (i32::from(day.year()) * 10_000 + i32::from(day.month()) * 100 + i32::from(day.day()))
            .to_le_bytes();
        for k in 0..n {
            let mut state = ids::hash(&[rule.id.as_bytes(), &key, &k.to_le_bytes()]);
            let mut unit_rand = || (ids::splitmix64(&mut state) >> 11) as f64 / (1u64 << 53) as f64;
            let base = start + slot * k as f64;
            let on_at = base + slot * (0.05 + 0.4 * unit_rand());
            let off_at = base + slot * (0.55 + 0.4 * unit_rand());
            for (at, on) in [(on_at, true), (off_at, false)] {
                out.push(Event {
                    at,
                    unit,
                    source: Source::Away,
                    rule: rule.id.clone(),
                    on,
                    last: !rule.repeat() && !on && k == n - 1,
                });
            }
        }
    }

    /// Every event of `book`'s enabled rules on the candidate days after `after`.
    fn book_events(
        &mut self,
        book: &RuleBook,
        source: Source,
        unit: usize,
        after: f64,
        out: &mut Vec<Event>,
    ) {
        if book.enable != 1 {
            return;
        }
        let Some(base) = self.dev.clock.local_at(after).map(|z| z.date()) else { return };
        for rule in book.rules.iter().filter(|r| r.enabled()) {
            for day in Self::days(rule, base) {
                if !Self::applies(rule, day) {
                    continue;
                }
                let mut evs = Vec::new();
                match source {
                    Source::Away => self.away_events(rule, day, unit, &mut evs),
                    _ => self.schedule_events(rule, day, unit, &mut evs),
                }
                out.extend(evs.into_iter().filter(|e| e.at > after));
            }
        }
    }

    /// The pending events of `unit` after `after` (count-downs from `after` on), unsorted.
    fn unit_events(&mut self, unit: usize, after: f64, away: bool) -> Vec<Event> {
        let mut out = Vec::new();
        let dev = self.dev;
        let Some(u) = dev.units.get(unit) else { return out };
        for r in &u.count_down.rules {
            if let Some(at) = r.fires_at().filter(|at| *at >= after) {
                out.push(Event {
                    at,
                    unit,
                    source: Source::CountDown,
                    rule: r.id.clone(),
                    on: r.action_on(),
                    last: true,
                });
            }
        }
        self.book_events(&u.schedule, Source::Schedule, unit, after, &mut out);
        if away {
            self.book_events(&u.anti_theft, Source::Away, unit, after, &mut out);
        }
        out
    }
}

impl DeviceState {
    /// Where the sun is computed for: the client-set location, else the profile's own
    /// non-zero one, else `None` (the default of `sun.rs`).
    fn sun_location(&self) -> Option<(f64, f64)> {
        if self.location.is_some() {
            return self.location;
        }
        let s = self.profile.sysinfo();
        let num = |k: &str| s.get(k).and_then(Value::as_f64).filter(|x| x.is_finite());
        let loc = match (num("latitude_i"), num("longitude_i")) {
            (Some(a), Some(b)) => Some((a / 1e4, b / 1e4)),
            _ => num("latitude").zip(num("longitude")),
        };
        loc.filter(|(a, b)| (*a != 0.0 || *b != 0.0) && a.abs() <= 90.0 && b.abs() <= 180.0)
    }

    /// Whether any rule could fire (cheap check before planning).
    pub(crate) fn rules_armed(&self) -> bool {
        self.units.iter().any(|u| {
            u.count_down.rules.iter().any(Rule::enabled)
                || (u.schedule.enable == 1 && u.schedule.rules.iter().any(Rule::enabled))
                || (u.anti_theft.enable == 1 && u.anti_theft.rules.iter().any(Rule::enabled))
        })
    }

    /// Every event in `(after, until]` (count-downs: `[after, until]`), in time order (ties
    /// in unit order). Repeating rules are planned [`LOOKAHEAD_DAYS`] ahead, so callers
    /// ask for at most a week at a time.
    pub(crate) fn events_between(&self, after: f64, until: f64) -> Vec<Event> {
        if !self.rules_armed() {
            return Vec::new();
        }
        let mut planner = Planner::new(self);
        let mut all: Vec<Event> = (0..self.units.len())
            .flat_map(|u| planner.unit_events(u, after, true))
            .filter(|e| e.at <= until)
            .collect();
        all.sort_by(|a, b| a.at.total_cmp(&b.at).then((a.unit, a.source).cmp(&(b.unit, b.source))));
        all
    }

    /// Whether the rule behind `ev` is still enabled (an earlier event of the same batch
    /// may have disabled it).
    pub(crate) fn still_armed(&self, ev: &Event) -> bool {
        let Some(u) = self.units.get(ev.unit) else { return false };
        let book = match ev.source {
            Source::CountDown => &u.count_down,
            Source::Schedule => &u.schedule,
            Source::Away => &u.anti_theft,
        };
        book.rules.iter().any(|r| r.id == ev.rule && r.enabled())
    }

    /// Applies an event: switches the unit's outlets, disables a rule that is done.
    pub(crate) fn fire(&mut self, ev: &Event) {
        let sim = self.clock.sim();
        for i in self.outlets_of_unit(ev.unit) {
            if let Some(o) = self.outlets.get_mut(i) {
                o.switch(ev.on, sim, &mut self.rng);
            }
        }
        if !ev.last {
            return;
        }
        let Some(u) = self.units.get_mut(ev.unit) else { return };
        let book = match ev.source {
            Source::CountDown => &mut u.count_down,
            Source::Schedule => &mut u.schedule,
            Source::Away => &mut u.anti_theft,
        };
        if let Some(rule) = book.find_mut(&ev.rule) {
            rule.body.insert("enable".into(), json!(0));
        }
    }

    /// Recomputes `next_action` of every unit whose rules a client changed.
    pub(crate) fn refresh_next_actions(&mut self) {
        if !self.units.iter().any(|u| u.next_computed) {
            return;
        }
        let now = self.clock.sim();
        let mut values = Vec::with_capacity(self.units.len());
        {
            let mut planner = Planner::new(self);
            for (i, u) in self.units.iter().enumerate() {
                if !u.next_computed {
                    values.push(None);
                    continue;
                }
                let next =
                    planner.unit_events(i, now, false).into_iter().min_by(|a, b| a.at.total_cmp(&b.at));
                values.push(Some(next.map_or_else(idle_action, |e| self.action_value(&e))));
            }
        }
        for (u, v) in self.units.iter_mut().zip(values) {
            if let Some(v) = v {
                u.next_action = v;
            }
        }
    }

    fn action_value(&self, e: &Event) -> Value {
        let secs = self
            .clock
            .local_at(e.at)
            .map(|z| i64::from(z.hour()) * 3600 + i64::from(z.minute()) * 60 + i64::from(z.second()))
            .unwrap_or(0);
        let kind = if e.source == Source::CountDown { 2 } else { 1 };
        json!({"type": kind, "id": e.rule, "schd_sec": secs, "action": i64::from(e.on)})
    }

    /// For `get_rules`: the minute of today at which a sun-relative time (`opt` 1 or 2,
    /// `offset` minutes) falls, as real devices report it in `smin`/`emin`; `None` for
    /// clock times and days without that sun event.
    pub(crate) fn sun_minute_today(&self, opt: i64, offset: i64) -> Option<i64> {
        if !matches!(opt, 1 | 2) {
            return None;
        }
        let now = self.clock.sim();
        let today = self.clock.local_at(now)?.date();
        let at = Planner::new(self).day_time(today, opt, 0, offset)?;
        let z = self.clock.local_at(at)?;
        Some(i64::from(z.hour()) * 60 + i64::from(z.minute()))
    }
}
