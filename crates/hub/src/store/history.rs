//! History and energy queries over all three tiers (raw, minute, hour), each in one read
//! transaction so a concurrent roll-up never shows a row twice or not at all.

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension};

use super::{
    calendar::{Calendar, Span},
    error::Result,
    tier::Tier,
    Bucket, EnergyTotals, HistoryPoint,
};
use crate::model::DeviceId;

/// Granularity of the pre-aggregation for local days and months: every UTC offset in use
/// is a multiple of 15 minutes, so 15-minute groups never straddle a local midnight.
const CALENDAR_GROUP_MS: i64 = 15 * 60_000;

/// Sums of one bucket.
#[derive(Debug, Clone, Copy, Default)]
struct Acc {
    power_sum: f64,
    power_n: i64,
    energy_kwh: f64,
}

impl Acc {
    fn add(&mut self, o: Acc) {
        self.power_sum += o.power_sum;
        self.power_n += o.power_n;
        self.energy_kwh += o.energy_kwh;
    }

    fn point(self, t_ms: i64) -> HistoryPoint {
        HistoryPoint {
            t_ms,
            power_w: (self.power_n > 0).then(|| self.power_sum / self.power_n as f64),
            energy_kwh: self.energy_kwh,
        }
    }
}

fn sid_of(conn: &Connection, id: &DeviceId) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT sid FROM device_keys WHERE device_id = ?1")?
        .query_row([id.as_str()], |r| r.get(0))
        .optional()?)
}

/// See [`super::Store::history`].
pub(crate) fn history(
    conn: &Connection,
    cal: &Calendar,
    id: &DeviceId,
    from_ms: i64,
    to_ms: i64,
    bucket: Bucket,
) -> Result<Vec<HistoryPoint>> {
    if to_ms <= from_ms {
        return Ok(Vec::new());
    }
    let tx = conn.unchecked_transaction()?;
    let Some(sid) = sid_of(&tx, id)? else { return Ok(Vec::new()) };
    let points = match bucket {
        Bucket::Raw => raw_points(&tx, sid, from_ms, to_ms)?,
        Bucket::Minute => to_points(grouped(&tx, sid, from_ms, to_ms, 60_000)?),
        Bucket::Hour => to_points(grouped(&tx, sid, from_ms, to_ms, 3_600_000)?),
        Bucket::Day => regroup(grouped(&tx, sid, from_ms, to_ms, CALENDAR_GROUP_MS)?, |t| cal.day(t))?,
        Bucket::Month => regroup(grouped(&tx, sid, from_ms, to_ms, CALENDAR_GROUP_MS)?, |t| cal.month(t))?,
    };
    Ok(points)
}

/// Every raw sample in the range, plus the roll-up rows of periods no longer held raw.
fn raw_points(conn: &Connection, sid: i64, from_ms: i64, to_ms: i64) -> Result<Vec<HistoryPoint>> {
    let mut out: Vec<HistoryPoint> = conn
        .prepare_cached(
            "SELECT t_ms, power_w, energy_kwh FROM samples WHERE sid = ?1 AND t_ms >= ?2 AND t_ms < ?3 ORDER BY t_ms",
        )?
        .query_map(params![sid, from_ms, to_ms], |r| {
            Ok(HistoryPoint { t_ms: r.get(0)?, power_w: r.get(1)?, energy_kwh: r.get(2)? })
        })?
        .collect::<rusqlite::Result<_>>()?;
    for tier in [Tier::Minute, Tier::Hour] {
        let sql = format!(
            "SELECT t_ms, power_sum, power_n, energy_kwh FROM {} WHERE sid = ?1 AND t_ms >= ?2 AND t_ms < ?3",
            tier.table()
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(params![sid, from_ms, to_ms], |r| {
            let acc = Acc { power_sum: r.get(1)?, power_n: r.get(2)?, energy_kwh: r.get(3)? };
            Ok(acc.point(r.get(0)?))
        })?;
        for p in rows {
            out.push(p?);
        }
    }
    out.sort_by_key(|p| p.t_ms);
    Ok(out)
}

/// Sums per `group_ms` bucket (floored), over all tiers.
fn grouped(
    conn: &Connection,
    sid: i64,
    from_ms: i64,
    to_ms: i64,
    group_ms: i64,
) -> Result<BTreeMap<i64, Acc>> {
    // Floor division also for times before 1970.
    const B: &str = "(t_ms - (((t_ms % ?4) + ?4) % ?4))";
    let sources = [
        format!(
            "SELECT {B} AS b, total(power_w), count(power_w), total(energy_kwh) FROM samples \
             WHERE sid = ?1 AND t_ms >= ?2 AND t_ms < ?3 GROUP BY b"
        ),
        format!(
            "SELECT {B} AS b, total(power_sum), total(power_n), total(energy_kwh) FROM {} \
             WHERE sid = ?1 AND t_ms >= ?2 AND t_ms < ?3 GROUP BY b",
            Tier::Minute.table()
        ),
        format!(
            "SELECT {B} AS b, total(power_sum), total(power_n), total(energy_kwh) FROM {} \
             WHERE sid = ?1 AND t_ms >= ?2 AND t_ms < ?3 GROUP BY b",
            Tier::Hour.table()
        ),
    ];
    let mut map: BTreeMap<i64, Acc> = BTreeMap::new();
    for sql in &sources {
        let mut stmt = conn.prepare_cached(sql)?;
        let rows = stmt.query_map(params![sid, from_ms, to_ms, group_ms], |r| {
            // `total()` is a float; counts are exact integers well below 2^53.
            let power_n: f64 = r.get(2)?;
            Ok((
                r.get::<_, i64>(0)?,
                Acc { power_sum: r.get(1)?, power_n: power_n as i64, energy_kwh: r.get(3)? },
            ))
        })?;
        for row in rows {
            let (b, acc) = row?;
            map.entry(b).or_default().add(acc);
        }
    }
    Ok(map)
}

fn to_points(map: BTreeMap<i64, Acc>) -> Vec<HistoryPoint> {
    map.into_iter().map(|(t, acc)| acc.point(t)).collect()
}

/// Merges sorted groups into calendar spans (local days or months).
fn regroup(map: BTreeMap<i64, Acc>, span_of: impl Fn(i64) -> Result<Span>) -> Result<Vec<HistoryPoint>> {
    let mut out = Vec::new();
    let mut current: Option<(Span, Acc)> = None;
    for (t, acc) in map {
        match &mut current {
            Some((span, sum)) if span.contains(t) => sum.add(acc),
            _ => {
                if let Some((span, sum)) = current.take() {
                    out.push(sum.point(span.start_ms));
                }
                current = Some((span_of(t)?, acc));
            }
        }
    }
    if let Some((span, sum)) = current {
        out.push(sum.point(span.start_ms));
    }
    Ok(out)
}

/// Energy of `sid` in `span`, over all tiers.
fn energy_in(conn: &Connection, sid: i64, span: Span) -> Result<f64> {
    let sql = format!(
        "SELECT (SELECT total(energy_kwh) FROM samples WHERE sid = ?1 AND t_ms >= ?2 AND t_ms < ?3) \
              + (SELECT total(energy_kwh) FROM {} WHERE sid = ?1 AND t_ms >= ?2 AND t_ms < ?3) \
              + (SELECT total(energy_kwh) FROM {} WHERE sid = ?1 AND t_ms >= ?2 AND t_ms < ?3)",
        Tier::Minute.table(),
        Tier::Hour.table()
    );
    Ok(conn.prepare_cached(&sql)?.query_row(params![sid, span.start_ms, span.end_ms], |r| r.get(0))?)
}

/// See [`super::Store::energy_totals`]: the whole local day and month containing `now_ms`.
pub(crate) fn energy_totals(
    conn: &Connection,
    cal: &Calendar,
    id: &DeviceId,
    now_ms: i64,
) -> Result<EnergyTotals> {
    let tx = conn.unchecked_transaction()?;
    let Some(sid) = sid_of(&tx, id)? else { return Ok(EnergyTotals { today_kwh: 0.0, month_kwh: 0.0 }) };
    Ok(EnergyTotals {
        today_kwh: energy_in(&tx, sid, cal.day(now_ms)?)?,
        month_kwh: energy_in(&tx, sid, cal.month(now_ms)?)?,
    })
}
