//! Request handling and time evolution of a [`DeviceState`].

use std::time::Instant;

use serde_json::{Map, Value};

use super::{
    events::{MAX_EVENTS_PER_ADVANCE, MAX_PLAN_WINDOWS, PLAN_WINDOW_SECS},
    request::{self, Body},
    Ctx, DeviceState,
};
use crate::kasa::modules::{self, Outcome};

/// Initial capacity of a `get_sysinfo` reply (a plug's is about 600 bytes, a strip's 1.5 KiB).
const SYSINFO_REPLY_CAPACITY: usize = 1024;

impl DeviceState {
    /// Handles one request payload (plaintext JSON bytes) at `now` and returns the plaintext
    /// reply, or `None` when the device sends nothing (offline, or rebooting immediately).
    ///
    /// A request for nothing but `system.get_sysinfo` (every poll and discovery) is answered
    /// by writing the reply bytes directly; everything else goes through the dispatcher and
    /// a JSON value. Both give the same bytes.
    pub fn handle(&mut self, request: &[u8], now: Instant) -> Option<Vec<u8>> {
        match self.parse_at(request, now)? {
            None => Some(b"{}".to_vec()),
            Some(entries) if request::is_sysinfo_only(&entries) => {
                let mut out = Vec::with_capacity(SYSINFO_REPLY_CAPACITY);
                out.extend_from_slice(br#"{"system":{"get_sysinfo":"#);
                self.write_sysinfo(&mut out);
                out.extend_from_slice(b"}}");
                Some(out)
            }
            Some(entries) => self.dispatch(entries.0, now).and_then(|v| serde_json::to_vec(&v).ok()),
        }
    }

    /// Like [`DeviceState::handle`], returning the reply as a JSON value.
    pub fn handle_value(&mut self, request: &[u8], now: Instant) -> Option<Value> {
        match self.parse_at(request, now)? {
            None => Some(Value::Object(Map::new())),
            Some(entries) => self.dispatch(entries.0, now),
        }
    }

    /// The common start of a request: `None` while offline; else time moves to `now` and
    /// the payload is parsed (`Some(None)` when it is not a JSON object).
    fn parse_at(&mut self, request: &[u8], now: Instant) -> Option<Option<request::Entries>> {
        if self.power.is_offline(now) {
            return None;
        }
        self.advance(now);
        Some(request::parse(request))
    }

    fn dispatch(&mut self, entries: Vec<(String, Body)>, now: Instant) -> Option<Value> {
        let ctx_at = entries.iter().position(|(k, _)| k == "context");
        let ctx = ctx_at.and_then(|i| entries.get(i)).map_or(Ctx::Absent, |(_, b)| Ctx::parse(b));
        let mut out = Map::new();
        let mut silent = false;
        for (i, (module, body)) in entries.into_iter().enumerate() {
            if Some(i) == ctx_at {
                continue;
            }
            let reply = match (modules::module_kind(self, &module), body) {
                (None, _) => modules::error(-1, "module not support"),
                (Some(_), Body::NotObject) => modules::error(-3, "invalid argument"),
                (Some(kind), Body::Methods(methods)) => {
                    let mut results = Map::new();
                    for (method, params) in methods {
                        match modules::call(self, kind, &module, &method, &params, &ctx, now) {
                            Outcome::Reply(v) => {
                                results.insert(method, v);
                            }
                            Outcome::NoReply => silent = true,
                        }
                    }
                    Value::Object(results)
                }
            };
            out.insert(module, reply);
        }
        (!silent).then_some(Value::Object(out))
    }

    /// Moves simulated time to `now`: integrates energy and runtime, fires schedule,
    /// away-mode and count-down rules at their instants (in order, integrating between
    /// them, a week of simulated time planned at a time), refreshes `next_action` and meter
    /// samples.
    pub(crate) fn advance(&mut self, now: Instant) {
        let target = self.clock.target(now);
        let mut fired = 0;
        for window in 0.. {
            let from = self.clock.sim();
            // Without armed rules (or past the guards) the rest is one step.
            let plan = window < MAX_PLAN_WINDOWS && fired < MAX_EVENTS_PER_ADVANCE && self.rules_armed();
            let window_end = if plan { target.min(from + PLAN_WINDOW_SECS) } else { target };
            let batch = if plan { self.events_between(from, window_end) } else { Vec::new() };
            for e in &batch {
                if fired >= MAX_EVENTS_PER_ADVANCE {
                    break;
                }
                if !self.still_armed(e) {
                    continue;
                }
                let sim = self.clock.sim();
                let at = e.at.clamp(sim, window_end);
                self.integrate(sim, at);
                self.clock.set_sim(at);
                self.fire(e);
                fired += 1;
            }
            let sim = self.clock.sim();
            if sim < window_end {
                self.integrate(sim, window_end);
                self.clock.set_sim(window_end);
            }
            if window_end >= target {
                break;
            }
        }
        self.refresh_next_actions();
        let sim = self.clock.sim();
        for o in &mut self.outlets {
            if let Some(m) = o.meter.as_mut() {
                m.resample(o.on, sim, &mut self.rng, false);
            }
        }
    }

    fn integrate(&mut self, from: f64, to: f64) {
        let dt = to - from;
        if dt <= 0.0 {
            return;
        }
        let segments = self.clock.day_segments(from, to);
        for o in &mut self.outlets {
            if let Some(m) = o.meter.as_mut() {
                m.integrate(dt, &segments);
            }
        }
        for u in 0..self.units.len() {
            let on = self.outlets_of_unit(u).any(|i| self.outlets.get(i).is_some_and(|o| o.on));
            if let Some(unit) = self.units.get_mut(u) {
                for (day, secs) in &segments {
                    unit.runtime.add(*day, if on { *secs } else { 0.0 });
                }
            }
        }
    }
}
