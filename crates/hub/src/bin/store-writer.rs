//! A load generator for the store's crash test (`tests/store_crash.rs`); not part of the
//! user-facing tools.
//!
//! `store-writer DB START [--maintain]` opens the store at `DB` and, in a tight loop, records
//! batches of samples of device `crash-dev`: sample `n` (from `START` on) is taken at
//! `T0 + n` seconds with the energy counter at `n · 0.0001` kWh, and every 100th sample also
//! gets a `state_changed` event at the same instant. After each `flush()` it prints the
//! highest acknowledged `n` on its own line. With `--maintain` it also runs the roll-up
//! (retention 0 days, so everything older than the current minute / hour moves) every few
//! batches, concurrently with the writer thread. It runs until killed.

use std::{io::Write, path::PathBuf, process::ExitCode};

use plugctl_hub::{
    config::Retention,
    events::HubEvent,
    model::{DeviceId, Reading},
    store::Store,
};

/// Time of sample 0 (2023-11-14T22:13:20Z).
const T0_MS: i64 = 1_700_000_000_000;
/// Counter increase per sample, kWh (360 W at one sample per second).
const KWH_PER_SAMPLE: f64 = 0.0001;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("store-writer: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(db), Some(start)) = (args.first(), args.get(1)) else {
        return Err("usage: store-writer DB START [--maintain]".into());
    };
    let start: u64 = start.parse().map_err(|e| format!("START {start:?}: {e}"))?;
    let maintain = args.iter().any(|a| a == "--maintain");
    let retention = if maintain { Retention { raw_days: 0, minute_days: 0 } } else { Retention::default() };
    let store = Store::open(&PathBuf::from(db), retention).map_err(|e| e.to_string())?;
    let id = DeviceId("crash-dev".into());
    let mut rng = start.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut n = start;
    let stdout = std::io::stdout();
    for round in 0u64.. {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let batch = 1 + rng % 300;
        for _ in 0..batch {
            let at_ms = T0_MS + n as i64 * 1000;
            let reading = Reading {
                at_ms,
                on: true,
                outlets_on: Vec::new(),
                power_w: Some(360.0),
                voltage_v: Some(230.0),
                current_a: Some(1.57),
                total_kwh: Some(n as f64 * KWH_PER_SAMPLE),
                rssi: Some(-50),
                latency_ms: 3.0,
            };
            store.record(&HubEvent::Sample { id: id.clone(), reading });
            if n.is_multiple_of(100) {
                store.record(&HubEvent::StateChanged {
                    id: id.clone(),
                    outlet: None,
                    on: n.is_multiple_of(200),
                    at_ms,
                });
            }
            n += 1;
        }
        futures::executor::block_on(store.flush()).map_err(|e| e.to_string())?;
        let mut out = stdout.lock();
        writeln!(out, "{}", n - 1).and_then(|()| out.flush()).map_err(|e| e.to_string())?;
        if maintain && round % 5 == 4 {
            store.maintain(T0_MS + n as i64 * 1000).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}
