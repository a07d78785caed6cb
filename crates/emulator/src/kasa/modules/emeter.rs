//! `emeter` (kasa-protocol.md §8.5), present on models with `ENE`. Readings use the model's
//! unit scheme ([`EmeterReading::to_wire`]). On strips every method honours the context (the
//! first listed outlet for reads, every listed outlet for `erase_emeter_stat`); without a
//! context it addresses outlet 0, like a real HS300.

use plugctl_proto::kasa::{EmeterReading, EmeterScheme};
use serde_json::{json, Map, Value};

use super::{ok, ok_with, CallError, CallResult, Params};
use crate::kasa::device::{Ctx, DeviceState, Targets};

pub(super) fn call(dev: &mut DeviceState, method: &str, p: &Params, ctx: &Ctx) -> CallResult {
    let scheme = dev.emeter_scheme().ok_or(CallError::NoSuchMethod)?;
    match method {
        "get_realtime" => {
            let i = read_outlet(dev, ctx)?;
            let reading = meter_reading(dev, i)?;
            match reading.to_wire(scheme) {
                Value::Object(m) => Ok(m),
                _ => ok(),
            }
        }
        "get_daystat" => {
            let year = p.i64_in("year", 0..=9999)?;
            let month = p.i64_in("month", 1..=12)?;
            let i = read_outlet(dev, ctx)?;
            let meter = dev.outlets.get(i).and_then(|o| o.meter.as_ref()).ok_or(CallError::NoSuchMethod)?;
            let list: Vec<Value> = meter
                .energy
                .days_of(year, month)
                .into_iter()
                .map(|(day, kwh)| entry(scheme, json!({"year": year, "month": month, "day": day}), kwh))
                .collect();
            ok_with(json!({ "day_list": list }))
        }
        "get_monthstat" => {
            let year = p.i64_in("year", 0..=9999)?;
            let i = read_outlet(dev, ctx)?;
            let meter = dev.outlets.get(i).and_then(|o| o.meter.as_ref()).ok_or(CallError::NoSuchMethod)?;
            let list: Vec<Value> = meter
                .energy
                .months_of(year)
                .into_iter()
                .map(|(month, kwh)| entry(scheme, json!({"year": year, "month": month}), kwh))
                .collect();
            ok_with(json!({ "month_list": list }))
        }
        "erase_emeter_stat" => {
            let outlets = match dev.targets(ctx)? {
                Targets::Device => vec![0],
                Targets::Outlets(list) => list,
            };
            for i in outlets {
                if let Some(m) = dev.outlets.get_mut(i).and_then(|o| o.meter.as_mut()) {
                    m.energy.clear();
                }
            }
            ok()
        }
        "get_vgain_igain" => ok_with(json!({"vgain": dev.vgain_igain.0, "igain": dev.vgain_igain.1})),
        "set_vgain_igain" => {
            dev.vgain_igain = (p.i64("vgain")?, p.i64("igain")?);
            ok()
        }
        "start_calibration" => {
            p.i64("vtarget")?;
            p.i64("itarget")?;
            ok()
        }
        _ => Err(CallError::NoSuchMethod),
    }
}

/// The outlet a read addresses: the first listed, else outlet 0.
fn read_outlet(dev: &DeviceState, ctx: &Ctx) -> Result<usize, CallError> {
    Ok(match dev.targets(ctx)? {
        Targets::Device => 0,
        Targets::Outlets(list) => list.first().copied().unwrap_or(0),
    })
}

fn meter_reading(dev: &DeviceState, i: usize) -> Result<EmeterReading, CallError> {
    dev.outlets.get(i).and_then(|o| o.meter.as_ref()).map(|m| m.reading()).ok_or(CallError::NoSuchMethod)
}

/// A stat entry with `energy` (kWh, v1) or `energy_wh` (v2).
fn entry(scheme: EmeterScheme, base: Value, kwh: f64) -> Value {
    let mut m: Map<String, Value> = match base {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    match scheme {
        EmeterScheme::V1 => m.insert("energy".into(), json!((kwh * 1e6).round() / 1e6)),
        EmeterScheme::V2 => m.insert("energy_wh".into(), json!((kwh * 1000.0).round() as i64)),
    };
    Value::Object(m)
}
