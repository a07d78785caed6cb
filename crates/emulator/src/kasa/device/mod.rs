//! One emulated Kasa device as a sans-I/O state machine.
//!
//! [`DeviceState::handle`] takes the plaintext of a request (the decrypted TCP frame payload
//! or UDP datagram) and the current [`Instant`], and returns the plaintext of the reply, or
//! `None` when the device sends nothing (while rebooting, or for `reboot` with delay 0).
//! No sockets, no clocks read except the host wall clock once (to anchor the device's
//! calendar), so everything is testable with injected instants.
//!
//! Reply rules (kasa-protocol.md §5.2, §7, §9, §12, §13): every top-level module is answered;
//! unknown modules (including `countdown`, `smartlife.iot.*`, `emeter` on models without
//! `ENE`, and a second `context`) get `{"err_code":-1,"err_msg":"module not support"}`;
//! unknown methods `{"err_code":-2,"err_msg":"member not support"}`; a module value that is
//! not an object gets -3 at module level; wrong or missing parameters -3 at method level;
//! non-JSON, non-object or too deeply nested payloads get `{}`.
//!
//! State evolves with the injected time (scaled by [`DeviceConfig::time_scale`]): `on_time`
//! counts while on, energy integrates the simulated power, day/month statistics accumulate
//! by local date, and schedule, away-mode and count-down rules fire (`events.rs`).

mod clock;
mod context;
mod events;
mod handle;
mod meter;
mod outlet;
mod power;
mod request;
mod rng;
pub(crate) mod rules;
mod stats;
mod sun;
mod sysinfo;
pub mod zones;

use std::time::{Duration, Instant};

use plugctl_proto::kasa::{EmeterReading, EmeterScheme};
use serde_json::{json, Map, Value};

pub(crate) use clock::{host_tz, SimClock};
pub(crate) use context::{Ctx, Targets};
pub(crate) use outlet::{idle_action, Outlet, Unit};
pub(crate) use power::PowerCycle;
pub(crate) use rng::Rng;
pub(crate) use stats::DayStats;

use self::meter::Meter;
use super::profile::{ids, Profile};

/// How an emulated device behaves in time.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceConfig {
    /// Simulated time runs this many times faster than real time (`on_time`, energy,
    /// statistics, schedules, away mode, count-downs). Values that are not finite and
    /// positive mean 1.
    pub time_scale: f64,
    /// How long a reboot (or factory reset) keeps the device offline, in real time.
    pub reboot_time: Duration,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        Self { time_scale: 1.0, reboot_time: Duration::from_secs(2) }
    }
}

impl DeviceConfig {
    /// The effective time scale (1 if the configured one is unusable).
    pub fn effective_time_scale(&self) -> f64 {
        if self.time_scale.is_finite() && self.time_scale > 0.0 {
            self.time_scale.min(1e9)
        } else {
            1.0
        }
    }
}

/// Dimmer state (models whose sysinfo has `brightness`).
#[derive(Debug, Clone)]
pub(crate) struct Dimmer {
    pub(crate) brightness: i64,
    pub(crate) params: Map<String, Value>,
}

/// One emulated device. See the module docs.
#[derive(Debug, Clone)]
pub struct DeviceState {
    pub(crate) profile: Profile,
    pub(crate) cfg: DeviceConfig,
    pub(crate) index: usize,
    pub(crate) clock: SimClock,
    pub(crate) rng: Rng,
    pub(crate) device_id: String,
    pub(crate) hw_id: String,
    pub(crate) oem_id: String,
    pub(crate) mac: String,
    pub(crate) alias: String,
    pub(crate) default_alias: String,
    pub(crate) led_off: i64,
    pub(crate) icon_hash: String,
    /// Set by `set_dev_location` (degrees); `None` keeps the template's values.
    pub(crate) location: Option<(f64, f64)>,
    pub(crate) strip: bool,
    pub(crate) outlets: Vec<Outlet>,
    /// Unit 0 = the device; units 1…N = strip outlets (see `outlet.rs`).
    pub(crate) units: Vec<Unit>,
    /// True once a client changed any rule list (then `active_mode` is computed).
    pub(crate) rules_touched: bool,
    pub(crate) cloud: Map<String, Value>,
    pub(crate) tz_index: i64,
    pub(crate) wifi: Option<(String, i64)>,
    pub(crate) vgain_igain: (i64, i64),
    pub(crate) dimmer: Option<Dimmer>,
    pub(crate) power: PowerCycle,
}

impl DeviceState {
    /// Builds a device; see [`Profile::instantiate`].
    pub(crate) fn new(
        profile: Profile,
        id: ids::Identity,
        index: usize,
        seed: u64,
        cfg: DeviceConfig,
    ) -> Self {
        let data = profile.data();
        let mut rng = Rng::new(ids::hash(&[
            &seed.to_le_bytes(),
            &(index as u64).to_le_bytes(),
            profile.model().as_bytes(),
            b"rng",
        ]));
        let s = &data.sysinfo;
        let strip = !id.child_ids.is_empty();
        let flag = |v: Option<&Value>| v.and_then(rules::flag).unwrap_or(0) == 1;
        let secs =
            |v: Option<&Value>| v.and_then(Value::as_f64).filter(|x| x.is_finite()).unwrap_or(0.0).max(0.0);
        let loads = &data.loads_w;
        let load = |i: usize| loads.get(i).or(loads.last()).copied().unwrap_or(0.0);

        let mut outlets = Vec::new();
        let mut units = Vec::new();
        if strip {
            units.push(Unit::new(None));
            let children = s.get("children").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
            for (i, (cid, calias)) in id.child_ids.iter().zip(&id.child_aliases).enumerate() {
                let c = children.get(i);
                let on = flag(c.and_then(|c| c.get("state")));
                let initial = if i == 0 { data.initial_reading } else { None };
                let meter =
                    data.emeter.map(|_| Meter::new(load(i), data.nominal_voltage_v, initial, on, &mut rng));
                outlets.push(Outlet {
                    id: cid.clone(),
                    alias: calias.clone(),
                    on,
                    on_since: -secs(c.and_then(|c| c.get("on_time"))),
                    meter,
                });
                units.push(Unit::new(c.and_then(|c| c.get("next_action"))));
            }
        } else {
            let on = flag(s.get("relay_state"));
            let meter = data
                .emeter
                .map(|_| Meter::new(load(0), data.nominal_voltage_v, data.initial_reading, on, &mut rng));
            outlets.push(Outlet {
                id: String::new(),
                alias: String::new(),
                on,
                on_since: -secs(s.get("on_time")),
                meter,
            });
            units.push(Unit::new(s.get("next_action")));
        }
        let static_reply = |module: &str, method: &str| {
            data.static_replies.get(module).and_then(|m| m.get(method)).and_then(Value::as_object)
        };
        if let Some(rules) = static_reply("schedule", "get_rules") {
            if let Some(u) = units.first_mut() {
                u.schedule.seed(rules);
            }
        }
        if let (Some(next), Some(u)) = (static_reply("schedule", "get_next_action"), units.first_mut()) {
            let mut n = next.clone();
            n.remove("err_code");
            if let Some(t) = n.remove("schd_time") {
                n.insert("schd_sec".into(), t);
            }
            u.next_action = Value::Object(n);
        }
        let mut cloud = default_cloud();
        if let Some(info) = static_reply("cnCloud", "get_info") {
            for (k, v) in info {
                if k != "err_code" {
                    cloud.insert(k.clone(), v.clone());
                }
            }
        }
        let dimmer = s.get("brightness").map(|b| {
            let mut params = default_dimmer_params();
            if let Some(p) = static_reply("smartlife.iot.dimmer", "get_dimmer_parameters") {
                params
                    .extend(p.iter().filter(|(k, _)| *k != "err_code").map(|(k, v)| (k.clone(), v.clone())));
            }
            Dimmer { brightness: b.as_i64().unwrap_or(100).clamp(0, 100), params }
        });
        let tz_index = zones::default_index(&host_tz());
        let mut clock = SimClock::new(cfg.effective_time_scale());
        clock.set_zone(zones::time_zone(tz_index));
        Self {
            clock,
            rng,
            device_id: id.device_id,
            hw_id: id.hw_id,
            oem_id: id.oem_id,
            mac: id.mac,
            alias: id.alias,
            default_alias: id.default_alias,
            led_off: i64::from(flag(s.get("led_off"))),
            icon_hash: s.get("icon_hash").and_then(Value::as_str).unwrap_or("").to_string(),
            location: None,
            strip,
            outlets,
            units,
            rules_touched: false,
            cloud,
            tz_index,
            wifi: None,
            vgain_igain: (13462, 16835),
            dimmer,
            power: PowerCycle::default(),
            index,
            cfg,
            profile,
        }
    }

    /// The profile this device was made from.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// The device configuration.
    pub fn config(&self) -> &DeviceConfig {
        &self.cfg
    }

    /// The index this device was instantiated with.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The sysinfo `model`, e.g. `HS110(EU)`.
    pub fn model(&self) -> &str {
        self.profile.model()
    }

    /// The current alias.
    pub fn alias(&self) -> &str {
        &self.alias
    }

    /// The current MAC (`AA:BB:CC:DD:EE:FF`).
    pub fn mac(&self) -> &str {
        &self.mac
    }

    /// The 40-hex `deviceId`.
    pub fn device_id(&self) -> &str {
        &self.device_id
    }

    /// The emeter scheme, or `None` without an energy meter.
    pub fn emeter_scheme(&self) -> Option<EmeterScheme> {
        self.profile.emeter_scheme()
    }

    /// Strip outlet ids (empty for single-outlet devices).
    pub fn child_ids(&self) -> Vec<String> {
        if self.strip {
            self.outlets.iter().map(|o| o.id.clone()).collect()
        } else {
            Vec::new()
        }
    }

    /// Relay states: one entry for a plug, one per outlet for a strip.
    pub fn relay_states(&self) -> Vec<bool> {
        self.outlets.iter().map(|o| o.on).collect()
    }

    /// Switches a relay directly (demos, fault injection): `outlet` `None` = every outlet.
    /// Returns false for an unknown outlet.
    pub fn set_relay(&mut self, outlet: Option<usize>, on: bool, now: Instant) -> bool {
        self.advance(now);
        let sim = self.clock.sim();
        match outlet {
            None => self.outlets.iter_mut().for_each(|o| o.switch(on, sim, &mut self.rng)),
            Some(i) => match self.outlets.get_mut(i) {
                Some(o) => o.switch(on, sim, &mut self.rng),
                None => return false,
            },
        }
        true
    }

    /// The `get_sysinfo` result at `now` (with `err_code`).
    pub fn sysinfo(&mut self, now: Instant) -> Map<String, Value> {
        self.advance(now);
        self.render_sysinfo()
    }

    /// The emeter reading of `outlet` at `now` (outlet 0 on a plug), if the model has one.
    pub fn reading(&mut self, outlet: usize, now: Instant) -> Option<EmeterReading> {
        self.advance(now);
        self.outlets.get(outlet)?.meter.as_ref().map(Meter::reading)
    }

    /// True while the device is rebooting (it answers nothing).
    pub fn is_offline(&self, now: Instant) -> bool {
        self.power.is_offline(now)
    }

    /// How many reboots have started by `now`. Servers drop connections accepted in an
    /// earlier epoch.
    pub fn boot_epoch(&self, now: Instant) -> u64 {
        self.power.epoch(now)
    }

    /// When a scheduled reboot starts, if one is still ahead of `now` (servers close
    /// connections then).
    pub fn pending_reboot(&self, now: Instant) -> Option<Instant> {
        self.power.pending_start().filter(|s| *s > now)
    }

    /// Schedules a reboot `delay` from `now` (fault injection); it lasts
    /// [`DeviceConfig::reboot_time`].
    pub fn schedule_reboot(&mut self, delay: Duration, now: Instant) {
        self.power.schedule(now, delay, self.cfg.reboot_time);
    }

    /// The unit a target addresses; `None` for an empty outlet list.
    pub(crate) fn unit_of(&self, targets: &Targets) -> Option<usize> {
        match targets {
            Targets::Device => Some(0),
            Targets::Outlets(list) => list.first().map(|i| if self.strip { i + 1 } else { 0 }),
        }
    }

    /// The outlets a unit switches.
    pub(crate) fn outlets_of_unit(&self, unit: usize) -> std::ops::Range<usize> {
        if !self.strip {
            0..self.outlets.len().min(1)
        } else if unit == 0 {
            0..self.outlets.len()
        } else {
            let i = (unit - 1).min(self.outlets.len());
            i..(i + 1).min(self.outlets.len())
        }
    }

    /// Resolves a context for a context-aware method.
    pub(crate) fn targets(&self, ctx: &Ctx) -> Result<Targets, crate::kasa::modules::CallError> {
        use crate::kasa::modules::CallError;
        if !self.strip {
            return Ok(Targets::Device);
        }
        match ctx {
            Ctx::Absent => Ok(Targets::Device),
            Ctx::Invalid => Err(CallError::InvalidArgument),
            Ctx::Ids(ids) => ids
                .iter()
                .map(|id| context::outlet_index(self.outlets.iter().map(|o| o.id.as_str()), id))
                .collect::<Option<Vec<_>>>()
                .map(Targets::Outlets)
                .ok_or(CallError::EntryNotExist),
        }
    }

    /// Marks a rule list of `unit` as changed by a client: from now on `active_mode` and
    /// the unit's `next_action` are computed from the rules, not taken from the profile.
    pub(crate) fn touch_rules(&mut self, unit: usize) {
        self.rules_touched = true;
        if let Some(u) = self.units.get_mut(unit) {
            u.next_computed = true;
        }
        self.refresh_next_actions();
    }
}

/// `cnCloud.get_info` of an unbound device (kasa-protocol.md §8.3): all ten fields.
pub(crate) fn default_cloud() -> Map<String, Value> {
    match json!({
        "username": "", "server": "devs.tplinkcloud.com", "binded": 0, "cld_connection": 0,
        "illegalType": -1, "stopConnect": -1, "tcspStatus": -1, "fwDlPage": "", "tcspInfo": "",
        "fwNotifyType": 0,
    }) {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// `get_dimmer_parameters` of a dimmer whose dump gave none (HS220 values, §8.9).
fn default_dimmer_params() -> Map<String, Value> {
    match json!({
        "minThreshold": 0, "fadeOnTime": 1000, "fadeOffTime": 1000, "gentleOnTime": 3000,
        "gentleOffTime": 10000, "rampRate": 30,
    }) {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}
