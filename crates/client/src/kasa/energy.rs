//! Energy statistics (kasa-protocol.md §8.5): per day of a month (`emeter.get_daystat`), per
//! month of a year (`emeter.get_monthstat`), erasing them (`emeter.erase_emeter_stat`), and
//! per-outlet readings of strips. Both unit schemes (hw-v1 `energy` kWh, v2+ `energy_wh`)
//! come back in kWh as [`EnergyStat`]s.
//!
//! On a strip every call names one outlet (`context.child_ids`); without an outlet the
//! calls go to every outlet, one request each (python-kasa does the same), and the sums are
//! returned, or the per-outlet values with the `outlets_*` calls.

use plugctl_proto::kasa::{ChildInfo, EmeterReading, Request};
use serde::Serialize;
use serde_json::json;

pub use plugctl_proto::kasa::emeter::EnergyStat;

use super::{calls, KasaDevice};
use crate::error::Result;

/// Years the statistics calls accept.
pub const YEARS: std::ops::RangeInclusive<i32> = 1970..=2099;

/// One strip outlet and a value read from it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutletValue<T> {
    /// 0-based outlet index.
    pub index: usize,
    /// Full outlet id.
    pub id: String,
    /// Outlet name.
    pub alias: String,
    /// The value.
    pub value: T,
}

/// Which statistics to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// Every day of one month that has data (`get_daystat`).
    Month {
        /// Year.
        year: i32,
        /// Month 1–12.
        month: u32,
    },
    /// Every month of one year that has data (`get_monthstat`).
    Year {
        /// Year.
        year: i32,
    },
}

impl Period {
    fn request(self) -> (Request, &'static str) {
        match self {
            Period::Month { year, month } => (
                Request::new().with("emeter", "get_daystat", json!({"year": year, "month": month})),
                "get_daystat",
            ),
            Period::Year { year } => {
                (Request::new().with("emeter", "get_monthstat", json!({"year": year})), "get_monthstat")
            }
        }
    }

    fn check(self, dev: &KasaDevice) -> Result<()> {
        let year = match self {
            Period::Month { year, month } => {
                if !(1..=12).contains(&month) {
                    return Err(calls::invalid(dev, format!("month {month} is not 1-12")));
                }
                year
            }
            Period::Year { year } => year,
        };
        if !YEARS.contains(&year) {
            return Err(calls::invalid(
                dev,
                format!("year {year} is outside {}-{}", YEARS.start(), YEARS.end()),
            ));
        }
        Ok(())
    }

    /// Whether an entry belongs to this period (devices only send matching ones; anything
    /// else is dropped).
    fn contains(self, s: &EnergyStat) -> bool {
        match self {
            Period::Month { year, month } => s.year == year && s.month == month && s.day.is_some(),
            Period::Year { year } => s.year == year,
        }
    }
}

impl KasaDevice {
    /// Energy statistics of `period`, in kWh, sorted by date.
    ///
    /// `child` selects a strip outlet; with `None` a strip's outlets are read one by one and
    /// added up per day (or month). A device without an energy meter is
    /// [`Error::Unsupported`](crate::Error::Unsupported).
    pub async fn energy_stats(&self, period: Period, child: Option<&str>) -> Result<Vec<EnergyStat>> {
        period.check(self)?;
        let info = self.meter_info().await?;
        if let Some(c) = child {
            let (_, outlet) = calls::outlet(self, c).await?;
            return self.stats_of(period, Some(outlet.id)).await;
        }
        if info.children.is_empty() {
            return self.stats_of(period, None).await;
        }
        let per_outlet = self.outlets_energy_stats(period).await?;
        Ok(sum_stats(per_outlet.iter().map(|o| o.value.as_slice())))
    }

    /// Energy statistics of `period` of every outlet of a strip (one request per outlet).
    /// A single-outlet device is one entry with index 0 and its own alias.
    pub async fn outlets_energy_stats(&self, period: Period) -> Result<Vec<OutletValue<Vec<EnergyStat>>>> {
        period.check(self)?;
        let info = self.meter_info().await?;
        let mut out = Vec::new();
        for (index, c) in outlets_of(&info) {
            let id = (!c.id.is_empty()).then(|| c.id.clone());
            let value = self.stats_of(period, id).await?;
            out.push(OutletValue { index, id: c.id, alias: c.alias, value });
        }
        Ok(out)
    }

    /// Realtime readings of every outlet of a strip (one request per outlet); a single-outlet
    /// device is one entry.
    pub async fn outlets_energy(&self) -> Result<Vec<OutletValue<EmeterReading>>> {
        let info = self.meter_info().await?;
        let mut out = Vec::new();
        for (index, c) in outlets_of(&info) {
            let value =
                if c.id.is_empty() { self.energy(None).await? } else { self.energy(Some(&c.id)).await? };
            out.push(OutletValue { index, id: c.id, alias: c.alias, value });
        }
        Ok(out)
    }

    /// Erases the day and month statistics (`emeter.erase_emeter_stat`); the cumulative
    /// total of the realtime reading is not a statistic and stays.
    ///
    /// `child` selects a strip outlet; with `None` every outlet of a strip is erased, one
    /// request each.
    pub async fn erase_energy_stats(&self, child: Option<&str>) -> Result<()> {
        let info = self.meter_info().await?;
        let ids: Vec<Option<String>> = match child {
            Some(c) => vec![Some(calls::outlet(self, c).await?.1.id)],
            None if info.children.is_empty() => vec![None],
            None => info.children.iter().map(|c| Some(c.id.clone())).collect(),
        };
        for id in ids {
            let req = Request::call("emeter", "erase_emeter_stat").for_children(id);
            calls::call(self, &req, "emeter", "erase_emeter_stat").await?;
        }
        Ok(())
    }

    /// Sysinfo, after checking the device has an energy meter.
    async fn meter_info(&self) -> Result<std::sync::Arc<plugctl_proto::kasa::SysInfo>> {
        let info = calls::known(self).await?;
        if info.has_emeter() {
            Ok(info)
        } else {
            Err(calls::unsupported(self, "this device has no energy meter"))
        }
    }

    async fn stats_of(&self, period: Period, child_id: Option<String>) -> Result<Vec<EnergyStat>> {
        let (req, method) = period.request();
        let req = req.for_children(child_id);
        let m = calls::call(self, &req, "emeter", method).await?;
        let mut list = EnergyStat::list_from_map(&m)
            .map_err(|e| crate::Error::from_response(self.addr(), e))?
            .into_iter()
            .filter(|s| period.contains(s) && s.energy_kwh.is_finite())
            .collect::<Vec<_>>();
        list.sort_by_key(|s| (s.year, s.month, s.day));
        Ok(list)
    }
}

/// `(index, outlet)` of a strip, or the device itself as outlet 0 (empty id).
fn outlets_of(info: &plugctl_proto::kasa::SysInfo) -> Vec<(usize, ChildInfo)> {
    if info.children.is_empty() {
        let me = ChildInfo {
            id: String::new(),
            state: info.is_on(),
            alias: info.alias.clone(),
            on_time: info.on_time.unwrap_or(0),
            next_action: None,
        };
        vec![(0, me)]
    } else {
        info.children.iter().cloned().enumerate().collect()
    }
}

/// Adds up statistics of several outlets per date.
pub fn sum_stats<'a>(lists: impl IntoIterator<Item = &'a [EnergyStat]>) -> Vec<EnergyStat> {
    let mut sums: std::collections::BTreeMap<(i32, u32, Option<u32>), f64> = Default::default();
    for list in lists {
        for s in list {
            *sums.entry((s.year, s.month, s.day)).or_insert(0.0) += s.energy_kwh;
        }
    }
    sums.into_iter()
        .map(|((year, month, day), energy_kwh)| EnergyStat { year, month, day, energy_kwh })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_per_date() {
        let a = [
            EnergyStat { year: 2026, month: 3, day: Some(1), energy_kwh: 1.0 },
            EnergyStat { year: 2026, month: 3, day: Some(2), energy_kwh: 0.5 },
        ];
        let b = [EnergyStat { year: 2026, month: 3, day: Some(2), energy_kwh: 0.25 }];
        let s = sum_stats([&a[..], &b[..]]);
        assert_eq!(s.len(), 2);
        assert_eq!(s[1].energy_kwh, 0.75);
        assert!(Period::Month { year: 2026, month: 3 }.contains(&a[0]));
        assert!(!Period::Month { year: 2026, month: 4 }.contains(&a[0]));
        assert!(Period::Year { year: 2026 }.contains(&a[0]));
    }
}
