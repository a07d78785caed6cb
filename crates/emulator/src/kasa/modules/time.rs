//! `time` (kasa-protocol.md §8.4). `get_time` is the device's local wall time: the host's
//! clock in the host's zone, advanced by the simulated time (and shifted by `set_time`).
//! `get_timezone` reports a firmware index (0–109) with the host's UTC offset unless a
//! client set another one; `set_timezone` stores the index but does not move the clock.

use jiff::civil;
use serde_json::json;

use super::{ok, ok_with, CallError, CallResult, Params};
use crate::kasa::device::DeviceState;

pub(super) fn call(dev: &mut DeviceState, method: &str, p: &Params) -> CallResult {
    match method {
        "get_time" => {
            let z = dev.clock.local_now().ok_or(CallError::Code(-11, "time not sync"))?;
            ok_with(json!({
                "year": z.year(), "month": z.month(), "mday": z.day(),
                "hour": z.hour(), "min": z.minute(), "sec": z.second(),
                "wday": z.weekday().to_sunday_zero_offset(),
            }))
        }
        "get_timezone" => ok_with(json!({ "index": dev.tz_index })),
        "set_timezone" => {
            dev.tz_index = p.i64_in("index", 0..=109)?;
            ok()
        }
        "set_time" => {
            let field = |k: &str, r: std::ops::RangeInclusive<i64>| -> Result<i8, CallError> {
                i8::try_from(p.i64_in(k, r)?).map_err(|_| CallError::InvalidArgument)
            };
            let year =
                i16::try_from(p.i64_in("year", 1970..=2099)?).map_err(|_| CallError::InvalidArgument)?;
            let dt = civil::DateTime::new(
                year,
                field("month", 1..=12)?,
                field("mday", 1..=31)?,
                field("hour", 0..=23)?,
                field("min", 0..=59)?,
                field("sec", 0..=59)?,
                0,
            )
            .map_err(|_| CallError::InvalidArgument)?;
            if !dev.clock.set_local(dt) {
                return Err(CallError::InvalidArgument);
            }
            ok()
        }
        _ => Err(CallError::NoSuchMethod),
    }
}
