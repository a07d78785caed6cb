//! The Hi-Flying client against the real HF emulator with injected faults
//! (`plugctl_emulator::fault`): for each kind, the right typed error within the client's
//! contract (`timeout` per connect and per exchange, `retries + 1` attempts, back-off
//! between them), and recovery of the *same* handle once the fault is switched off.
//!
//! The control channel (TCP) is exercised with `measure` and `set_power`, the UDP side with
//! `state` (`YZ-RECOSCAN`). `bad-length` does not apply to this family (no length prefix).
//! Everything runs on 127.0.0.0/8 with ports picked by the kernel; the elapsed-time bounds
//! are the client's contract times a generous factor, never a performance figure.

use std::{
    net::{IpAddr, Ipv4Addr},
    time::{Duration, Instant},
};

use plugctl_client::{
    hf::{HfConfig, HfDevice, HfFailure},
    Error, Op,
};
use plugctl_emulator::{
    fault::{FaultKind, FaultSpec, Faults},
    hf::{bind_plug, PlugConfig, PlugState, Ports, ReplyCopy, RunningPlug, ServerConfig},
};

const TIMEOUT: Duration = Duration::from_millis(300);
const RETRIES: u32 = 2;
const BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_millis(40);
const REBOOT_TIME: Duration = Duration::from_millis(300);
/// Only so that a bug hangs no test run.
const HANG_GUARD: Duration = Duration::from_secs(30);

/// A plug in STA mode on 127.0.0.`n` (its AP address 127.0.0.`n+100`), free ports.
async fn emulator(n: u8, faults: Faults) -> RunningPlug {
    let ip = Ipv4Addr::new(127, 0, 0, n);
    let cfg = PlugConfig { home_ip: ip, ap_ip: Ipv4Addr::new(127, 0, 0, n + 100), ..PlugConfig::default() };
    let server = ServerConfig {
        faults,
        reboot_time: REBOOT_TIME,
        reply_copy: ReplyCopy::Off,
        ..ServerConfig::default()
    };
    let state = PlugState::new(cfg).expect("valid plug config");
    bind_plug(state, Ports { http: None, ..Ports::ephemeral() }, server).await.expect("plug binds")
}

fn client(plug: &RunningPlug) -> HfDevice {
    let ip = plug.ip().expect("plug online");
    let ports = plug.ports();
    HfDevice::new(
        IpAddr::V4(ip),
        HfConfig {
            control_port: ports.control,
            udp_port: ports.udp,
            listen_reply_port: false,
            timeout: TIMEOUT,
            retries: RETRIES,
            backoff: BACKOFF,
            max_backoff: MAX_BACKOFF,
            ..HfConfig::default()
        },
    )
}

/// The longest a call may take by the client's contract, times 3 (loaded machines).
fn contract_bound(cfg: &HfConfig) -> Duration {
    let attempts = cfg.retries + 1;
    (cfg.timeout * 2 * attempts + cfg.max_backoff * cfg.retries + cfg.quiet * attempts) * 3
}

async fn setup(n: u8, kind: FaultKind) -> (RunningPlug, Faults, HfDevice) {
    let faults = Faults::always(kind);
    let plug = emulator(n, faults.clone()).await;
    let dev = client(&plug);
    (plug, faults, dev)
}

/// Runs `f`, checks it fails within the contract bound, and returns the error.
async fn fails<T: std::fmt::Debug>(
    dev: &HfDevice,
    f: impl std::future::Future<Output = Result<T, Error>>,
) -> Error {
    let start = Instant::now();
    let r = tokio::time::timeout(HANG_GUARD, f).await.expect("call hung");
    let took = start.elapsed();
    let e = r.expect_err("expected an error");
    let bound = contract_bound(dev.config());
    assert!(took < bound, "{e}: took {took:?}, over the contract bound {bound:?}");
    e
}

/// Switches the fault off and checks that the same handle works again (control and UDP).
async fn recovers(dev: &HfDevice, faults: &Faults) {
    faults.set_enabled(false);
    let m = tokio::time::timeout(HANG_GUARD, dev.measure()).await.expect("call hung");
    m.unwrap_or_else(|e| panic!("no recovery after the fault stopped: {e}"));
    let s = tokio::time::timeout(HANG_GUARD, dev.state()).await.expect("call hung");
    s.unwrap_or_else(|e| panic!("no UDP recovery after the fault stopped: {e}"));
}

fn all_attempts_used(dev: &HfDevice) {
    let s = dev.stats();
    assert_eq!(s.retries, u64::from(RETRIES), "{s:?}");
    assert_eq!(s.attempts, u64::from(RETRIES) + 1, "{s:?}");
}

fn relay(plug: &RunningPlug) -> Option<bool> {
    plug.device().lock().expect("plug lock").relay(1)
}

#[tokio::test]
async fn delay_longer_than_the_timeout_is_a_reply_timeout() {
    // TCP only: over UDP a late reply to an earlier attempt is (rightly) accepted by a later
    // one, since a RECOSCAN reply is a state read whichever datagram it answers.
    let (_plug, faults, dev) = setup(11, FaultKind::Delay(TIMEOUT * 3)).await;
    let e = fails(&dev, dev.measure()).await;
    assert!(matches!(e, Error::Timeout { op: Op::Reply, after, .. } if after == TIMEOUT), "{e:?}");
    all_attempts_used(&dev);
    faults.set_enabled(false);
    dev.measure().await.expect("recovered");
}

#[tokio::test]
async fn no_reply_is_a_reply_timeout_on_tcp_and_udp() {
    let (_plug, faults, dev) = setup(12, FaultKind::NoReply).await;
    let e = fails(&dev, dev.measure()).await;
    assert!(matches!(e, Error::Timeout { op: Op::Reply, .. }), "{e:?}");
    all_attempts_used(&dev);
    let e = fails(&dev, dev.state()).await;
    assert!(matches!(e, Error::Timeout { op: Op::Reply, .. }), "{e:?}");
    recovers(&dev, &faults).await;
}

#[tokio::test]
async fn close_mid_reply_is_an_unreadable_reply() {
    let (_plug, faults, dev) = setup(13, FaultKind::CloseMidFrame).await;
    // Half of `+ok` is `+o`: not a reply.
    let e = fails(&dev, dev.set_power(true)).await;
    assert!(matches!(&e, Error::Hf { error: HfFailure::BadReply { .. }, .. }), "{e:?}");
    all_attempts_used(&dev);
    // Half a reading is a reading with too few fields.
    let e = fails(&dev, dev.measure()).await;
    assert!(
        matches!(&e, Error::Hf { error: HfFailure::BadMeasurement(_) | HfFailure::BadReply { .. }, .. }),
        "{e:?}"
    );
    // UDP: half a RECOSCAN reply does not decode.
    let e = fails(&dev, dev.state()).await;
    assert!(matches!(&e, Error::Hf { error: HfFailure::BadScanReply(_), .. }), "{e:?}");
    recovers(&dev, &faults).await;
}

#[tokio::test]
async fn replies_written_one_byte_at_a_time_are_read_whole() {
    let (plug, faults, dev) = setup(14, FaultKind::SplitWrites).await;
    let m = dev.measure().await.expect("split replies are still replies");
    assert!(m.voltage_v > 100.0, "{m:?}");
    dev.set_power(false).await.expect("switch");
    assert_eq!(relay(&plug), Some(false));
    dev.set_power(true).await.expect("switch");
    assert_eq!(relay(&plug), Some(true));
    assert_eq!(dev.stats().retries, 0);
    assert_eq!(faults.injected(), 3);
}

#[tokio::test]
async fn garbage_is_an_unreadable_reply_retried_then_reported() {
    let (_plug, faults, dev) = setup(15, FaultKind::Garbage).await;
    let e = fails(&dev, dev.measure()).await;
    assert!(matches!(&e, Error::Hf { error: HfFailure::BadReply { .. }, .. }), "{e:?}");
    assert!(e.is_retryable());
    all_attempts_used(&dev);
    let e = fails(&dev, dev.state()).await;
    assert!(matches!(&e, Error::Hf { error: HfFailure::BadScanReply(_), .. }), "{e:?}");
    recovers(&dev, &faults).await;
}

#[tokio::test]
async fn a_reply_that_never_ends_is_cut_at_the_cap() {
    let (_plug, faults, dev) = setup(16, FaultKind::HugeLength).await;
    let e = fails(&dev, dev.measure()).await;
    match &e {
        Error::Hf { error: HfFailure::ReplyTooLong { max, .. }, .. } => {
            assert_eq!(*max, dev.config().max_reply)
        }
        other => panic!("expected an oversized reply, got {other:?}"),
    }
    all_attempts_used(&dev);
    recovers(&dev, &faults).await;
}

#[tokio::test]
async fn a_reply_to_another_command_is_detected_and_the_command_not_applied() {
    let (plug, faults, dev) = setup(17, FaultKind::WrongReply).await;
    // A reading answered with a switch's `+ok`.
    let e = fails(&dev, dev.measure()).await;
    assert!(matches!(&e, Error::Hf { error: HfFailure::BadMeasurement(_), .. }), "{e:?}");
    // A switch answered with a reading.
    let before = relay(&plug).expect("outlet 1");
    let e = fails(&dev, dev.set_power(!before)).await;
    match &e {
        Error::Hf { error: HfFailure::UnexpectedValue { command, detail }, .. } => {
            assert!(command.starts_with("AT+YZSWITCH=1,"), "{command}");
            assert!(detail.contains("another command"), "{detail}");
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    assert_eq!(relay(&plug), Some(before), "the switch was not applied");
    // UDP: a RECOSCAN answered with `+ok`.
    let e = fails(&dev, dev.state()).await;
    assert!(matches!(&e, Error::Hf { error: HfFailure::BadScanReply(_), .. }), "{e:?}");
    recovers(&dev, &faults).await;
    dev.set_power(!before).await.expect("switch after recovery");
    assert_eq!(relay(&plug), Some(!before));
}

#[tokio::test]
async fn a_connection_reset_at_accept_fails_without_a_retry_storm() {
    let (_plug, faults, dev) = setup(18, FaultKind::Refuse).await;
    let e = fails(&dev, dev.measure()).await;
    assert!(
        matches!(&e, Error::Closed { .. } | Error::Refused { .. })
            || matches!(&e, Error::Io { error, .. }
                if matches!(error.kind(), std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe)),
        "{e:?}"
    );
    let s = dev.stats();
    assert!(s.connect_attempts <= u64::from(RETRIES) + 1, "one connection per attempt: {s:?}");
    recovers(&dev, &faults).await;
}

#[tokio::test]
async fn a_connection_never_read_is_a_reply_timeout() {
    let (_plug, faults, dev) = setup(19, FaultKind::AcceptNoRead).await;
    let e = fails(&dev, dev.measure()).await;
    assert!(matches!(e, Error::Timeout { op: Op::Reply, .. }), "{e:?}");
    all_attempts_used(&dev);
    recovers(&dev, &faults).await;
}

#[tokio::test]
async fn a_reboot_drops_the_connection_and_the_plug_comes_back() {
    let (plug, faults, dev) = setup(20, FaultKind::Reboot).await;
    let boots = plug.status().boots;
    let e = fails(&dev, dev.measure()).await;
    assert!(
        matches!(e, Error::Closed { .. } | Error::Io { .. } | Error::Refused { .. } | Error::Timeout { .. }),
        "{e:?}"
    );
    faults.set_enabled(false);
    let st = tokio::time::timeout(HANG_GUARD, plug.wait_for(|s| s.online && s.boots > boots))
        .await
        .expect("plug back");
    assert!(st.boots > boots);
    recovers(&dev, &faults).await;
}

#[tokio::test]
async fn faults_at_a_rate_below_one_are_absorbed_by_retries_and_counted() {
    let spec: FaultSpec = "garbage:0.5".parse().expect("spec");
    let faults = Faults::new(vec![spec], 99);
    let plug = emulator(21, faults.clone()).await;
    let ip = plug.ip().expect("online");
    let dev = HfDevice::new(IpAddr::V4(ip), HfConfig { retries: 8, ..client(&plug).config().clone() });
    for _ in 0..20 {
        dev.measure().await.expect("retries absorb a 50 % garbage rate");
    }
    let s = dev.stats();
    assert_eq!(s.requests, 20);
    assert!(s.retries > 0, "{s:?}");
    assert_eq!(s.retries, faults.injected(), "every garbled reply was retried once: {s:?}");
    assert_eq!(s.attempts, s.requests + s.retries, "{s:?}");
}

#[test]
fn bad_length_has_no_meaning_for_hf() {
    assert!(!FaultKind::BadLength.applies_to_hf());
    assert!(FaultKind::ALL.iter().filter(|k| **k != FaultKind::BadLength).all(FaultKind::applies_to_hf));
}
