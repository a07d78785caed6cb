//! Crash safety: `store-writer` is killed with SIGKILL at random moments during heavy writes
//! (and roll-ups); after each kill the database must pass `PRAGMA integrity_check` and hold
//! every sample the store acknowledged (a `flush()` that returned), exactly once.

mod store_support;

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Stdio},
    sync::mpsc,
    thread,
    time::Duration,
};

use plugctl_hub::{config::Retention, store::Bucket};
use rusqlite::Connection;
use store_support::*;

const WRITER: &str = env!("CARGO_BIN_EXE_store-writer");
/// Matches `src/bin/store-writer.rs`.
const T0_MS: i64 = 1_700_000_000_000;
const KWH_PER_SAMPLE: f64 = 0.0001;
/// Hang guard for a child's first acknowledgement (building nothing, just opening a file).
const FIRST_ACK_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs the writer from `start`, kills it after `delay_ms` (counted from its first
/// acknowledgement, or from the start when `early`), returns the highest acknowledged sample.
fn run_and_kill(db: &Path, start: u64, maintain: bool, delay_ms: u64, early: bool) -> Option<u64> {
    let mut cmd = Command::new(WRITER);
    cmd.arg(db).arg(start.to_string()).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::inherit());
    if maintain {
        cmd.arg("--maintain");
    }
    let mut child = cmd.spawn().expect("spawn store-writer");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel::<u64>();
    let reader = thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let n = line.trim().parse::<u64>().unwrap_or_else(|_| panic!("bad ack line {line:?}"));
            if tx.send(n).is_err() {
                break;
            }
        }
    });
    let mut acked = None;
    if !early {
        match rx.recv_timeout(FIRST_ACK_TIMEOUT) {
            Ok(n) => acked = Some(n),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("store-writer acknowledged nothing ({e}); exit: {:?}", child.try_wait());
            }
        }
    }
    thread::sleep(Duration::from_millis(delay_ms));
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("wait");
    assert!(status.code().is_none(), "store-writer died on its own: {status}");
    reader.join().expect("reader thread");
    // Everything printed before the kill is still in the pipe.
    for n in rx.try_iter() {
        acked = acked.max(Some(n));
    }
    acked
}

/// What a reopened database holds.
struct Contents {
    /// Highest sample number present (any tier), if any.
    max: Option<u64>,
    /// Samples present, counted across the tiers.
    count: i64,
    /// Energy across the tiers.
    energy: f64,
    /// `state_changed` events.
    state_events: i64,
}

fn check(db: &Path) -> Contents {
    let c = Connection::open(db).expect("reopen");
    let ok: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("integrity_check");
    assert_eq!(ok, "ok");
    let tables: i64 =
        c.query_row("SELECT count(*) FROM sqlite_schema WHERE type = 'table'", [], |r| r.get(0)).unwrap();
    if tables == 0 {
        // Killed before the first migration committed: an empty, valid file.
        return Contents { max: None, count: 0, energy: 0.0, state_events: 0 };
    }
    let max_t: Option<i64> = c
        .query_row(
            "SELECT max(m) FROM (SELECT max(t_ms) AS m FROM samples \
             UNION ALL SELECT max(last_kwh_t_ms) FROM samples_minute \
             UNION ALL SELECT max(last_kwh_t_ms) FROM samples_hour)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let (count, energy): (f64, f64) = c
        .query_row(
            "SELECT (SELECT count(*) FROM samples) + (SELECT total(n) FROM samples_minute) \
                  + (SELECT total(n) FROM samples_hour), \
                    (SELECT total(energy_kwh) FROM samples) + (SELECT total(energy_kwh) FROM samples_minute) \
                  + (SELECT total(energy_kwh) FROM samples_hour)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let state_events: i64 =
        c.query_row("SELECT count(*) FROM events WHERE kind = 'state_changed'", [], |r| r.get(0)).unwrap();
    Contents { max: max_t.map(|t| ((t - T0_MS) / 1000) as u64), count: count as i64, energy, state_events }
}

fn crash_loop(maintain: bool, kills: usize, seed: u64) -> (usize, u64) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let mut rng = Rng(seed);
    let mut highest_acked: Option<u64> = None;
    for round in 0..kills {
        let present = check(&db).max;
        // Continue after the last sample present (acknowledged or not), so nothing repeats.
        let start = present.map_or(0, |m| m + 1);
        let early = round % 5 == 0; // sometimes kill while opening or migrating
        let delay = if early { rng.range(0, 40) } else { rng.range(0, 400) };
        let acked = run_and_kill(&db, start, maintain, delay, early);
        highest_acked = highest_acked.max(acked);
        let after = check(&db);
        let Some(max) = after.max else {
            assert!(highest_acked.is_none(), "round {round}: acknowledged samples lost entirely");
            continue;
        };
        if let Some(a) = highest_acked {
            assert!(max >= a, "round {round} (seed {seed:#x}): acknowledged up to {a}, only {max} present");
        }
        // Samples 0..=max, each exactly once (no loss, no double count across roll-ups).
        assert_eq!(after.count, max as i64 + 1, "round {round} (seed {seed:#x}): sample count");
        assert!(close(after.energy, max as f64 * KWH_PER_SAMPLE), "round {round}: energy {}", after.energy);
        assert_eq!(after.state_events, (max / 100 + 1) as i64, "round {round}: state changes");
    }
    let checked = check(&db).max.map_or(0, |m| m + 1);
    // The public API agrees after all the crashes.
    let store = plugctl_hub::store::Store::open(&db, Retention::default()).unwrap();
    let hours = store.history(&dev("crash-dev"), 0, i64::MAX, Bucket::Hour).unwrap();
    let e: f64 = hours.iter().map(|p| p.energy_kwh).sum();
    assert!(close(e, (checked.max(1) - 1) as f64 * KWH_PER_SAMPLE), "{e}");
    eprintln!(
        "crash test (maintain: {maintain}, seed {seed:#x}): {kills} SIGKILLs survived, {checked} samples checked, \
         highest acknowledged {highest_acked:?}"
    );
    (kills, checked)
}

#[test]
fn sigkill_during_heavy_writes_loses_nothing_acknowledged() {
    let (kills, checked) = crash_loop(false, 20, 0xC0FF_EE01);
    assert!(kills == 20 && checked > 0);
}

#[test]
fn sigkill_during_writes_and_roll_ups_loses_and_doubles_nothing() {
    let (kills, checked) = crash_loop(true, 12, 0xC0FF_EE02);
    assert!(kills == 12 && checked > 0);
}
