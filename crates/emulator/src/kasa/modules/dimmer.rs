//! `smartlife.iot.dimmer` (kasa-protocol.md §8.9), on profiles whose sysinfo has
//! `brightness`. `get_default_behavior`'s shape is a guess (no capture available).

use serde_json::json;

use super::{ok, ok_with, CallError, CallResult, Params};
use crate::kasa::device::DeviceState;

pub(super) fn call(dev: &mut DeviceState, method: &str, p: &Params) -> CallResult {
    let sim = dev.clock.sim();
    let set_param = |dev: &mut DeviceState, key: &str, value: i64| {
        if let Some(d) = dev.dimmer.as_mut() {
            d.params.insert(key.into(), json!(value));
        }
    };
    match method {
        "set_brightness" => {
            let b = p.i64_in("brightness", 0..=100)?.max(1);
            if let Some(d) = dev.dimmer.as_mut() {
                d.brightness = b;
            }
            ok()
        }
        "set_dimmer_transition" => {
            let b = p.i64_in("brightness", 0..=100)?;
            p.opt_i64("duration")?;
            if b == 0 {
                if let Some(o) = dev.outlets.first_mut() {
                    o.switch(false, sim, &mut dev.rng);
                }
            } else {
                if let Some(d) = dev.dimmer.as_mut() {
                    d.brightness = b;
                }
                if let Some(o) = dev.outlets.first_mut() {
                    o.switch(true, sim, &mut dev.rng);
                }
            }
            ok()
        }
        "get_dimmer_parameters" => Ok(dev.dimmer.as_ref().map(|d| d.params.clone()).unwrap_or_default()),
        "get_default_behavior" => ok_with(json!({
            "soft_on": {"mode": "last_status"}, "hard_on": {"mode": "last_status"},
            "long_press": {"mode": "instant_on_off"}, "double_click": {"mode": "none"},
        })),
        "set_fade_on_time" => {
            let v = p.i64("fadeTime")?;
            set_param(dev, "fadeOnTime", v);
            ok()
        }
        "set_fade_off_time" => {
            let v = p.i64("fadeTime")?;
            set_param(dev, "fadeOffTime", v);
            ok()
        }
        "set_gentle_on_time" => {
            let v = p.i64("duration")?;
            set_param(dev, "gentleOnTime", v);
            ok()
        }
        "set_gentle_off_time" => {
            let v = p.i64("duration")?;
            set_param(dev, "gentleOffTime", v);
            ok()
        }
        "set_button_ramp_rate" => {
            let v = p.i64("rampRate")?;
            set_param(dev, "rampRate", v);
            ok()
        }
        "calibrate_brightness" => {
            let v = p.i64("minThreshold")?;
            set_param(dev, "minThreshold", v);
            ok()
        }
        "set_double_click_action" | "set_long_press_action" | "set_switch_state" => {
            p.map()?;
            ok()
        }
        _ => Err(CallError::NoSuchMethod),
    }
}
