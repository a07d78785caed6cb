//! The device clock (kasa-protocol.md §8.4): `time.get_time` is the device's *local* wall
//! time, `time.get_timezone` the firmware zone index it is local to ([`super::timezone`]).
//!
//! Setting follows python-kasa: when the zone index changes, one `set_timezone` carries the
//! new index and the local date and time; otherwise `set_time` carries the date and time.
//! If a device rejects `set_time` as unsupported (-1/-2), `set_timezone` with the current
//! index is sent instead. Devices that keep NTP time may ignore the date and time (pyHS100
//! #53); the value read back afterwards is what is returned, so callers see what the device
//! really holds.

use jiff::{civil, tz::TimeZone, Timestamp, Zoned};
use plugctl_proto::kasa::{DeviceErrorKind, Request};
use serde_json::{json, Map, Value};

use super::{
    calls,
    timezone::{self, Zone, ZoneMatch},
    KasaDevice,
};
use crate::error::{Error, Result};

/// What the device reports about its clock.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceTime {
    /// The device's local wall time.
    pub local: civil::DateTime,
    /// The zone index it reported (`None` if `get_timezone` failed).
    pub index: Option<i64>,
    /// Older firmware's description of the zone (`zone_str`), if sent.
    pub zone_str: Option<String>,
    /// The host's clock when the reply arrived.
    pub read_at: Timestamp,
}

impl DeviceTime {
    /// The firmware zone of [`index`](Self::index), if it is in the table.
    pub fn zone(&self) -> Option<&'static Zone> {
        self.index.and_then(timezone::zone)
    }

    /// The device time as an instant, reading the local time in its zone (`None` without a
    /// known zone). A local time that occurs twice (DST end) takes the earlier instant.
    pub fn instant(&self) -> Option<Zoned> {
        self.zone()?.time_zone().to_ambiguous_zoned(self.local).compatible().ok()
    }

    /// Device clock minus host clock, in seconds (positive: the device is ahead).
    pub fn drift_s(&self) -> Option<i64> {
        let at = self.instant()?;
        Some(at.timestamp().as_second() - self.read_at.as_second())
    }
}

/// How a clock change was applied.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeChange {
    /// The method that carried the date and time (`set_time` or `set_timezone`).
    pub method: &'static str,
    /// The clock read back afterwards.
    pub after: DeviceTime,
}

impl KasaDevice {
    /// Reads `time.get_time` and `time.get_timezone` in one request.
    ///
    /// `get_time` must succeed; a failing `get_timezone` leaves [`DeviceTime::index`] empty.
    pub async fn time(&self) -> Result<DeviceTime> {
        let req = Request::call("time", "get_time").with("time", "get_timezone", json!({}));
        let resp = self.query(&req).await?;
        let read_at = Timestamp::now();
        let t = resp.result("time", "get_time").map_err(|e| Error::from_response(self.addr(), e))?;
        let local = civil_of(t).ok_or_else(|| calls::malformed(self, "time", format!("get_time: {t:?}")))?;
        let tz = resp.result("time", "get_timezone").ok();
        Ok(DeviceTime {
            local,
            index: tz.and_then(|m| m.get("index")).and_then(Value::as_i64),
            zone_str: tz.and_then(|m| m.get("zone_str")).and_then(Value::as_str).map(str::to_string),
            read_at,
        })
    }

    /// Sets the device's local wall time, and with `index` its zone (see the module docs).
    pub async fn set_time(&self, local: civil::DateTime, index: Option<u8>) -> Result<TimeChange> {
        if let Some(i) = index {
            if i > timezone::MAX_INDEX {
                return Err(calls::invalid(
                    self,
                    format!("zone index {i} is outside 0-{}", timezone::MAX_INDEX),
                ));
            }
        }
        if !(1970..=2099).contains(&local.year()) {
            return Err(calls::invalid(self, format!("year {} is outside 1970-2099", local.year())));
        }
        let before = self.time().await?;
        let mut fields = fields_of(local);
        let method = match (index, before.index) {
            (Some(i), current) if current != Some(i64::from(i)) => {
                fields.insert("index".into(), json!(i));
                self.send_time("set_timezone", fields).await?;
                "set_timezone"
            }
            (_, current) => match self.send_time("set_time", fields.clone()).await {
                Ok(()) => "set_time",
                Err(Error::Device { error, .. })
                    if matches!(
                        error.kind(),
                        DeviceErrorKind::MethodNotSupported | DeviceErrorKind::ModuleNotSupported
                    ) && current.is_some() =>
                {
                    fields.insert("index".into(), json!(current));
                    self.send_time("set_timezone", fields).await?;
                    "set_timezone"
                }
                Err(e) => return Err(e),
            },
        };
        Ok(TimeChange { method, after: self.time().await? })
    }

    /// Moves the device to zone `index`, keeping the instant its clock shows (the local wall
    /// time changes by the offset difference). Without a known current zone the local time
    /// is kept as is.
    pub async fn set_time_zone(&self, index: u8) -> Result<TimeChange> {
        let zone = timezone::zone(i64::from(index)).ok_or_else(|| {
            calls::invalid(self, format!("zone index {index} is outside 0-{}", timezone::MAX_INDEX))
        })?;
        let now = self.time().await?;
        let local = match now.instant() {
            Some(at) => at.with_time_zone(zone.time_zone()).datetime(),
            None => now.local,
        };
        self.set_time(local, Some(index)).await
    }

    /// Pushes the host's clock to the device, expressed in `tz` (the firmware zone matching
    /// it, see [`timezone::index_for_zone`]), and sets that zone index.
    pub async fn sync_time(&self, tz: &TimeZone) -> Result<(ZoneMatch, TimeChange)> {
        let now = Timestamp::now();
        let m = timezone::index_for_zone(tz, now).map_err(|e| calls::invalid(self, e.to_string()))?;
        let local = Timestamp::now().to_zoned(m.zone.time_zone()).datetime();
        let change = self.set_time(local, Some(m.zone.index)).await?;
        Ok((m, change))
    }

    async fn send_time(&self, method: &str, fields: Map<String, Value>) -> Result<()> {
        let req = Request::new().with("time", method, Value::Object(fields));
        calls::call(self, &req, "time", method).await.map(drop)
    }
}

/// `{year, month, mday, hour, min, sec}` of a local time.
fn fields_of(t: civil::DateTime) -> Map<String, Value> {
    let mut m = Map::new();
    for (k, v) in [
        ("year", i64::from(t.year())),
        ("month", i64::from(t.month())),
        ("mday", i64::from(t.day())),
        ("hour", i64::from(t.hour())),
        ("min", i64::from(t.minute())),
        ("sec", i64::from(t.second())),
    ] {
        m.insert(k.into(), json!(v));
    }
    m
}

/// Reads `{year, month, mday, hour, min, sec}`; `None` if a field is missing or out of range.
pub fn civil_of(m: &Map<String, Value>) -> Option<civil::DateTime> {
    let int = |k: &str| m.get(k).and_then(Value::as_i64);
    let small = |k: &str| int(k).and_then(|v| i8::try_from(v).ok());
    let year = i16::try_from(int("year")?).ok()?;
    civil::DateTime::new(
        year,
        small("month")?,
        small("mday")?,
        small("hour")?,
        small("min")?,
        small("sec")?,
        0,
    )
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let t = civil::date(2016, 1, 1).at(10, 10, 10, 0);
        let m = fields_of(t);
        assert_eq!(
            Value::Object(m.clone()),
            json!({"year":2016,"month":1,"mday":1,"hour":10,"min":10,"sec":10})
        );
        assert_eq!(civil_of(&m), Some(t));
        let mut bad = m.clone();
        bad.insert("month".into(), json!(13));
        assert_eq!(civil_of(&bad), None);
        bad.insert("month".into(), json!("1"));
        assert_eq!(civil_of(&bad), None);
    }

    #[test]
    fn instant_and_drift_use_the_zone() {
        let read_at: Timestamp = "2026-07-01T10:00:00Z".parse().unwrap();
        let t = DeviceTime {
            local: civil::date(2026, 7, 1).at(12, 0, 5, 0),
            index: Some(41), // Berlin, UTC+2 in summer
            zone_str: None,
            read_at,
        };
        assert_eq!(t.drift_s(), Some(5));
        let unknown = DeviceTime { index: Some(200), ..t.clone() };
        assert_eq!(unknown.drift_s(), None);
        let la = DeviceTime { index: Some(6), local: civil::date(2026, 7, 1).at(3, 0, 0, 0), ..t };
        assert_eq!(la.drift_s(), Some(0));
    }
}
