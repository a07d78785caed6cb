//! Relays and rule "units" of a device.
//!
//! An [`Outlet`] is a relay with its `on_time` and energy meter: one on a plug, one per
//! socket on a strip. A [`Unit`] is what a context addresses for rules and runtime
//! statistics: unit 0 is the device itself (on a plug, its only outlet; on a strip, the
//! strip as a whole), units 1…N are strip outlets 0…N-1.

use serde_json::{json, Value};

use super::{
    meter::Meter,
    rng::Rng,
    rules::{RuleBook, RuleKind},
    stats::DayStats,
};

/// See the module docs.
#[derive(Debug, Clone)]
pub(crate) struct Outlet {
    /// Child id (empty on single-outlet devices).
    pub(crate) id: String,
    /// Child alias (unused on single-outlet devices).
    pub(crate) alias: String,
    pub(crate) on: bool,
    /// Simulated second the relay was switched on (may be negative: on before the start).
    pub(crate) on_since: f64,
    pub(crate) meter: Option<Meter>,
}

impl Outlet {
    /// Seconds since switched on, 0 when off.
    pub(crate) fn on_time(&self, sim: f64) -> u64 {
        if self.on {
            (sim - self.on_since).max(0.0).floor() as u64
        } else {
            0
        }
    }

    /// Switches the relay; `on_time` restarts only on an actual change.
    pub(crate) fn switch(&mut self, on: bool, sim: f64, rng: &mut Rng) {
        if on != self.on {
            self.on = on;
            self.on_since = sim;
            if let Some(m) = self.meter.as_mut() {
                m.resample(on, sim, rng, true);
            }
        }
    }
}

/// See the module docs.
#[derive(Debug, Clone)]
pub(crate) struct Unit {
    pub(crate) schedule: RuleBook,
    pub(crate) anti_theft: RuleBook,
    pub(crate) count_down: RuleBook,
    /// Seconds on per local day.
    pub(crate) runtime: DayStats,
    /// `next_action` in sysinfo form (`{"type":-1}` when idle).
    pub(crate) next_action: Value,
    /// False while `next_action` is the profile's recorded value; true once a client changed
    /// a rule list of this unit (then it is computed from the rules).
    pub(crate) next_computed: bool,
}

impl Unit {
    pub(crate) fn new(next_action: Option<&Value>) -> Self {
        Self {
            schedule: RuleBook::new(RuleKind::Schedule),
            anti_theft: RuleBook::new(RuleKind::AntiTheft),
            count_down: RuleBook::new(RuleKind::CountDown),
            runtime: DayStats::default(),
            next_action: next_action.filter(|v| v.is_object()).cloned().unwrap_or_else(idle_action),
            next_computed: false,
        }
    }

    pub(crate) fn book_mut(&mut self, kind: RuleKind) -> &mut RuleBook {
        match kind {
            RuleKind::Schedule => &mut self.schedule,
            RuleKind::AntiTheft => &mut self.anti_theft,
            RuleKind::CountDown => &mut self.count_down,
        }
    }

    pub(crate) fn book(&self, kind: RuleKind) -> &RuleBook {
        match kind {
            RuleKind::Schedule => &self.schedule,
            RuleKind::AntiTheft => &self.anti_theft,
            RuleKind::CountDown => &self.count_down,
        }
    }
}

/// `{"type":-1}`: no pending action.
pub(crate) fn idle_action() -> Value {
    json!({"type": -1})
}
