//! Connection set-up and versioned migrations (`PRAGMA user_version`).
//!
//! Schema v1:
//!
//! | table | key | what |
//! |---|---|---|
//! | `device_keys` | `sid` | a small integer per device id ever seen (samples refer to it; never deleted) |
//! | `devices` | `id` | saved registry entries, `info` = JSON of `DeviceInfo` |
//! | `samples` | `(sid, t_ms)` | raw polls: on, outlets bitmask, power, voltage, current, counter `total_kwh`, the `energy_kwh` attributed to the sample, rssi, latency |
//! | `samples_minute`, `samples_hour` | `(sid, t_ms)` | roll-ups: counts, sums, min/max power, `energy_kwh`, the last counter reading and its time |
//! | `meters` | `sid` | the last accepted counter reading per device (the base for the next difference) |
//! | `events` | `seq` (AUTOINCREMENT: never reused) | `at_ms`, `device_id`, `kind`, `detail` JSON |
//! | `state_changes` | rowid | `device_id`, `at_ms`, `outlet`, `on_state`, `event_seq` |
//! | `schedules` | `id` | `rule` JSON |
//!
//! There are no foreign keys: history outlives the device entries it belongs to.

use std::{path::Path, time::Duration};

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

use super::error::{Error, Result};

/// `PRAGMA application_id` of a plugctl database ("plug").
const APPLICATION_ID: i64 = 0x706c_7567;

/// How long a connection waits for another one's write lock before giving up.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The migrations, in order: entry `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[V1];

/// The newest schema version this build knows.
pub(crate) const LATEST: i64 = MIGRATIONS.len() as i64;

const V1: &str = "
CREATE TABLE device_keys (
    sid INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL UNIQUE
);
CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    info TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE samples (
    sid INTEGER NOT NULL,
    t_ms INTEGER NOT NULL,
    on_state INTEGER NOT NULL,
    outlets INTEGER,
    power_w REAL,
    voltage_v REAL,
    current_a REAL,
    total_kwh REAL,
    energy_kwh REAL NOT NULL,
    rssi INTEGER,
    latency_ms REAL,
    PRIMARY KEY (sid, t_ms)
) WITHOUT ROWID;
CREATE TABLE samples_minute (
    sid INTEGER NOT NULL,
    t_ms INTEGER NOT NULL,
    n INTEGER NOT NULL,
    on_n INTEGER NOT NULL,
    power_sum REAL NOT NULL,
    power_n INTEGER NOT NULL,
    power_min REAL,
    power_max REAL,
    voltage_sum REAL NOT NULL,
    voltage_n INTEGER NOT NULL,
    current_sum REAL NOT NULL,
    current_n INTEGER NOT NULL,
    energy_kwh REAL NOT NULL,
    last_kwh_t_ms INTEGER,
    last_kwh REAL,
    PRIMARY KEY (sid, t_ms)
) WITHOUT ROWID;
CREATE TABLE samples_hour (
    sid INTEGER NOT NULL,
    t_ms INTEGER NOT NULL,
    n INTEGER NOT NULL,
    on_n INTEGER NOT NULL,
    power_sum REAL NOT NULL,
    power_n INTEGER NOT NULL,
    power_min REAL,
    power_max REAL,
    voltage_sum REAL NOT NULL,
    voltage_n INTEGER NOT NULL,
    current_sum REAL NOT NULL,
    current_n INTEGER NOT NULL,
    energy_kwh REAL NOT NULL,
    last_kwh_t_ms INTEGER,
    last_kwh REAL,
    PRIMARY KEY (sid, t_ms)
) WITHOUT ROWID;
CREATE TABLE meters (
    sid INTEGER PRIMARY KEY,
    t_ms INTEGER NOT NULL,
    kwh REAL NOT NULL
);
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    device_id TEXT,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX events_by_device ON events (device_id, seq);
CREATE TABLE state_changes (
    device_id TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    outlet INTEGER,
    on_state INTEGER NOT NULL,
    event_seq INTEGER NOT NULL
);
CREATE INDEX state_changes_by_device ON state_changes (device_id, at_ms);
CREATE TABLE schedules (
    id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Opens a connection with the store's settings (the file must exist or be creatable).
pub(crate) fn open_connection(path: &Path) -> Result<Connection> {
    let open_err = |source| Error::Open { path: path.to_path_buf(), source };
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags).map_err(open_err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
    // FULL: every commit fsyncs the WAL, so an acknowledged write survives power loss too.
    conn.pragma_update(None, "synchronous", "FULL").map_err(open_err)?;
    // History outlives device entries; nothing refers across tables by constraint.
    conn.pragma_update(None, "foreign_keys", false).map_err(open_err)?;
    Ok(conn)
}

/// Puts a freshly opened database into WAL mode and brings its schema up to date.
pub(crate) fn prepare(conn: &mut Connection, path: &Path) -> Result<()> {
    let open_err = |source| Error::Open { path: path.to_path_buf(), source };
    let mode: String =
        conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0)).map_err(open_err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::NoWal { path: path.to_path_buf(), mode });
    }
    migrate(conn, path)
}

/// Applies the missing migrations, each in its own transaction.
pub(crate) fn migrate(conn: &mut Connection, path: &Path) -> Result<()> {
    loop {
        // IMMEDIATE: two processes opening a fresh file at once migrate one after the other.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > LATEST {
            return Err(Error::NewerSchema { path: path.to_path_buf(), found: version, known: LATEST });
        }
        if version == LATEST {
            return Ok(());
        }
        if version == 0 {
            let app: i64 = tx.pragma_query_value(None, "application_id", |r| r.get(0))?;
            let tables: i64 =
                tx.query_row("SELECT count(*) FROM sqlite_schema WHERE type = 'table'", [], |r| r.get(0))?;
            if (app != 0 && app != APPLICATION_ID) || tables > 0 {
                return Err(Error::Foreign { path: path.to_path_buf() });
            }
            tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        }
        let step = MIGRATIONS[version as usize];
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
        tracing::info!(path = %path.display(), version = version + 1, "store schema migrated");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrates_once_and_refuses_newer_and_foreign_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.db");
        let mut c = open_connection(&path).unwrap();
        prepare(&mut c, &path).unwrap();
        prepare(&mut c, &path).unwrap();
        let v: i64 = c.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
        assert_eq!(v, LATEST);

        c.pragma_update(None, "user_version", LATEST + 1).unwrap();
        let e = migrate(&mut c, &path).unwrap_err();
        assert!(e.to_string().contains("newer"), "{e}");

        let other = dir.path().join("other.db");
        let mut o = open_connection(&other).unwrap();
        o.execute_batch("CREATE TABLE t (x)").unwrap();
        let e = prepare(&mut o, &other).unwrap_err();
        assert!(e.to_string().contains("not a plugctl database"), "{e}");
    }
}
