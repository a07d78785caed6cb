//! The writer thread: [`Writer::record`] queues, one std thread commits in batches.
//!
//! - **Batching**: a transaction takes up to [`BATCH_ROWS`] queued rows; the writer commits as
//!   soon as a batch is full, a flush is waiting, or the oldest queued row is [`BATCH_WAIT`]
//!   old. With `synchronous=FULL` that is one fsync per batch.
//! - **Queue policy** (`record` never blocks): samples are bounded by [`SAMPLE_QUEUE_CAP`];
//!   when full, the *oldest queued sample* is dropped and counted
//!   ([`Writer::dropped_samples`], a warning in the log) — a stale reading is the least
//!   valuable thing in the queue, and energy stays correct because it comes from counter
//!   differences. State changes, availability and errors are never dropped (they are few;
//!   only a writer stuck for [`EVENT_QUEUE_CAP`] events would shed the oldest, loudly).
//! - **Flush**: a marker carrying the queue position at the call; it resolves after every
//!   row queued before it is committed, with an error if the commit failed or if samples
//!   queued before it were dropped.
//! - **Failures**: a failed commit is rolled back and retried with back-off (100 ms doubling
//!   to 5 s) with everything queued since, so a full disk loses nothing as long as the queue
//!   holds; the flushes of a failed attempt get the error.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Condvar, Mutex, MutexGuard,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::{
    energy::{self, Meter, StepKind},
    error::{Error, Result},
};
use crate::{
    events::HubEvent,
    model::{now_ms, DeviceId, Reading},
};

/// Most rows in one transaction.
pub(crate) const BATCH_ROWS: usize = 500;
/// Longest a queued row waits for its batch to fill.
pub(crate) const BATCH_WAIT: Duration = Duration::from_millis(200);
/// Most samples waiting in the queue (≈ 100 s of 1000 plugs polled every second).
pub(crate) const SAMPLE_QUEUE_CAP: usize = 100_000;
/// Most events waiting in the queue.
pub(crate) const EVENT_QUEUE_CAP: usize = 1_000_000;
/// Longest pause between retries of a failed commit.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Attempts at the final commit when closing before giving up.
const CLOSING_ATTEMPTS: u32 = 5;

/// A queued sample.
struct SampleOp {
    id: DeviceId,
    reading: Reading,
}

/// A queued event row.
struct EventOp {
    at_ms: i64,
    id: Option<DeviceId>,
    kind: &'static str,
    detail: String,
    /// `(outlet, on)` for a state change.
    state: Option<(Option<usize>, bool)>,
}

enum Op {
    Sample(SampleOp),
    Event(EventOp),
}

struct PendingFlush {
    seq: u64,
    tx: oneshot::Sender<Result<()>>,
    /// Samples queued before this flush that were dropped after it was queued.
    dropped: u64,
}

#[derive(Default)]
struct Queue {
    samples: VecDeque<(u64, SampleOp)>,
    events: VecDeque<(u64, EventOp)>,
    flushes: Vec<PendingFlush>,
    next_seq: u64,
    /// When the oldest queued row was queued.
    oldest_at: Option<Instant>,
    /// The store is closing: commit everything and stop.
    closing: bool,
    /// The thread is gone.
    stopped: bool,
}

impl Queue {
    fn len(&self) -> usize {
        self.samples.len() + self.events.len()
    }

    fn push_seq(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq += 1;
        if self.oldest_at.is_none() {
            self.oldest_at = Some(Instant::now());
        }
        s
    }

    /// Up to `max` rows in queue order, and the flushes they complete.
    fn take(&mut self, max: usize) -> (Vec<Op>, Vec<PendingFlush>) {
        let mut ops = Vec::with_capacity(self.len().min(max));
        while ops.len() < max {
            let s = self.samples.front().map(|(s, _)| *s);
            let e = self.events.front().map(|(s, _)| *s);
            let op = match (s, e) {
                (Some(s), Some(e)) if s < e => self.samples.pop_front().map(|(_, op)| Op::Sample(op)),
                (_, Some(_)) => self.events.pop_front().map(|(_, op)| Op::Event(op)),
                (Some(_), None) => self.samples.pop_front().map(|(_, op)| Op::Sample(op)),
                (None, None) => None,
            };
            match op {
                Some(op) => ops.push(op),
                None => break,
            }
        }
        let rest = [self.samples.front().map(|(s, _)| *s), self.events.front().map(|(s, _)| *s)]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(u64::MAX);
        let (done, waiting): (Vec<_>, Vec<_>) = self.flushes.drain(..).partition(|f| f.seq < rest);
        self.flushes = waiting;
        if self.len() == 0 {
            self.oldest_at = None;
        }
        (ops, done)
    }
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
    dropped: AtomicU64,
    counts: Counts,
}

/// What the writer has done so far (see [`super::WriterStats`]).
#[derive(Default)]
struct Counts {
    recorded_samples: AtomicU64,
    committed_samples: AtomicU64,
    ignored_samples: AtomicU64,
    committed_events: AtomicU64,
    commits: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The writer: the queue's front end and the thread's handle.
pub(crate) struct Writer {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    /// Starts the thread over `conn` (its own connection).
    pub(crate) fn start(conn: Connection) -> Result<Writer> {
        let shared = Arc::new(Shared {
            queue: Mutex::default(),
            wake: Condvar::new(),
            dropped: AtomicU64::new(0),
            counts: Counts::default(),
        });
        let for_thread = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("plugctl-store-writer".into())
            .spawn(move || run(for_thread, conn))
            .map_err(Error::Spawn)?;
        Ok(Writer { shared, thread: Mutex::new(Some(thread)) })
    }

    /// Samples dropped so far because the queue was full.
    pub(crate) fn dropped_samples(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Counts of what was queued and committed so far.
    pub(crate) fn stats(&self) -> super::WriterStats {
        let c = &self.shared.counts;
        let queued = self.shared.lock().len() as u64;
        super::WriterStats {
            recorded_samples: c.recorded_samples.load(Ordering::Relaxed),
            committed_samples: c.committed_samples.load(Ordering::Relaxed),
            ignored_samples: c.ignored_samples.load(Ordering::Relaxed),
            dropped_samples: self.dropped_samples(),
            committed_events: c.committed_events.load(Ordering::Relaxed),
            commits: c.commits.load(Ordering::Relaxed),
            queued,
        }
    }

    /// Queues an event. Never blocks (beyond a short lock).
    pub(crate) fn record(&self, event: &HubEvent) {
        let op = match event {
            HubEvent::Sample { id, reading } => {
                Op::Sample(SampleOp { id: id.clone(), reading: reading.clone() })
            }
            other => Op::Event(event_op(other)),
        };
        let mut q = self.shared.lock();
        if q.stopped {
            tracing::error!("store writer has stopped; event not stored");
            return;
        }
        let seq = q.push_seq();
        let was_idle = q.len() == 0;
        match op {
            Op::Sample(s) => {
                self.shared.counts.recorded_samples.fetch_add(1, Ordering::Relaxed);
                q.samples.push_back((seq, s));
                if q.samples.len() > SAMPLE_QUEUE_CAP {
                    if let Some((gone, _)) = q.samples.pop_front() {
                        for f in q.flushes.iter_mut().filter(|f| f.seq > gone) {
                            f.dropped += 1;
                        }
                        let n = self.shared.dropped.fetch_add(1, Ordering::Relaxed) + 1;
                        if n == 1 || n.is_multiple_of(10_000) {
                            tracing::warn!(
                                dropped = n,
                                "store write queue full: dropping the oldest samples"
                            );
                        }
                    }
                }
            }
            Op::Event(e) => {
                q.events.push_back((seq, e));
                if q.events.len() > EVENT_QUEUE_CAP {
                    q.events.pop_front();
                    tracing::error!("store writer stuck: dropped the oldest queued event");
                }
            }
        }
        if was_idle || q.len() == BATCH_ROWS {
            self.shared.wake.notify_one();
        }
    }

    /// Resolves once everything queued before the call is committed.
    pub(crate) async fn flush(&self) -> Result<()> {
        let rx = {
            let mut q = self.shared.lock();
            if q.stopped {
                return Err(Error::WriterGone);
            }
            let (tx, rx) = oneshot::channel();
            let seq = q.next_seq;
            q.next_seq += 1;
            q.flushes.push(PendingFlush { seq, tx, dropped: 0 });
            self.shared.wake.notify_one();
            rx
        };
        rx.await.map_err(|_| Error::WriterGone)?
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.wake.notify_one();
        let handle = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle {
            if h.join().is_err() {
                tracing::error!("store writer thread panicked");
            }
        }
    }
}

/// The event row for a non-sample event.
fn event_op(event: &HubEvent) -> EventOp {
    let (kind, at_ms, state) = match event {
        HubEvent::DeviceAdded { .. } => ("device_added", None, None),
        HubEvent::DeviceRemoved { .. } => ("device_removed", None, None),
        HubEvent::DeviceUpdated { .. } => ("device_updated", None, None),
        HubEvent::StateChanged { outlet, on, at_ms, .. } => {
            ("state_changed", Some(*at_ms), Some((*outlet, *on)))
        }
        HubEvent::Online { at_ms, .. } => ("online", Some(*at_ms), None),
        HubEvent::Offline { at_ms, .. } => ("offline", Some(*at_ms), None),
        HubEvent::Error { at_ms, .. } => ("error", Some(*at_ms), None),
        HubEvent::Sample { reading, .. } => ("sample", Some(reading.at_ms), None),
    };
    // The detail is the event's own fields minus those stored in columns.
    let mut detail = serde_json::to_value(event).unwrap_or_else(|_| json!({}));
    if let Value::Object(m) = &mut detail {
        for k in ["type", "id", "at_ms"] {
            m.remove(k);
        }
    }
    EventOp {
        at_ms: at_ms.unwrap_or_else(now_ms),
        id: event.device().cloned(),
        kind,
        detail: detail.to_string(),
        state,
    }
}

/// Marks the writer stopped when the thread ends (normally or by panic), failing flushes.
struct StopGuard(Arc<Shared>);

impl Drop for StopGuard {
    fn drop(&mut self) {
        let mut q = self.0.lock();
        q.stopped = true;
        for f in q.flushes.drain(..) {
            let _ = f.tx.send(Err(Error::WriterGone));
        }
    }
}

/// Waits for work: a full batch, a flush, the batch deadline or closing.
fn wait_for_batch(shared: &Shared, may_wait: bool) -> (Vec<Op>, Vec<PendingFlush>, bool) {
    let mut q = shared.lock();
    loop {
        let pending = q.len();
        if q.closing || !q.flushes.is_empty() || pending >= BATCH_ROWS {
            break;
        }
        if pending > 0 {
            let deadline = q.oldest_at.unwrap_or_else(Instant::now) + BATCH_WAIT;
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            q = shared.wake.wait_timeout(q, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        } else if may_wait {
            q = shared.wake.wait(q).unwrap_or_else(|e| e.into_inner());
        } else {
            break;
        }
    }
    let (ops, flushes) = q.take(BATCH_ROWS);
    let finished = q.closing && q.len() == 0 && q.flushes.is_empty();
    (ops, flushes, finished)
}

fn resolve(flushes: Vec<PendingFlush>, outcome: &std::result::Result<(), String>) {
    for f in flushes {
        let r = match outcome {
            Err(e) => Err(Error::Commit(e.clone())),
            Ok(()) if f.dropped > 0 => Err(Error::Dropped(f.dropped)),
            Ok(()) => Ok(()),
        };
        let _ = f.tx.send(r);
    }
}

/// The thread's body.
fn run(shared: Arc<Shared>, mut conn: Connection) {
    let _guard = StopGuard(Arc::clone(&shared));
    let mut state = WriterState::default();
    let mut carry: Vec<Op> = Vec::new();
    let mut failures = 0u32;
    loop {
        let (ops, flushes, finished) = wait_for_batch(&shared, carry.is_empty());
        carry.extend(ops);
        if carry.is_empty() {
            resolve(flushes, &Ok(()));
            if finished {
                break;
            }
            continue;
        }
        match state.commit(&mut conn, &carry) {
            Ok(done) => {
                let c = &shared.counts;
                c.committed_samples.fetch_add(done.samples, Ordering::Relaxed);
                c.ignored_samples.fetch_add(done.ignored, Ordering::Relaxed);
                c.committed_events.fetch_add(done.events, Ordering::Relaxed);
                c.commits.fetch_add(1, Ordering::Relaxed);
                carry.clear();
                failures = 0;
                resolve(flushes, &Ok(()));
            }
            Err(e) => {
                failures += 1;
                tracing::error!(error = %e, rows = carry.len(), attempt = failures, "store commit failed; will retry");
                resolve(flushes, &Err(e.to_string()));
                trim_samples(&mut carry, &shared);
                if finished && failures >= CLOSING_ATTEMPTS {
                    tracing::error!(
                        rows = carry.len(),
                        "store closing with rows that could not be committed"
                    );
                    break;
                }
                let backoff =
                    Duration::from_millis(100).saturating_mul(1 << failures.min(6)).min(MAX_BACKOFF);
                std::thread::sleep(backoff);
            }
        }
        if finished && carry.is_empty() {
            break;
        }
    }
    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
        tracing::debug!(error = %e, "final checkpoint skipped");
    }
}

/// Keeps at most [`SAMPLE_QUEUE_CAP`] samples in a batch that keeps failing (oldest go).
fn trim_samples(carry: &mut Vec<Op>, shared: &Shared) {
    let samples = carry.iter().filter(|op| matches!(op, Op::Sample(_))).count();
    let mut excess = samples.saturating_sub(SAMPLE_QUEUE_CAP);
    if excess == 0 {
        return;
    }
    shared.dropped.fetch_add(excess as u64, Ordering::Relaxed);
    tracing::warn!(dropped = excess, "store commits keep failing: dropping the oldest samples");
    carry.retain(|op| {
        if excess > 0 && matches!(op, Op::Sample(_)) {
            excess -= 1;
            false
        } else {
            true
        }
    });
}

/// Rows one commit wrote.
#[derive(Debug, Default, Clone, Copy)]
struct Committed {
    samples: u64,
    ignored: u64,
    events: u64,
}

/// What the writer remembers between batches (only what has been committed).
#[derive(Default)]
struct WriterState {
    sids: HashMap<DeviceId, i64>,
    meters: HashMap<i64, Option<Meter>>,
}

impl WriterState {
    /// Writes `ops` in one transaction; on success the caches learn what it committed.
    fn commit(&mut self, conn: &mut Connection, ops: &[Op]) -> Result<Committed> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut new_sids = HashMap::new();
        let mut meters: HashMap<i64, Option<Meter>> = HashMap::new();
        let mut done = Committed::default();
        for op in ops {
            match op {
                Op::Sample(s) => {
                    let sid = self.sid(&tx, &mut new_sids, &s.id)?;
                    let prev = match meters.get(&sid).or_else(|| self.meters.get(&sid)) {
                        Some(m) => *m,
                        None => load_meter(&tx, sid)?,
                    };
                    if let Some(base) = insert_sample(&tx, sid, s, prev)? {
                        meters.insert(sid, base);
                        done.samples += 1;
                    } else {
                        done.ignored += 1;
                    }
                }
                Op::Event(e) => {
                    insert_event(&tx, e)?;
                    done.events += 1;
                }
            }
        }
        for (sid, m) in &meters {
            if let Some(m) = m {
                tx.prepare_cached("INSERT OR REPLACE INTO meters (sid, t_ms, kwh) VALUES (?1, ?2, ?3)")?
                    .execute(params![sid, m.t_ms, m.kwh])?;
            }
        }
        tx.commit()?;
        self.sids.extend(new_sids);
        self.meters.extend(meters);
        Ok(done)
    }

    /// The device's key, created on first use.
    fn sid(&self, tx: &Transaction<'_>, new: &mut HashMap<DeviceId, i64>, id: &DeviceId) -> Result<i64> {
        if let Some(s) = self.sids.get(id).or_else(|| new.get(id)) {
            return Ok(*s);
        }
        let found: Option<i64> = tx
            .prepare_cached("SELECT sid FROM device_keys WHERE device_id = ?1")?
            .query_row([id.as_str()], |r| r.get(0))
            .optional()?;
        let sid = match found {
            Some(s) => s,
            None => {
                tx.prepare_cached("INSERT INTO device_keys (device_id) VALUES (?1)")?
                    .execute([id.as_str()])?;
                tx.last_insert_rowid()
            }
        };
        new.insert(id.clone(), sid);
        Ok(sid)
    }
}

fn load_meter(tx: &Transaction<'_>, sid: i64) -> Result<Option<Meter>> {
    Ok(tx
        .prepare_cached("SELECT t_ms, kwh FROM meters WHERE sid = ?1")?
        .query_row([sid], |r| Ok(Meter { t_ms: r.get(0)?, kwh: r.get(1)? }))
        .optional()?)
}

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

/// Inserts a sample with its energy; returns the device's new base, or `None` when the
/// sample was not stored (impossible time, or a duplicate of the same millisecond).
fn insert_sample(
    tx: &Transaction<'_>,
    sid: i64,
    s: &SampleOp,
    prev: Option<Meter>,
) -> Result<Option<Option<Meter>>> {
    let r = &s.reading;
    if jiff::Timestamp::from_millisecond(r.at_ms).is_err() {
        tracing::warn!(device = %s.id, at_ms = r.at_ms, "sample with an impossible time not stored");
        return Ok(None);
    }
    let counter = finite(r.total_kwh).filter(|c| *c >= 0.0);
    let step = energy::step(prev, r.at_ms, counter);
    let outlets = (!r.outlets_on.is_empty()).then(|| {
        r.outlets_on.iter().take(63).enumerate().fold(0i64, |m, (i, on)| if *on { m | (1 << i) } else { m })
    });
    let inserted = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO samples (sid, t_ms, on_state, outlets, power_w, voltage_v, current_a, \
             total_kwh, energy_kwh, rssi, latency_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        )?
        .execute(params![
            sid,
            r.at_ms,
            r.on,
            outlets,
            finite(r.power_w),
            finite(r.voltage_v),
            finite(r.current_a),
            counter,
            step.energy_kwh,
            r.rssi,
            finite(Some(r.latency_ms)),
        ])?;
    if inserted == 0 {
        // Same device, same millisecond: the first reading wins.
        return Ok(None);
    }
    let kind = match step.kind {
        StepKind::Reset => Some("counter_reset"),
        StepKind::Jump => Some("counter_jump"),
        _ => None,
    };
    if let (Some(kind), Some(before)) = (kind, prev) {
        let detail = json!({ "from_kwh": before.kwh, "to_kwh": counter, "since_ms": before.t_ms });
        tracing::info!(device = %s.id, kind, from_kwh = before.kwh, to_kwh = ?counter, "energy counter re-based");
        insert_event(
            tx,
            &EventOp {
                at_ms: r.at_ms,
                id: Some(s.id.clone()),
                kind,
                detail: detail.to_string(),
                state: None,
            },
        )?;
    }
    Ok(Some(step.base))
}

fn insert_event(tx: &Transaction<'_>, e: &EventOp) -> Result<()> {
    let id = e.id.as_ref().map(DeviceId::as_str);
    tx.prepare_cached("INSERT INTO events (at_ms, device_id, kind, detail) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![e.at_ms, id, e.kind, e.detail])?;
    if let (Some((outlet, on)), Some(id)) = (e.state, id) {
        let seq = tx.last_insert_rowid();
        tx.prepare_cached(
            "INSERT INTO state_changes (device_id, at_ms, outlet, on_state, event_seq) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?
        .execute(params![id, e.at_ms, outlet.map(|o| o as i64), on, seq])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(at_ms: i64) -> Reading {
        Reading {
            at_ms,
            on: true,
            outlets_on: vec![],
            power_w: None,
            voltage_v: None,
            current_a: None,
            total_kwh: None,
            rssi: None,
            latency_ms: 1.0,
        }
    }

    #[test]
    fn take_respects_order_and_completes_only_earlier_flushes() {
        let mut q = Queue::default();
        let id = DeviceId("d".into());
        let s0 = q.push_seq();
        q.samples.push_back((s0, SampleOp { id: id.clone(), reading: reading(0) }));
        let e1 = q.push_seq();
        q.events.push_back((e1, event_op(&HubEvent::Online { id: id.clone(), at_ms: 1 })));
        let (tx, _rx) = oneshot::channel();
        let f = q.next_seq;
        q.next_seq += 1;
        q.flushes.push(PendingFlush { seq: f, tx, dropped: 0 });
        let s3 = q.push_seq();
        q.samples.push_back((s3, SampleOp { id, reading: reading(3) }));

        let (ops, done) = q.take(2);
        assert!(matches!(ops[0], Op::Sample(_)) && matches!(ops[1], Op::Event(_)));
        assert_eq!(done.len(), 1, "the flush only waited for the first two rows");
        let (ops, done) = q.take(10);
        assert_eq!((ops.len(), done.len()), (1, 0));
        assert!(q.oldest_at.is_none());
    }

    #[test]
    fn event_detail_keeps_only_the_events_own_fields() {
        let e = event_op(&HubEvent::Offline { id: DeviceId("d".into()), error: "timeout".into(), at_ms: 5 });
        assert_eq!((e.kind, e.at_ms), ("offline", 5));
        assert_eq!(e.detail, r#"{"error":"timeout"}"#);
        let e = event_op(&HubEvent::StateChanged {
            id: DeviceId("d".into()),
            outlet: Some(2),
            on: true,
            at_ms: 7,
        });
        assert_eq!(e.state, Some((Some(2), true)));
    }
}
