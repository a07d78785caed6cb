//! Device entries, schedule rules and the event log.

use rusqlite::{params, Connection};
use serde_json::Value;

use super::{
    error::{Error, Result},
    StoredEvent, StoredSchedule,
};
use crate::model::{now_ms, DeviceId, DeviceInfo};

/// Saves a device entry.
pub(crate) fn upsert_device(conn: &Connection, info: &DeviceInfo) -> Result<()> {
    let json = serde_json::to_string(info).map_err(|source| Error::Json { what: "device entry", source })?;
    conn.prepare_cached(
        "INSERT INTO devices (id, info, updated_ms) VALUES (?1, ?2, ?3) \
         ON CONFLICT (id) DO UPDATE SET info = excluded.info, updated_ms = excluded.updated_ms",
    )?
    .execute(params![info.id.as_str(), json, now_ms()])?;
    Ok(())
}

/// Saves many device entries in one transaction (one fsync for all of them).
pub(crate) fn upsert_devices(conn: &mut Connection, infos: &[DeviceInfo]) -> Result<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for info in infos {
        upsert_device(&tx, info)?;
    }
    tx.commit()?;
    Ok(())
}

/// Forgets a device entry (samples and events stay).
pub(crate) fn remove_device(conn: &Connection, id: &DeviceId) -> Result<()> {
    conn.prepare_cached("DELETE FROM devices WHERE id = ?1")?.execute([id.as_str()])?;
    Ok(())
}

/// Every device entry that parses, by id.
pub(crate) fn load_devices(conn: &Connection) -> Result<Vec<DeviceInfo>> {
    let mut stmt = conn.prepare_cached("SELECT id, info FROM devices ORDER BY id")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (id, json) = row?;
        match serde_json::from_str::<DeviceInfo>(&json) {
            Ok(info) => out.push(info),
            Err(e) => tracing::warn!(device = %id, error = %e, "saved device entry does not parse; skipped"),
        }
    }
    Ok(out)
}

/// Creates or replaces a schedule rule.
pub(crate) fn put_schedule(conn: &Connection, id: &str, rule: &Value) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO schedules (id, rule, updated_ms) VALUES (?1, ?2, ?3) \
         ON CONFLICT (id) DO UPDATE SET rule = excluded.rule, updated_ms = excluded.updated_ms",
    )?
    .execute(params![id, rule.to_string(), now_ms()])?;
    Ok(())
}

/// Deletes a schedule rule; whether there was one.
pub(crate) fn delete_schedule(conn: &Connection, id: &str) -> Result<bool> {
    Ok(conn.prepare_cached("DELETE FROM schedules WHERE id = ?1")?.execute([id])? > 0)
}

/// Every schedule rule that parses, by id.
pub(crate) fn schedules(conn: &Connection) -> Result<Vec<StoredSchedule>> {
    let mut stmt = conn.prepare_cached("SELECT id, rule FROM schedules ORDER BY id")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (id, json) = row?;
        match serde_json::from_str(&json) {
            Ok(rule) => out.push(StoredSchedule { id, rule }),
            Err(e) => {
                tracing::warn!(schedule = %id, error = %e, "saved schedule rule does not parse; skipped")
            }
        }
    }
    Ok(out)
}

/// Events newest first, of one device or all, with `seq < before_seq`.
pub(crate) fn events(
    conn: &Connection,
    id: Option<&DeviceId>,
    before_seq: Option<i64>,
    limit: usize,
) -> Result<Vec<StoredEvent>> {
    let before = before_seq.unwrap_or(i64::MAX);
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let map = |r: &rusqlite::Row<'_>| {
        let detail: String = r.get(4)?;
        Ok(StoredEvent {
            seq: r.get(0)?,
            at_ms: r.get(1)?,
            id: r.get::<_, Option<String>>(2)?.map(DeviceId),
            kind: r.get(3)?,
            // A row written by hand or damaged: show the text rather than fail the page.
            detail: serde_json::from_str(&detail).unwrap_or(Value::String(detail)),
        })
    };
    let rows = match id {
        // Two statements so each uses its index (events_by_device, or the rowid).
        Some(id) => conn
            .prepare_cached(
                "SELECT seq, at_ms, device_id, kind, detail FROM events \
                 WHERE device_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3",
            )?
            .query_map(params![id.as_str(), before, limit], map)?
            .collect::<rusqlite::Result<Vec<_>>>()?,
        None => conn
            .prepare_cached(
                "SELECT seq, at_ms, device_id, kind, detail FROM events \
                 WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2",
            )?
            .query_map(params![before, limit], map)?
            .collect::<rusqlite::Result<Vec<_>>>()?,
    };
    Ok(rows)
}
