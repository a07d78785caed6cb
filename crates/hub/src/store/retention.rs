//! Downsampling and retention: raw samples older than `raw_days` become 1-minute rows,
//! 1-minute rows older than `minute_days` become hourly rows; hourly rows are kept forever.
//!
//! Cut-offs are aligned to the target bucket, so a bucket is rolled up whole. Each step reads
//! at most [`CHUNK_ROWS`] of the oldest rows, merges them into their buckets (adding to a row
//! that is already there, e.g. after a late sample) and deletes them, all in one
//! transaction: a crash or a concurrent query sees either the old rows or the roll-up, never
//! both, and the writer waits at most one chunk for the lock. Energy, counts and sums are
//! added exactly, so every total is unchanged by a roll-up.

use std::collections::BTreeMap;

use rusqlite::{params, Connection, TransactionBehavior};

use super::{
    error::Result,
    tier::{bucket_start, Agg, RawSample, Tier},
};
use crate::config::Retention;

/// Rows moved per transaction.
const CHUNK_ROWS: usize = 5_000;

const DAY_MS: i64 = 86_400_000;

/// See [`super::Store::maintain`].
pub(crate) fn maintain(conn: &mut Connection, retention: &Retention, now_ms: i64) -> Result<()> {
    let raw_cutoff =
        bucket_start(now_ms.saturating_sub(i64::from(retention.raw_days) * DAY_MS), Tier::Minute.bucket_ms());
    let minute_cutoff = bucket_start(
        now_ms.saturating_sub(i64::from(retention.minute_days) * DAY_MS),
        Tier::Hour.bucket_ms(),
    );
    let sids: Vec<i64> = conn
        .prepare("SELECT sid FROM device_keys ORDER BY sid")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let (mut raw, mut minutes) = (0usize, 0usize);
    for &sid in &sids {
        raw += roll_raw(conn, sid, raw_cutoff)?;
    }
    for &sid in &sids {
        minutes += roll_minutes(conn, sid, minute_cutoff)?;
    }
    if raw + minutes > 0 {
        tracing::debug!(raw, minutes, "store roll-up done");
        conn.execute_batch("PRAGMA optimize")?;
    }
    Ok(())
}

/// Raw samples of `sid` older than `cutoff` into 1-minute rows; returns how many moved.
fn roll_raw(conn: &mut Connection, sid: i64, cutoff: i64) -> Result<usize> {
    let mut moved = 0;
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let rows: Vec<RawSample> = tx
            .prepare_cached(
                "SELECT t_ms, on_state, power_w, voltage_v, current_a, total_kwh, energy_kwh FROM samples \
                 WHERE sid = ?1 AND t_ms < ?2 ORDER BY t_ms LIMIT ?3",
            )?
            .query_map(params![sid, cutoff, CHUNK_ROWS as i64], |r| {
                Ok(RawSample {
                    t_ms: r.get(0)?,
                    on: r.get(1)?,
                    power_w: r.get(2)?,
                    voltage_v: r.get(3)?,
                    current_a: r.get(4)?,
                    total_kwh: r.get(5)?,
                    energy_kwh: r.get(6)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        let (Some(first), Some(last)) = (rows.first().map(|r| r.t_ms), rows.last().map(|r| r.t_ms)) else {
            return Ok(moved);
        };
        let mut buckets: BTreeMap<i64, Agg> = BTreeMap::new();
        for s in &rows {
            let t = bucket_start(s.t_ms, Tier::Minute.bucket_ms());
            buckets.entry(t).or_default().merge(&Agg::of_sample(s));
        }
        for (t, agg) in &buckets {
            agg.merge_into(&tx, Tier::Minute, sid, *t)?;
        }
        // The rows read are exactly those in [first, last]: (sid, t_ms) is the key and the
        // IMMEDIATE transaction keeps anyone from adding rows meanwhile.
        tx.prepare_cached("DELETE FROM samples WHERE sid = ?1 AND t_ms >= ?2 AND t_ms <= ?3")?
            .execute(params![sid, first, last])?;
        tx.commit()?;
        moved += rows.len();
        if rows.len() < CHUNK_ROWS {
            return Ok(moved);
        }
    }
}

/// 1-minute rows of `sid` older than `cutoff` into hourly rows; returns how many moved.
fn roll_minutes(conn: &mut Connection, sid: i64, cutoff: i64) -> Result<usize> {
    let mut moved = 0;
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let rows = Agg::load_older(&tx, Tier::Minute, sid, cutoff, CHUNK_ROWS)?;
        let (Some(first), Some(last)) = (rows.first().map(|r| r.0), rows.last().map(|r| r.0)) else {
            return Ok(moved);
        };
        let mut buckets: BTreeMap<i64, Agg> = BTreeMap::new();
        for (t, agg) in &rows {
            buckets.entry(bucket_start(*t, Tier::Hour.bucket_ms())).or_default().merge(agg);
        }
        for (t, agg) in &buckets {
            agg.merge_into(&tx, Tier::Hour, sid, *t)?;
        }
        let sql =
            format!("DELETE FROM {} WHERE sid = ?1 AND t_ms >= ?2 AND t_ms <= ?3", Tier::Minute.table());
        tx.prepare_cached(&sql)?.execute(params![sid, first, last])?;
        tx.commit()?;
        moved += rows.len();
        if rows.len() < CHUNK_ROWS {
            return Ok(moved);
        }
    }
}
