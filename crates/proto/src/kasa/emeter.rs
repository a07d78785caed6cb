//! Energy meter readings (kasa-protocol.md §8.5), normalised across the two unit schemes:
//! hw-v1 floats (`voltage` V, `current` A, `power` W, `total` kWh) and v2+ integers
//! (`voltage_mv`, `current_ma`, `power_mw`, `total_wh`).

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::error::ResponseError;

/// The unit scheme a device uses on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EmeterScheme {
    /// hw 1.x: floats in V, A, W, kWh.
    V1,
    /// hw 2+ (and HS300, KP115…): integers in mV, mA, mW, Wh.
    V2,
}

impl EmeterScheme {
    /// The scheme a device with this `hw_ver` uses (HS110 hw 1.x floats, everything later
    /// integers).
    pub fn for_hw_ver(hw_ver: &str) -> Self {
        if hw_ver.starts_with("1.") || hw_ver == "1" {
            Self::V1
        } else {
            Self::V2
        }
    }
}

/// A realtime reading in SI-ish units, whatever the device sent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EmeterReading {
    /// Active power, W.
    pub power_w: f64,
    /// RMS voltage, V.
    pub voltage_v: f64,
    /// RMS current, A.
    pub current_a: f64,
    /// Cumulative energy, kWh.
    pub total_kwh: f64,
}

impl EmeterReading {
    /// Reads a `get_realtime` result in either scheme (v2 keys win if both are present).
    pub fn from_map(m: &Map<String, Value>) -> Result<Self, ResponseError> {
        let get = |v2: &str, scale: f64, v1: &str| -> Result<f64, ResponseError> {
            if let Some(x) = m.get(v2).and_then(Value::as_f64) {
                return Ok(x / scale);
            }
            m.get(v1).and_then(Value::as_f64).ok_or_else(|| ResponseError::Malformed {
                what: "emeter reading",
                detail: format!("neither {v2} nor {v1} is a number"),
            })
        };
        Ok(Self {
            power_w: get("power_mw", 1000.0, "power")?,
            voltage_v: get("voltage_mv", 1000.0, "voltage")?,
            current_a: get("current_ma", 1000.0, "current")?,
            total_kwh: get("total_wh", 1000.0, "total")?,
        })
    }

    /// The scheme a reading map uses.
    pub fn scheme_of(m: &Map<String, Value>) -> EmeterScheme {
        if m.contains_key("power_mw") || m.contains_key("total_wh") {
            EmeterScheme::V2
        } else {
            EmeterScheme::V1
        }
    }

    /// Encodes the reading as a device of `scheme` would send it (without `err_code`).
    pub fn to_wire(&self, scheme: EmeterScheme) -> Value {
        match scheme {
            EmeterScheme::V1 => json!({
                "current": round6(self.current_a),
                "voltage": round6(self.voltage_v),
                "power": round6(self.power_w),
                "total": round6(self.total_kwh),
            }),
            EmeterScheme::V2 => json!({
                "voltage_mv": (self.voltage_v * 1000.0).round() as i64,
                "current_ma": (self.current_a * 1000.0).round() as i64,
                "power_mw": (self.power_w * 1000.0).round() as i64,
                "total_wh": (self.total_kwh * 1000.0).round() as i64,
            }),
        }
    }
}

/// Energy of one period (a day of `get_daystat` or a month of `get_monthstat`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EnergyStat {
    /// Year.
    pub year: i32,
    /// Month 1–12.
    pub month: u32,
    /// Day 1–31 for a day entry, `None` for a month entry.
    pub day: Option<u32>,
    /// Energy in kWh.
    pub energy_kwh: f64,
}

impl EnergyStat {
    /// Reads `day_list` or `month_list` entries in either scheme.
    pub fn list_from_map(m: &Map<String, Value>) -> Result<Vec<Self>, ResponseError> {
        let list =
            m.get("day_list").or_else(|| m.get("month_list")).and_then(Value::as_array).ok_or_else(|| {
                ResponseError::Malformed { what: "energy stats", detail: "no day_list or month_list".into() }
            })?;
        list.iter()
            .map(|e| {
                let bad = |d: &str| ResponseError::Malformed { what: "energy stats", detail: d.to_string() };
                let int = |k: &str| e.get(k).and_then(Value::as_i64);
                let energy = match (
                    e.get("energy_wh").and_then(Value::as_f64),
                    e.get("energy").and_then(Value::as_f64),
                ) {
                    (Some(wh), _) => wh / 1000.0,
                    (None, Some(kwh)) => kwh,
                    _ => return Err(bad("entry without energy or energy_wh")),
                };
                // Out-of-range numbers are errors, never wrapped into a plausible date.
                let year = int("year").ok_or_else(|| bad("entry without year"))?;
                let month = int("month").ok_or_else(|| bad("entry without month"))?;
                Ok(Self {
                    year: i32::try_from(year).map_err(|_| bad(&format!("year {year} out of range")))?,
                    month: u32::try_from(month).map_err(|_| bad(&format!("month {month} out of range")))?,
                    day: int("day")
                        .map(|d| u32::try_from(d).map_err(|_| bad(&format!("day {d} out of range"))))
                        .transpose()?,
                    energy_kwh: energy,
                })
            })
            .collect()
    }
}

fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn both_schemes_normalise_to_the_same_units() {
        let v1 = EmeterReading::from_map(&map(
            json!({"current":0.451,"voltage":230.837,"power":61.753,"total":16.323,"err_code":0}),
        ))
        .unwrap();
        let v2 = EmeterReading::from_map(&map(
            json!({"current_ma":451,"voltage_mv":230837,"power_mw":61753,"total_wh":16323,"err_code":0}),
        ))
        .unwrap();
        for (a, b) in [
            (v1.power_w, v2.power_w),
            (v1.voltage_v, v2.voltage_v),
            (v1.current_a, v2.current_a),
            (v1.total_kwh, v2.total_kwh),
        ] {
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
        assert_eq!(EmeterReading::scheme_of(&map(v2.to_wire(EmeterScheme::V2))), EmeterScheme::V2);
        assert_eq!(EmeterReading::from_map(&map(v2.to_wire(EmeterScheme::V1))).unwrap(), v1);
    }

    #[test]
    fn missing_fields_are_errors() {
        assert!(EmeterReading::from_map(&map(json!({"power":1.0}))).is_err());
        assert!(
            EmeterReading::from_map(&map(json!({"power_mw":"1","voltage":1,"current":1,"total":1}))).is_err()
        );
    }

    #[test]
    fn stats_in_both_schemes() {
        let d = EnergyStat::list_from_map(&map(
            json!({"day_list":[{"year":2016,"month":11,"day":1,"energy":0.404}]}),
        ))
        .unwrap();
        assert_eq!(d[0].day, Some(1));
        let m =
            EnergyStat::list_from_map(&map(json!({"month_list":[{"year":2023,"month":6,"energy_wh":1500}]})))
                .unwrap();
        assert_eq!(m[0].energy_kwh, 1.5);
        assert_eq!(EmeterScheme::for_hw_ver("1.0"), EmeterScheme::V1);
        assert_eq!(EmeterScheme::for_hw_ver("4.0"), EmeterScheme::V2);
    }

    /// Found by the `kasa_reply_models` fuzz target: numbers outside the field types were
    /// cast with `as` and wrapped (year 4294969296 read as 2000, month -1 as 4294967295).
    #[test]
    fn out_of_range_stats_are_errors_not_wrapped() {
        for entry in [
            json!({"year":4_294_969_296_i64,"month":1,"energy":1.0}),
            json!({"year":2026,"month":-1,"energy":1.0}),
            json!({"year":2026,"month":1,"day":-1,"energy":1.0}),
            json!({"year":2026,"month":1,"day":4_294_967_297_i64,"energy":1.0}),
        ] {
            let err = EnergyStat::list_from_map(&map(json!({ "day_list": [entry] }))).unwrap_err();
            assert!(err.to_string().contains("out of range"), "{err}");
        }
        let ok =
            EnergyStat::list_from_map(&map(json!({"day_list":[{"year":-1,"month":0,"day":0,"energy":0}]})));
        assert_eq!(ok.unwrap()[0].year, -1);
    }
}
