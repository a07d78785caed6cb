//! Request handling and time evolution of a [`DeviceState`].

use std::time::Instant;

use serde_json::{Map, Value};

use super::{
    request::{self, Body},
    Ctx, DeviceState,
};
use crate::kasa::modules::{self, Outcome};

impl DeviceState {
    /// Handles one request payload (plaintext JSON bytes) at `now` and returns the plaintext
    /// reply, or `None` when the device sends nothing (offline, or rebooting immediately).
    pub fn handle(&mut self, request: &[u8], now: Instant) -> Option<Vec<u8>> {
        self.handle_value(request, now).and_then(|v| serde_json::to_vec(&v).ok())
    }

    /// Like [`DeviceState::handle`], returning the reply as a JSON value.
    pub fn handle_value(&mut self, request: &[u8], now: Instant) -> Option<Value> {
        if self.power.is_offline(now) {
            return None;
        }
        self.advance(now);
        match request::parse(request) {
            None => Some(Value::Object(Map::new())),
            Some(entries) => self.dispatch(entries.0, now),
        }
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

    /// Moves simulated time to `now`: integrates energy and runtime, fires count-downs, and
    /// refreshes meter samples.
    pub(crate) fn advance(&mut self, now: Instant) {
        let target = self.clock.target(now);
        // Each firing disables its rule, so this ends after at most one pass per unit.
        for _ in 0..=self.units.len() {
            let from = self.clock.sim();
            let next = self.next_countdown(target);
            let step_to = next.map_or(target, |(at, _)| at.clamp(from, target));
            self.integrate(from, step_to);
            self.clock.set_sim(step_to);
            match next {
                Some((_, unit)) => self.fire_countdown(unit),
                None => break,
            }
        }
        let sim = self.clock.sim();
        for o in &mut self.outlets {
            if let Some(m) = o.meter.as_mut() {
                m.resample(o.on, sim, &mut self.rng, false);
            }
        }
    }

    fn next_countdown(&self, until: f64) -> Option<(f64, usize)> {
        self.units
            .iter()
            .enumerate()
            .filter_map(|(u, unit)| {
                unit.count_down.rules.iter().filter_map(|r| r.fires_at()).map(move |at| (at, u)).next()
            })
            .filter(|(at, _)| *at <= until)
            .min_by(|a, b| a.0.total_cmp(&b.0))
    }

    fn fire_countdown(&mut self, unit: usize) {
        let sim = self.clock.sim();
        let Some(u) = self.units.get_mut(unit) else { return };
        let Some(rule) = u.count_down.rules.iter_mut().find(|r| r.enabled()) else { return };
        rule.body.insert("enable".into(), Value::from(0));
        let on = rule.action_on();
        for i in self.outlets_of_unit(unit) {
            if let Some(o) = self.outlets.get_mut(i) {
                o.switch(on, sim, &mut self.rng);
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
