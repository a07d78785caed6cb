//! The Kasa client against the real Kasa emulator with injected faults
//! (`plugctl_emulator::fault`): for each kind, the right typed error within the client's
//! contract (`timeout` per connect and per exchange, `retries + 1` attempts, back-off
//! between them), and recovery of the *same* handle once the fault is switched off.
//!
//! Everything runs on 127.0.0.1 with ports picked by the kernel. The elapsed-time bounds
//! are the client's contract times a generous factor, never a performance figure.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use plugctl_client::{
    kasa::{ClientConfig, KasaDevice},
    Error, Op,
};
use plugctl_emulator::{
    fault::{FaultKind, FaultSpec, Faults, HUGE_LENGTH},
    kasa::{self, DeviceConfig, RunningDevice, ServerConfig},
};
use plugctl_proto::kasa::{FrameError, Request, ResponseError};

/// Per-connect and per-exchange timeout of the client under test.
const TIMEOUT: Duration = Duration::from_millis(300);
/// Retries of the client under test.
const RETRIES: u32 = 2;
const BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_millis(40);
/// How long the emulated device stays offline when it reboots.
const REBOOT_TIME: Duration = Duration::from_millis(300);
/// Only so that a bug hangs no test run.
const HANG_GUARD: Duration = Duration::from_secs(30);

fn client_cfg() -> ClientConfig {
    ClientConfig {
        timeout: TIMEOUT,
        retries: RETRIES,
        backoff: BACKOFF,
        max_backoff: MAX_BACKOFF,
        ..ClientConfig::default()
    }
}

/// The longest a call may take by the client's contract (each attempt: connect + exchange;
/// back-off between attempts), times 3 so that a loaded machine does not flake.
fn contract_bound(cfg: &ClientConfig) -> Duration {
    let attempts = cfg.retries + 1;
    (cfg.timeout * 2 * attempts + cfg.max_backoff * cfg.retries) * 3
}

/// An HS110 emulator on 127.0.0.1 with `faults`, short reboot and idle times.
async fn emulator(faults: Faults) -> RunningDevice {
    let profile = kasa::builtin("hs110-hw2").expect("built-in profile");
    let dev = kasa::shared(profile.instantiate_with(
        0,
        42,
        DeviceConfig { reboot_time: REBOOT_TIME, ..DeviceConfig::default() },
    ));
    let cfg = ServerConfig { faults, idle_timeout: Duration::from_secs(5), ..ServerConfig::default() };
    kasa::bind_device("127.0.0.1".parse().expect("ip"), 0, dev, cfg).await.expect("emulator binds")
}

/// The relay states of the emulated device.
fn relays(emu: &RunningDevice) -> Vec<bool> {
    emu.device().lock().expect("device lock").relay_states()
}

/// How many reboots the emulated device has started.
fn epoch(emu: &RunningDevice) -> u64 {
    emu.device().lock().expect("device lock").boot_epoch(Instant::now())
}

fn client(addr: SocketAddr) -> KasaDevice {
    KasaDevice::new(addr, client_cfg())
}

/// Runs `sysinfo` and returns the error and how long the call took; panics on success.
async fn sysinfo_error(dev: &KasaDevice) -> (Error, Duration) {
    let start = Instant::now();
    let r = tokio::time::timeout(HANG_GUARD, dev.sysinfo()).await.expect("call hung");
    let took = start.elapsed();
    match r {
        Ok(info) => panic!("expected an error, got sysinfo of {}", info.model),
        Err(e) => {
            let bound = contract_bound(dev.config());
            assert!(took < bound, "{e}: took {took:?}, over the contract bound {bound:?}");
            (e, took)
        }
    }
}

/// Switches the fault off and checks that the same handle works again.
async fn recovers(dev: &KasaDevice, faults: &Faults) {
    faults.set_enabled(false);
    let info = tokio::time::timeout(HANG_GUARD, dev.sysinfo()).await.expect("call hung");
    let info = info.unwrap_or_else(|e| panic!("no recovery after the fault stopped: {e}"));
    assert!(info.model.starts_with("HS110"), "{}", info.model);
}

/// One fault on every request, the emulator, and a client on it.
async fn setup(kind: FaultKind) -> (RunningDevice, Faults, KasaDevice) {
    let faults = Faults::always(kind);
    let emu = emulator(faults.clone()).await;
    let dev = client(emu.addr());
    (emu, faults, dev)
}

/// Every attempt was made, and each failed one was retried.
fn all_attempts_used(dev: &KasaDevice) {
    let s = dev.stats();
    assert_eq!(s.retries, u64::from(RETRIES), "{s:?}");
    assert_eq!(s.attempts, u64::from(RETRIES) + 1, "{s:?}");
}

#[tokio::test]
async fn delay_longer_than_the_timeout_is_a_reply_timeout_and_a_short_one_is_fine() {
    let (_emu, faults, dev) = setup(FaultKind::Delay(TIMEOUT * 3)).await;
    let (e, _) = sysinfo_error(&dev).await;
    assert!(matches!(e, Error::Timeout { op: Op::Reply, after, .. } if after == TIMEOUT), "{e:?}");
    all_attempts_used(&dev);
    recovers(&dev, &faults).await;

    let (_emu, faults, dev) = setup(FaultKind::Delay(TIMEOUT / 6)).await;
    dev.sysinfo().await.expect("a delay under the timeout is no error");
    assert_eq!(dev.stats().retries, 0);
    assert_eq!(faults.injected(), 1);
}

#[tokio::test]
async fn no_reply_is_a_reply_timeout() {
    let (_emu, faults, dev) = setup(FaultKind::NoReply).await;
    let (e, _) = sysinfo_error(&dev).await;
    assert!(matches!(e, Error::Timeout { op: Op::Reply, .. }), "{e:?}");
    assert_eq!(e.to_string(), format!("{}: no reply within 300 ms", dev.addr()));
    all_attempts_used(&dev);
    recovers(&dev, &faults).await;
}

#[tokio::test]
async fn close_mid_frame_is_a_truncated_frame() {
    let (_emu, faults, dev) = setup(FaultKind::CloseMidFrame).await;
    let (e, _) = sysinfo_error(&dev).await;
    assert!(matches!(e, Error::Frame { error: FrameError::Truncated { .. }, .. }), "{e:?}");
    all_attempts_used(&dev);
    recovers(&dev, &faults).await;
}

#[tokio::test]
async fn replies_written_one_byte_at_a_time_are_reassembled() {
    let (emu, faults, dev) = setup(FaultKind::SplitWrites).await;
    let info = dev.sysinfo().await.expect("split replies are still replies");
    dev.set_power(false, None).await.expect("switch");
    assert_eq!(relays(&emu), vec![false]);
    assert!(info.model.starts_with("HS110"));
    let s = dev.stats();
    assert_eq!((s.retries, s.connections), (0, 1), "{s:?}");
    assert_eq!(faults.injected(), 2);
}

#[tokio::test]
async fn garbage_is_a_bad_reply_retried_then_reported() {
    let (_emu, faults, dev) = setup(FaultKind::Garbage).await;
    let (e, _) = sysinfo_error(&dev).await;
    assert!(matches!(e, Error::Reply { error: ResponseError::NotJson(_), .. }), "{e:?}");
    assert!(e.is_retryable());
    all_attempts_used(&dev);
    recovers(&dev, &faults).await;
}

#[tokio::test]
async fn a_length_prefix_shorter_than_the_payload_is_a_bad_reply_and_leftovers_are_never_taken_for_a_reply() {
    let (_emu, faults, dev) = setup(FaultKind::BadLength).await;
    let (e, _) = sysinfo_error(&dev).await;
    assert!(matches!(e, Error::Reply { error: ResponseError::NotJson(_), .. }), "{e:?}");
    all_attempts_used(&dev);
    // The rest of the last payload may still sit on a connection: the handle must not
    // read it as the next reply.
    recovers(&dev, &faults).await;
    dev.sysinfo().await.expect("second call after recovery");
}

#[tokio::test]
async fn a_huge_length_prefix_fails_at_once_as_too_large() {
    let (_emu, faults, dev) = setup(FaultKind::HugeLength).await;
    let (e, took) = sysinfo_error(&dev).await;
    match &e {
        Error::Frame { error: FrameError::TooLarge { announced, max }, .. } => {
            assert_eq!(*announced, HUGE_LENGTH as usize);
            assert_eq!(*max, dev.config().max_frame);
        }
        other => panic!("expected a too-large frame, got {other:?}"),
    }
    // Rejected from the header: no attempt waited for its timeout.
    assert!(took < TIMEOUT * (RETRIES + 1), "took {took:?}");
    all_attempts_used(&dev);
    recovers(&dev, &faults).await;
}

#[tokio::test]
async fn a_reply_to_another_request_is_detected_retried_and_never_applied() {
    let (emu, faults, dev) = setup(FaultKind::WrongReply).await;
    let (e, _) = sysinfo_error(&dev).await;
    match &e {
        Error::Reply { error: ResponseError::Missing(what), .. } => {
            assert!(what.contains("system"), "{what}");
            assert!(e.to_string().contains("answers another request"), "{e}");
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    all_attempts_used(&dev);

    // A switch answered with sysinfo: detected too, and the device did not switch.
    let before = relays(&emu);
    let e = dev.query(&Request::set_relay_state(!before[0])).await.expect_err("mismatch");
    assert!(
        matches!(&e, Error::Reply { error: ResponseError::Missing(w), .. } if w == "system.set_relay_state (the reply answers another request)"),
        "{e:?}"
    );
    assert_eq!(relays(&emu), before);

    recovers(&dev, &faults).await;
    dev.set_power(!before[0], None).await.expect("switch after recovery");
    assert_ne!(relays(&emu), before);
}

#[tokio::test]
async fn a_connection_reset_at_accept_fails_without_a_retry_storm() {
    let (_emu, faults, dev) = setup(FaultKind::Refuse).await;
    let (e, _) = sysinfo_error(&dev).await;
    assert!(
        matches!(&e, Error::Closed { .. } | Error::Refused { .. })
            || matches!(&e, Error::Io { error, .. } if error.kind() == std::io::ErrorKind::ConnectionReset),
        "{e:?}"
    );
    let s = dev.stats();
    // One connection per attempt, no more.
    assert!(s.connect_attempts <= u64::from(RETRIES) + 1, "{s:?}");
    assert!(s.attempts <= u64::from(RETRIES) + 1, "{s:?}");
    recovers(&dev, &faults).await;
}

#[tokio::test]
async fn a_connection_never_read_is_a_reply_timeout() {
    let (emu, faults, dev) = setup(FaultKind::AcceptNoRead).await;
    let (e, _) = sysinfo_error(&dev).await;
    // A stalled connection is held while the fault lasts, and closed when it stops (so
    // stalled connections never keep the device's connection limit full).
    let mut raw = tokio::net::TcpStream::connect(emu.addr()).await.expect("connect");
    assert!(matches!(e, Error::Timeout { op: Op::Reply, .. }), "{e:?}");
    all_attempts_used(&dev);
    recovers(&dev, &faults).await;
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(HANG_GUARD, tokio::io::AsyncReadExt::read(&mut raw, &mut buf))
        .await
        .expect("stalled connection still held after the fault stopped");
    assert!(matches!(n, Ok(0)), "{n:?}");
}

#[tokio::test]
async fn a_reboot_drops_the_request_and_the_device_comes_back_with_a_new_boot() {
    let (emu, faults, dev) = setup(FaultKind::Reboot).await;
    let (e, _) = sysinfo_error(&dev).await;
    assert!(e.is_retryable() || matches!(e, Error::Refused { .. }), "{e:?}");
    assert!(matches!(e, Error::Closed { .. } | Error::Io { .. } | Error::Timeout { .. }), "{e:?}");
    assert!(epoch(&emu) >= 1, "the device rebooted");
    // Back after its reboot time; a fresh client config with enough patience for it.
    faults.set_enabled(false);
    let patient = KasaDevice::new(
        emu.addr(),
        ClientConfig { retries: 10, backoff: REBOOT_TIME / 4, max_backoff: REBOOT_TIME / 2, ..client_cfg() },
    );
    patient.sysinfo().await.expect("device back after its reboot");
    recovers(&dev, &faults).await;
}

#[tokio::test]
async fn faults_at_a_rate_below_one_are_absorbed_by_retries_and_counted() {
    let spec: FaultSpec = "garbage:0.5".parse().expect("spec");
    let faults = Faults::new(vec![spec], 1234);
    let emu = emulator(faults.clone()).await;
    let dev = KasaDevice::new(emu.addr(), ClientConfig { retries: 8, ..client_cfg() });
    for _ in 0..20 {
        dev.sysinfo().await.expect("retries absorb a 50 % garbage rate");
    }
    let s = dev.stats();
    assert_eq!(s.requests, 20);
    assert!(s.retries > 0, "{s:?}");
    assert_eq!(s.retries, faults.injected(), "every garbled reply was retried once: {s:?}");
    assert_eq!(s.attempts, s.requests + s.retries, "{s:?}");
}

#[tokio::test]
async fn faults_switched_on_again_strike_again() {
    let (_emu, faults, dev) = setup(FaultKind::NoReply).await;
    faults.set_enabled(false);
    dev.sysinfo().await.expect("off");
    faults.set_enabled(true);
    let (e, _) = sysinfo_error(&dev).await;
    assert!(e.is_timeout(), "{e:?}");
    faults.stop_after(Duration::ZERO);
    dev.sysinfo().await.expect("stopped by the time limit");
}

#[tokio::test]
async fn udp_probe_fails_cleanly_under_faults_and_recovers() {
    use plugctl_client::kasa::{probe, DiscoveryConfig};
    for kind in [FaultKind::NoReply, FaultKind::Garbage, FaultKind::CloseMidFrame, FaultKind::WrongReply] {
        let faults = Faults::always(kind);
        let emu = emulator(faults.clone()).await;
        let cfg = DiscoveryConfig { timeout: TIMEOUT, packets: 2, ..DiscoveryConfig::default() };
        let start = Instant::now();
        let found = tokio::time::timeout(HANG_GUARD, probe(&[emu.addr()], cfg.clone())).await.expect("hung");
        let took = start.elapsed();
        // UDP phase, then the TCP fallback (one attempt per the discovery timeout).
        assert!(took < (TIMEOUT * 4 + contract_bound(&client_cfg())) * 2, "{kind}: took {took:?}");
        match &found[..] {
            [(_, Err(e))] => assert!(e.is_retryable() || matches!(e, Error::Reply { .. }), "{kind}: {e:?}"),
            other => panic!("{kind}: expected one failure, got {other:?}"),
        }
        faults.set_enabled(false);
        let found = tokio::time::timeout(HANG_GUARD, probe(&[emu.addr()], cfg)).await.expect("hung");
        assert!(matches!(&found[..], [(_, Ok(_))]), "{kind}: no recovery: {found:?}");
    }
}
