//! `time` (kasa-protocol.md §8.4). The device keeps one clock (an instant: the host's clock,
//! advanced by the simulated time and shifted by any client setting) and one firmware zone
//! index (0–109, `device/zones.rs`); `get_time` is that instant as local time in the zone.
//!
//! - `get_timezone` → `{"index":N}` (the newer-firmware shape);
//! - `set_timezone` with `index` moves the device to that zone (the local time follows the
//!   zone; day statistics use the new zone's dates from then on) and, when the request also
//!   carries `year`…`sec` (python-kasa always sends them), sets the local time in the new
//!   zone; only some of the date fields is -3;
//! - `set_time` with `year`…`sec` sets the local time in the current zone.
//!
//! The default index is the host's zone, so an untouched device shows the host's local time.

use jiff::civil;
use serde_json::json;

use super::{ok, ok_with, CallError, CallResult, Params};
use crate::kasa::device::{zones, DeviceState};

const DATE_FIELDS: [&str; 6] = ["year", "month", "mday", "hour", "min", "sec"];

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
            let index = p.i64_in("index", 0..=zones::MAX_INDEX)?;
            let present = DATE_FIELDS.iter().filter(|k| matches!(p.get(k), Ok(Some(_)))).count();
            let local = match present {
                0 => None,
                6 => Some(local_time(p)?),
                _ => return Err(CallError::InvalidArgument),
            };
            dev.tz_index = index;
            dev.clock.set_zone(zones::time_zone(index));
            if let Some(dt) = local {
                if !dev.clock.set_local(dt) {
                    return Err(CallError::InvalidArgument);
                }
            }
            dev.refresh_next_actions();
            ok()
        }
        "set_time" => {
            let dt = local_time(p)?;
            if !dev.clock.set_local(dt) {
                return Err(CallError::InvalidArgument);
            }
            dev.refresh_next_actions();
            ok()
        }
        _ => Err(CallError::NoSuchMethod),
    }
}

/// `year`…`sec` as a local date and time; -3 if any is missing or out of range.
fn local_time(p: &Params) -> Result<civil::DateTime, CallError> {
    let field = |k: &str, r: std::ops::RangeInclusive<i64>| -> Result<i8, CallError> {
        i8::try_from(p.i64_in(k, r)?).map_err(|_| CallError::InvalidArgument)
    };
    let year = i16::try_from(p.i64_in("year", 1970..=2099)?).map_err(|_| CallError::InvalidArgument)?;
    civil::DateTime::new(
        year,
        field("month", 1..=12)?,
        field("mday", 1..=31)?,
        field("hour", 0..=23)?,
        field("min", 0..=59)?,
        field("sec", 0..=59)?,
        0,
    )
    .map_err(|_| CallError::InvalidArgument)
}
