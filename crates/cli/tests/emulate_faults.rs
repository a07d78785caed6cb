//! End to end: `plugctl emulate … --fault KIND` processes, and the real `plugctl` binary
//! failing against them with one clear line and exit code 1 within its `--timeout` contract,
//! then working again once `--fault-for` has run out.
//!
//! Loopback only (127.0.81.0/24), ports picked by the emulators. The elapsed-time bounds are
//! the client's contract (timeout per connect and per reply, retries + 1 attempts) times a
//! generous factor, never a performance figure.

mod common;

use std::time::{Duration, Instant};

use common::{plugctl, Emulator};

/// `--timeout` and `--retries` given to `plugctl state`.
const TIMEOUT_S: f64 = 0.5;
const RETRIES: u32 = 1;

/// The longest `plugctl state` may take by its contract (connect + reply per attempt, the
/// back-off between attempts is at most 2 s), times 3, plus process start-up slack.
fn contract_bound() -> Duration {
    let attempts = f64::from(RETRIES + 1);
    Duration::from_secs_f64((TIMEOUT_S * 2.0 * attempts + 2.0 * f64::from(RETRIES)) * 3.0 + 5.0)
}

fn state(target: &str, extra: &[&str]) -> (common::Run, Duration) {
    let timeout = TIMEOUT_S.to_string();
    let retries = RETRIES.to_string();
    let mut args = vec!["state", target, "--timeout", &timeout, "--retries", &retries];
    args.extend_from_slice(extra);
    let start = Instant::now();
    let r = plugctl(&args);
    (r, start.elapsed())
}

/// Exit code 1, one line on stderr naming the device, within the contract.
fn fails_cleanly(r: &common::Run, took: Duration, host: &str) -> String {
    assert_eq!(r.code, Some(1), "{r:?}");
    let err = r.stderr.trim();
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("error: ") && err.contains(host), "{err}");
    assert!(took < contract_bound(), "took {took:?}, over {:?}", contract_bound());
    err.to_string()
}

#[test]
fn kasa_no_reply_is_a_timeout_error() {
    let emu = Emulator::kasa(&["--base", "127.0.81.2", "--fault", "no-reply"], 1);
    let d = emu.first();
    let (r, took) = state(&d.target(), &["--family", "kasa"]);
    let err = fails_cleanly(&r, took, "127.0.81.2");
    assert!(err.ends_with("no reply within 500 ms"), "{err}");
}

#[test]
fn hf_garbage_is_a_bad_reply_error() {
    let emu = Emulator::hf(&["--base", "127.0.81.10", "--fault", "garbage"], 1);
    let d = emu.first();
    let udp = d.udp_port();
    let (r, took) = state(&d.target(), &["--family", "hf", "--udp-port", &udp]);
    let err = fails_cleanly(&r, took, "127.0.81.10");
    assert!(err.contains("bad YZ-RECOSCAN reply"), "{err}");
}

#[test]
fn faults_stop_after_fault_for() {
    let started = Instant::now();
    let emu = Emulator::kasa(&["--base", "127.0.81.20", "--fault", "garbage", "--fault-for", "3"], 1);
    let t = emu.first().target();
    let (first, _) = state(&t, &["--family", "kasa", "--json"]);
    if started.elapsed() < Duration::from_secs(3) {
        // Still inside the fault window (not guaranteed on a very loaded machine).
        assert_eq!(first.code, Some(1), "{first:?}");
        assert!(first.stderr.contains("reply is not JSON"), "{}", first.stderr);
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (r, _) = state(&t, &["--family", "kasa", "--json"]);
        if r.code == Some(0) {
            assert!(r.json()["on"].is_boolean());
            break;
        }
        assert!(Instant::now() < deadline, "no recovery after --fault-for: {r:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn bad_fault_specs_are_usage_errors() {
    let r = plugctl(&["emulate", "kasa", "--port", "0", "--fault", "explode"]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("unknown fault `explode`; kinds: delay, no-reply"), "{}", r.stderr);
    let r = plugctl(&["emulate", "kasa", "--port", "0", "--fault", "garbage:1.5"]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("not a number between 0 and 1"), "{}", r.stderr);
    let r = plugctl(&["emulate", "hf", "--port", "0", "--udp-port", "0", "--fault", "bad-length"]);
    assert_eq!(r.code, Some(2), "{r:?}");
    assert!(r.stderr.contains("applies to Kasa plugs only"), "{}", r.stderr);
}
