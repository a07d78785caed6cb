//! Roll-up rows (`samples_minute`, `samples_hour`): counts and sums that merge exactly, so
//! rolling raw samples into minutes and minutes into hours keeps every total.

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::error::Result;

/// A roll-up tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tier {
    /// 1-minute rows.
    Minute,
    /// 1-hour rows.
    Hour,
}

impl Tier {
    /// The table.
    pub(crate) fn table(self) -> &'static str {
        match self {
            Tier::Minute => "samples_minute",
            Tier::Hour => "samples_hour",
        }
    }

    /// Bucket length, ms.
    pub(crate) fn bucket_ms(self) -> i64 {
        match self {
            Tier::Minute => 60_000,
            Tier::Hour => 3_600_000,
        }
    }
}

/// The start of the `len_ms` bucket containing `t_ms` (floor, also before 1970).
pub(crate) fn bucket_start(t_ms: i64, len_ms: i64) -> i64 {
    t_ms.div_euclid(len_ms) * len_ms
}

/// One raw sample, as far as roll-ups care.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawSample {
    /// When.
    pub t_ms: i64,
    /// Relay on.
    pub on: bool,
    /// W.
    pub power_w: Option<f64>,
    /// V.
    pub voltage_v: Option<f64>,
    /// A.
    pub current_a: Option<f64>,
    /// The counter, kWh.
    pub total_kwh: Option<f64>,
    /// Energy attributed to the sample, kWh.
    pub energy_kwh: f64,
}

/// Aggregated samples of one bucket.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Agg {
    /// Samples.
    pub n: i64,
    /// Samples with the relay on.
    pub on_n: i64,
    /// Sum of power readings, W.
    pub power_sum: f64,
    /// Power readings.
    pub power_n: i64,
    /// Lowest power, W.
    pub power_min: Option<f64>,
    /// Highest power, W.
    pub power_max: Option<f64>,
    /// Sum of voltage readings, V.
    pub voltage_sum: f64,
    /// Voltage readings.
    pub voltage_n: i64,
    /// Sum of current readings, A.
    pub current_sum: f64,
    /// Current readings.
    pub current_n: i64,
    /// Energy, kWh.
    pub energy_kwh: f64,
    /// Time of the last counter reading.
    pub last_kwh_t_ms: Option<i64>,
    /// The last counter reading, kWh.
    pub last_kwh: Option<f64>,
}

fn opt_min(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

fn opt_max(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

impl Agg {
    /// One raw sample as an aggregate.
    pub(crate) fn of_sample(s: &RawSample) -> Agg {
        let count = |v: Option<f64>| (v.unwrap_or(0.0), i64::from(v.is_some()));
        let (power_sum, power_n) = count(s.power_w);
        let (voltage_sum, voltage_n) = count(s.voltage_v);
        let (current_sum, current_n) = count(s.current_a);
        Agg {
            n: 1,
            on_n: i64::from(s.on),
            power_sum,
            power_n,
            power_min: s.power_w,
            power_max: s.power_w,
            voltage_sum,
            voltage_n,
            current_sum,
            current_n,
            energy_kwh: s.energy_kwh,
            last_kwh_t_ms: s.total_kwh.map(|_| s.t_ms),
            last_kwh: s.total_kwh,
        }
    }

    /// Adds another aggregate of the same bucket.
    pub(crate) fn merge(&mut self, o: &Agg) {
        self.n += o.n;
        self.on_n += o.on_n;
        self.power_sum += o.power_sum;
        self.power_n += o.power_n;
        self.power_min = opt_min(self.power_min, o.power_min);
        self.power_max = opt_max(self.power_max, o.power_max);
        self.voltage_sum += o.voltage_sum;
        self.voltage_n += o.voltage_n;
        self.current_sum += o.current_sum;
        self.current_n += o.current_n;
        self.energy_kwh += o.energy_kwh;
        if o.last_kwh_t_ms.is_some() && o.last_kwh_t_ms >= self.last_kwh_t_ms {
            self.last_kwh_t_ms = o.last_kwh_t_ms;
            self.last_kwh = o.last_kwh;
        }
    }

    /// Columns in table order after `sid, t_ms`.
    const COLUMNS: &'static str =
        "n, on_n, power_sum, power_n, power_min, power_max, voltage_sum, voltage_n, \
                                   current_sum, current_n, energy_kwh, last_kwh_t_ms, last_kwh";

    fn from_row(r: &Row<'_>) -> rusqlite::Result<Agg> {
        agg_at(r, 0)
    }

    /// Reads rows of `tier` for `sid` with `t_ms < before`, oldest first, at most `limit`.
    pub(crate) fn load_older(
        conn: &Connection,
        tier: Tier,
        sid: i64,
        before: i64,
        limit: usize,
    ) -> Result<Vec<(i64, Agg)>> {
        let sql = format!(
            "SELECT t_ms, {} FROM {} WHERE sid = ?1 AND t_ms < ?2 ORDER BY t_ms LIMIT ?3",
            Self::COLUMNS,
            tier.table()
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows =
            stmt.query_map(params![sid, before, limit as i64], |r| Ok((r.get::<_, i64>(0)?, agg_at(r, 1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Adds `self` to the row of `tier` at (`sid`, `t_ms`), creating it if needed.
    pub(crate) fn merge_into(&self, conn: &Connection, tier: Tier, sid: i64, t_ms: i64) -> Result<()> {
        let sql = format!("SELECT {} FROM {} WHERE sid = ?1 AND t_ms = ?2", Self::COLUMNS, tier.table());
        let existing = conn.prepare_cached(&sql)?.query_row(params![sid, t_ms], Agg::from_row).optional()?;
        let merged = match existing {
            Some(mut e) => {
                e.merge(self);
                e
            }
            None => self.clone(),
        };
        let sql = format!(
            "INSERT OR REPLACE INTO {} (sid, t_ms, {}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
            tier.table(),
            Self::COLUMNS
        );
        conn.prepare_cached(&sql)?.execute(params![
            sid,
            t_ms,
            merged.n,
            merged.on_n,
            merged.power_sum,
            merged.power_n,
            merged.power_min,
            merged.power_max,
            merged.voltage_sum,
            merged.voltage_n,
            merged.current_sum,
            merged.current_n,
            merged.energy_kwh,
            merged.last_kwh_t_ms,
            merged.last_kwh,
        ])?;
        Ok(())
    }
}

/// Reads an [`Agg`] whose columns start at index `at`.
fn agg_at(r: &Row<'_>, at: usize) -> rusqlite::Result<Agg> {
    Ok(Agg {
        n: r.get(at)?,
        on_n: r.get(at + 1)?,
        power_sum: r.get(at + 2)?,
        power_n: r.get(at + 3)?,
        power_min: r.get(at + 4)?,
        power_max: r.get(at + 5)?,
        voltage_sum: r.get(at + 6)?,
        voltage_n: r.get(at + 7)?,
        current_sum: r.get(at + 8)?,
        current_n: r.get(at + 9)?,
        energy_kwh: r.get(at + 10)?,
        last_kwh_t_ms: r.get(at + 11)?,
        last_kwh: r.get(at + 12)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t_ms: i64, power: Option<f64>, kwh: Option<f64>, energy: f64) -> RawSample {
        RawSample {
            t_ms,
            on: true,
            power_w: power,
            voltage_v: Some(230.0),
            current_a: None,
            total_kwh: kwh,
            energy_kwh: energy,
        }
    }

    #[test]
    fn merging_keeps_sums_extremes_and_the_last_counter() {
        let mut a = Agg::of_sample(&sample(2000, Some(10.0), Some(1.5), 0.1));
        a.merge(&Agg::of_sample(&sample(1000, Some(30.0), Some(1.4), 0.2)));
        a.merge(&Agg::of_sample(&sample(3000, None, None, 0.0)));
        assert_eq!((a.n, a.power_n, a.voltage_n, a.current_n), (3, 2, 3, 0));
        assert_eq!((a.power_min, a.power_max), (Some(10.0), Some(30.0)));
        assert!((a.energy_kwh - 0.3).abs() < 1e-12);
        assert_eq!((a.last_kwh_t_ms, a.last_kwh), (Some(2000), Some(1.5)));
    }

    #[test]
    fn buckets_floor() {
        assert_eq!(bucket_start(119_999, 60_000), 60_000);
        assert_eq!(bucket_start(-1, 60_000), -60_000);
    }
}
