//! Device profiles: everything needed to instantiate an emulated device of one model.
//!
//! A [`Profile`] holds a `get_sysinfo` template, the emeter unit scheme (or none), the base
//! load per outlet, the nominal mains voltage, and extra static method replies taken from a
//! dump. Profiles come from two places:
//! - [`builtin`]: models written from the field tables of kasa-protocol.md §11;
//! - [`Profile::from_dump_file`]: a real-device dump in the python-kasa fixture format
//!   (module → method → reply).
//!
//! [`Profile::instantiate`] turns a profile into a [`DeviceState`], putting realistic ids
//! back where a dump had scrubbed them (see [`ids`]).
//!
//! Profiles are cheap to clone (shared data), so a fleet of thousands of devices of one
//! model shares one template.

mod builtin;
mod dump;
mod error;
pub mod ids;

use std::{path::Path, sync::Arc};

use plugctl_proto::kasa::{EmeterReading, EmeterScheme};
use serde_json::{Map, Value};

pub use builtin::{builtin, builtin_names};
pub use error::ProfileError;

use super::device::{DeviceConfig, DeviceState};

/// Default load of a single-outlet plug when the dump gives none, in W.
pub const DEFAULT_LOAD_W: f64 = 60.0;

/// Small, different loads of strip outlets when the dump gives none, in W.
pub const DEFAULT_STRIP_LOADS_W: [f64; 8] = [7.5, 12.0, 4.5, 18.0, 2.5, 9.0, 5.0, 15.0];

/// The description of a device model. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Profile {
    data: Arc<ProfileData>,
}

#[derive(Debug, Clone)]
pub(crate) struct ProfileData {
    pub(crate) name: String,
    /// `get_sysinfo` result without `err_code`.
    pub(crate) sysinfo: Map<String, Value>,
    pub(crate) emeter: Option<EmeterScheme>,
    pub(crate) initial_reading: Option<EmeterReading>,
    /// One entry per outlet (one for single-outlet devices).
    pub(crate) loads_w: Vec<f64>,
    pub(crate) nominal_voltage_v: f64,
    /// module → {method → reply}.
    pub(crate) static_replies: Map<String, Value>,
    /// Modules the dump showed as `module not support`.
    pub(crate) unsupported: Vec<String>,
    pub(crate) discovery_result: Option<Value>,
}

impl Profile {
    pub(crate) fn from_data(data: ProfileData) -> Self {
        Self { data: Arc::new(data) }
    }

    pub(crate) fn data(&self) -> &ProfileData {
        &self.data
    }

    fn data_mut(&mut self) -> &mut ProfileData {
        Arc::make_mut(&mut self.data)
    }

    /// Loads a dump file in the fixture format (`{"system":{"get_sysinfo":{…}},"emeter":…}`).
    ///
    /// The profile is named after the file stem (e.g. `HS110(EU)_1.0_1.2.5`).
    pub fn from_dump_file(path: impl AsRef<Path>) -> Result<Self, ProfileError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|source| ProfileError::Read { path: path.to_path_buf(), source })?;
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        dump::parse(&text, &path.display().to_string(), name)
    }

    /// Loads a dump from its JSON text (see [`Profile::from_dump_file`]). The profile is named
    /// after the sysinfo model.
    pub fn from_dump_str(text: &str) -> Result<Self, ProfileError> {
        dump::parse(text, "<string>", String::new())
    }

    /// The profile name: a built-in name such as `hs110-hw1`, or a dump's file stem.
    pub fn name(&self) -> &str {
        &self.data.name
    }

    /// The sysinfo `model`, e.g. `HS110(EU)`.
    pub fn model(&self) -> &str {
        self.data.sysinfo.get("model").and_then(Value::as_str).unwrap_or("")
    }

    /// The sysinfo `hw_ver`, e.g. `1.0`.
    pub fn hw_ver(&self) -> &str {
        self.data.sysinfo.get("hw_ver").and_then(Value::as_str).unwrap_or("")
    }

    /// The `get_sysinfo` template (without `err_code`; ids may be scrubbed zeros).
    pub fn sysinfo(&self) -> &Map<String, Value> {
        &self.data.sysinfo
    }

    /// The emeter unit scheme, or `None` for models without an energy meter.
    pub fn emeter_scheme(&self) -> Option<EmeterScheme> {
        self.data.emeter
    }

    /// The reading the dump contained (outlet 0 on strips), if any.
    pub fn initial_reading(&self) -> Option<EmeterReading> {
        self.data.initial_reading
    }

    /// The number of strip outlets (`child_num`), 0 for single-outlet devices.
    pub fn strip_outlets(&self) -> usize {
        self.data.sysinfo.get("children").and_then(Value::as_array).map_or(0, Vec::len)
    }

    /// True for dimmers (the sysinfo has `brightness`).
    pub fn is_dimmer(&self) -> bool {
        self.data.sysinfo.contains_key("brightness")
    }

    /// The load drawn while on, in W, per outlet (one entry for single-outlet devices).
    pub fn outlet_loads_w(&self) -> &[f64] {
        &self.data.loads_w
    }

    /// The load of the first outlet, in W.
    pub fn base_load_w(&self) -> f64 {
        self.data.loads_w.first().copied().unwrap_or(DEFAULT_LOAD_W)
    }

    /// The nominal mains voltage in V (230 for EU/UK models, 120 for US, or the dump's).
    pub fn nominal_voltage_v(&self) -> f64 {
        self.data.nominal_voltage_v
    }

    /// Extra method replies taken from a dump: module → {method → reply}. They answer
    /// methods the emulator does not implement itself.
    pub fn static_replies(&self) -> &Map<String, Value> {
        &self.data.static_replies
    }

    /// Modules the dump showed as `module not support`.
    pub fn unsupported_modules(&self) -> &[String] {
        &self.data.unsupported
    }

    /// The UDP-20002 `discovery_result` of dumps from KLAP/AES firmware (which has no
    /// port-9999 service), for tests of the "newer firmware" error path.
    pub fn klap_discovery(&self) -> Option<&Value> {
        self.data.discovery_result.as_ref()
    }

    /// Renames the profile.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.data_mut().name = name.into();
        self
    }

    /// Sets the load of every outlet, in W (clamped to 0…4000).
    pub fn with_base_load_w(mut self, watts: f64) -> Self {
        let w = sane_load(watts);
        self.data_mut().loads_w.iter_mut().for_each(|l| *l = w);
        self
    }

    /// Sets per-outlet loads, in W; missing entries keep their value, extra ones are ignored.
    pub fn with_outlet_loads_w(mut self, watts: &[f64]) -> Self {
        let data = self.data_mut();
        for (l, w) in data.loads_w.iter_mut().zip(watts) {
            *l = sane_load(*w);
        }
        self
    }

    /// Sets the nominal mains voltage, in V.
    pub fn with_nominal_voltage_v(mut self, volts: f64) -> Self {
        if volts.is_finite() && volts > 0.0 && volts < 1000.0 {
            self.data_mut().nominal_voltage_v = volts;
        }
        self
    }

    /// Creates device number `index` of a fleet seeded with `seed`, with the default
    /// [`DeviceConfig`]. Ids are deterministic in (seed, index, model); see [`ids`] for the
    /// rules (index 0 keeps the template's MAC exactly).
    pub fn instantiate(&self, index: usize, seed: u64) -> DeviceState {
        self.instantiate_with(index, seed, DeviceConfig::default())
    }

    /// Like [`Profile::instantiate`], with a device configuration (time scale, reboot time).
    pub fn instantiate_with(&self, index: usize, seed: u64, cfg: DeviceConfig) -> DeviceState {
        let identity = ids::Identity::derive(self, index, seed);
        DeviceState::new(self.clone(), identity, index, seed, cfg)
    }
}

fn sane_load(watts: f64) -> f64 {
    if watts.is_finite() {
        watts.clamp(0.0, 4000.0)
    } else {
        0.0
    }
}

/// The nominal voltage of a model from its region suffix: `(US)`, `(CA)`, `(MX)` → 120 V,
/// `(JP)` → 100 V, anything else (EU, UK, AU, …) → 230 V.
pub fn region_voltage(model: &str) -> f64 {
    let region = model.rsplit_once('(').map(|(_, r)| r.trim_end_matches(')')).unwrap_or("");
    match region {
        "US" | "CA" | "MX" | "TW" => 120.0,
        "JP" => 100.0,
        _ => 230.0,
    }
}

/// Default per-outlet loads for a model with `outlets` outlets (0 = single-outlet).
pub(crate) fn default_loads(outlets: usize) -> Vec<f64> {
    if outlets == 0 {
        vec![DEFAULT_LOAD_W]
    } else {
        (0..outlets).map(|i| DEFAULT_STRIP_LOADS_W[i % DEFAULT_STRIP_LOADS_W.len()]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_voltages() {
        assert_eq!(region_voltage("HS110(EU)"), 230.0);
        assert_eq!(region_voltage("HS300(US)"), 120.0);
        assert_eq!(region_voltage("KP105(UK)"), 230.0);
        assert_eq!(region_voltage("weird"), 230.0);
    }

    #[test]
    fn builders_clamp() {
        let p = builtin("hs110-hw1").unwrap().with_base_load_w(f64::NAN);
        assert_eq!(p.base_load_w(), 0.0);
        let p = p.with_base_load_w(100.0).with_nominal_voltage_v(-3.0);
        assert_eq!(p.base_load_w(), 100.0);
        assert_eq!(p.nominal_voltage_v(), 230.0);
        let s = builtin("hs300").unwrap().with_outlet_loads_w(&[1.0, 2.0]);
        assert_eq!(&s.outlet_loads_w()[..3], &[1.0, 2.0, 4.5]);
    }
}
