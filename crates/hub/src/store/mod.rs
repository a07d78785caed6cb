//! SQLite history: devices, samples (power, voltage, current, energy counter), state changes
//! and events, with versioned migrations, WAL, downsampling and retention, and energy per day
//! and month computed from the devices' counters across resets.
//!
//! INTERFACE CONTRACT (implemented by the store's owner; the rest of the hub codes against
//! these signatures): writes are queued to one writer thread and batched in transactions;
//! reads only ever see committed data, so anything the API showed survives a crash.
//!
//! # How it works
//!
//! - **One file, WAL, `synchronous=FULL`.** Every commit fsyncs the write-ahead log, so a
//!   [`Store::flush`] that returned `Ok` (and every `upsert_device`, `put_schedule`, …) survives
//!   a crash of the process *and* of the machine. `NORMAL` would only survive the process.
//!   The cost is one fsync per batch, not per sample (see `writer.rs`).
//! - **Versioned migrations** through `PRAGMA user_version` (`schema.rs`); a database from a
//!   newer plugctl is refused rather than misread.
//! - **One writer thread** takes [`Store::record`]ed events from a queue and commits them in
//!   batches (up to 500 rows or 200 ms). Samples are bounded (the oldest queued samples are
//!   dropped and counted when the queue is full); state changes and events are never dropped.
//! - **Reads** use a small pool of separate connections, one read transaction per call, so
//!   they see a consistent, committed snapshot and never block the writer.
//! - **Energy** is computed once, when a sample is written, from the difference between the
//!   device's cumulative counter and its previous reading, with counter resets and absurd
//!   jumps handled ([`energy`]). Each sample row carries the energy attributed to it, so
//!   buckets are plain sums, and roll-ups (`retention.rs`) keep totals exact.
//! - **Tiers**: raw samples, 1-minute rows, hourly rows. [`Store::maintain`] rolls raw rows
//!   older than `raw_days` into minutes and minutes older than `minute_days` into hours
//!   (kept forever). Queries read all tiers in one snapshot, so callers never see the seams.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use jiff::tz::TimeZone;
use serde::Serialize;
use serde_json::Value;

use crate::{
    config::Retention,
    events::HubEvent,
    model::{DeviceId, DeviceInfo},
};

mod calendar;
mod catalog;
pub mod energy;
mod error;
mod history;
mod path;
mod pool;
mod retention;
mod schema;
mod tier;
mod writer;

pub use path::default_db_path;

use calendar::Calendar;
use error::Error;
use pool::Pool;
use writer::Writer;

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// Aggregation of a history query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    /// Every sample.
    Raw,
    /// 1 minute.
    Minute,
    /// 1 hour.
    Hour,
    /// 1 local day.
    Day,
    /// 1 local month.
    Month,
}

/// One point of a history series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryPoint {
    /// Bucket start (Unix ms).
    pub t_ms: i64,
    /// Mean power in the bucket, W.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub power_w: Option<f64>,
    /// Energy used in the bucket, kWh (from counter differences, resets handled).
    pub energy_kwh: f64,
}

/// Energy so far today and this month (local time of the hub).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct EnergyTotals {
    /// kWh since local midnight.
    pub today_kwh: f64,
    /// kWh since the 1st of the month.
    pub month_kwh: f64,
}

/// An event as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredEvent {
    /// Row id (stable; for paging).
    pub seq: i64,
    /// When (Unix ms).
    pub at_ms: i64,
    /// Device, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<DeviceId>,
    /// `state_changed`, `online`, `offline`, `error`, `device_added`, …
    pub kind: String,
    /// The event's fields.
    pub detail: Value,
}

/// What the store's writer has queued and committed since the store was opened (for
/// metrics and benchmarks). Every recorded sample ends up committed, ignored (a second sample
/// of the same device in the same millisecond, or an impossible time), dropped (queue full)
/// or still queued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WriterStats {
    /// Samples handed to [`Store::record`].
    pub recorded_samples: u64,
    /// Sample rows committed (durable).
    pub committed_samples: u64,
    /// Samples not stored on purpose (duplicate millisecond, impossible time).
    pub ignored_samples: u64,
    /// Samples dropped because the queue was full.
    pub dropped_samples: u64,
    /// Event rows committed (state changes, availability, errors, …).
    pub committed_events: u64,
    /// Transactions committed.
    pub commits: u64,
    /// Rows waiting in the queue now.
    pub queued: u64,
}

/// A local schedule rule as stored (its shape belongs to the scheduler).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredSchedule {
    /// Rule id.
    pub id: String,
    /// The rule, as the scheduler serialises it.
    pub rule: Value,
}

/// The store. Cheap to clone; the last clone dropped commits what is queued and stops the
/// writer thread.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    retention: Retention,
    calendar: Calendar,
    pool: Pool,
    writer: Writer,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.inner.path).finish_non_exhaustive()
    }
}

/// Most events one [`Store::events`] call returns.
pub const MAX_EVENTS_PER_PAGE: usize = 10_000;

impl Store {
    /// Opens (creating and migrating) the database at `path`.
    pub fn open(path: &Path, retention: Retention) -> Result<Store, StoreError> {
        Self::open_in_zone(path, retention, TimeZone::system())
    }

    /// Like [`Store::open`], with days and months counted in `tz` instead of the host's zone
    /// (for a hub configured with `[location] timezone`, and for tests).
    pub fn open_in_zone(path: &Path, retention: Retention, tz: TimeZone) -> Result<Store, StoreError> {
        let pool = Pool::open(path)?;
        let writer = Writer::start(schema::open_connection(path)?)?;
        tracing::debug!(path = %path.display(), "store opened");
        Ok(Store {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                retention,
                calendar: Calendar::new(tz),
                pool,
                writer,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Samples dropped so far because the write queue was full (for metrics).
    pub fn dropped_samples(&self) -> u64 {
        self.inner.writer.dropped_samples()
    }

    /// Counts of what the writer queued and committed so far.
    pub fn writer_stats(&self) -> WriterStats {
        self.inner.writer.stats()
    }

    /// Samples held in the database, in every tier (raw rows plus the samples the 1-minute
    /// and hourly rows stand for). A full count: for checks and benchmarks, not hot paths.
    pub fn sample_count(&self) -> Result<u64, StoreError> {
        let conn = self.inner.pool.get()?;
        let tx = conn.unchecked_transaction().map_err(Error::from)?;
        let n: i64 = tx
            .query_row(
                "SELECT (SELECT count(*) FROM samples) + (SELECT coalesce(sum(n), 0) FROM samples_minute) \
                 + (SELECT coalesce(sum(n), 0) FROM samples_hour)",
                [],
                |r| r.get(0),
            )
            .map_err(Error::from)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Queues an event for writing (samples, state changes, availability, errors). Never
    /// blocks the caller.
    pub fn record(&self, event: &HubEvent) {
        self.inner.writer.record(event);
    }

    /// Waits until everything queued so far is committed.
    ///
    /// `Ok` means durable (fsynced). An error means some of it may not be: the commit failed
    /// (it is retried in the background) or samples queued before the flush were dropped
    /// because the queue was full.
    pub async fn flush(&self) -> Result<(), StoreError> {
        Ok(self.inner.writer.flush().await?)
    }

    /// Saves a device entry (devices added through the API or discovery survive restarts).
    pub fn upsert_device(&self, info: &DeviceInfo) -> Result<(), StoreError> {
        Ok(catalog::upsert_device(&*self.inner.pool.get()?, info)?)
    }

    /// Saves many device entries at once, in one transaction (a hub starting with thousands of
    /// configured devices pays one fsync, not one per device).
    pub fn upsert_devices(&self, infos: &[DeviceInfo]) -> Result<(), StoreError> {
        if infos.is_empty() {
            return Ok(());
        }
        Ok(catalog::upsert_devices(&mut *self.inner.pool.get()?, infos)?)
    }

    /// Forgets a device entry (its history stays).
    pub fn remove_device(&self, id: &DeviceId) -> Result<(), StoreError> {
        Ok(catalog::remove_device(&*self.inner.pool.get()?, id)?)
    }

    /// Every saved device entry. An entry that no longer parses is skipped with a warning
    /// (one bad row must not keep the hub from starting).
    pub fn load_devices(&self) -> Result<Vec<DeviceInfo>, StoreError> {
        Ok(catalog::load_devices(&*self.inner.pool.get()?)?)
    }

    /// Power and energy of a device between two instants.
    ///
    /// Covers rows with `from_ms <= t < to_ms` from every tier (raw, minute, hour), grouped by
    /// bucket start (local midnight / the 1st for `Day` / `Month`); buckets without data are
    /// left out. With `Raw`, periods already rolled up come back as their 1-minute or hourly
    /// rows. Power is the sample-weighted mean; energy is the sum of the counter differences
    /// attributed to the samples in the bucket.
    pub fn history(
        &self,
        id: &DeviceId,
        from_ms: i64,
        to_ms: i64,
        bucket: Bucket,
    ) -> Result<Vec<HistoryPoint>, StoreError> {
        let conn = self.inner.pool.get()?;
        Ok(history::history(&conn, &self.inner.calendar, id, from_ms, to_ms, bucket)?)
    }

    /// Energy today and this month.
    pub fn energy_totals(&self, id: &DeviceId, now_ms: i64) -> Result<EnergyTotals, StoreError> {
        let conn = self.inner.pool.get()?;
        Ok(history::energy_totals(&conn, &self.inner.calendar, id, now_ms)?)
    }

    /// Events, newest first, optionally of one device and before a `seq`
    /// (`limit` is capped at [`MAX_EVENTS_PER_PAGE`]).
    pub fn events(
        &self,
        id: Option<&DeviceId>,
        before_seq: Option<i64>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let conn = self.inner.pool.get()?;
        Ok(catalog::events(&conn, id, before_seq, limit.min(MAX_EVENTS_PER_PAGE))?)
    }

    /// Every local schedule rule, by id.
    pub fn schedules(&self) -> Result<Vec<StoredSchedule>, StoreError> {
        Ok(catalog::schedules(&*self.inner.pool.get()?)?)
    }

    /// Creates or replaces a schedule rule.
    pub fn put_schedule(&self, id: &str, rule: &Value) -> Result<(), StoreError> {
        Ok(catalog::put_schedule(&*self.inner.pool.get()?, id, rule)?)
    }

    /// Deletes a schedule rule; false if there was none.
    pub fn delete_schedule(&self, id: &str) -> Result<bool, StoreError> {
        Ok(catalog::delete_schedule(&*self.inner.pool.get()?, id)?)
    }

    /// Downsamples and applies retention (the hub calls it periodically). Works in small
    /// transactions, so the writer and readers are never held up for long; safe to interrupt.
    pub fn maintain(&self, now_ms: i64) -> Result<(), StoreError> {
        let mut conn = self.inner.pool.get()?;
        Ok(retention::maintain(&mut conn, &self.inner.retention, now_ms)?)
    }
}

impl From<Error> for StoreError {
    fn from(e: Error) -> Self {
        StoreError(e.to_string())
    }
}
