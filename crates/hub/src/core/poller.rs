//! One task per device: polls on its interval, executes switch commands between polls, keeps
//! availability (offline after failures, back-off while offline) and publishes events.

use std::{sync::Arc, time::Duration};

use plugctl_client::{device::State, hf::HfConfig, kasa::ClientConfig, ConnectOptions, Device, Family};
use tokio::{
    sync::{mpsc, oneshot},
    time::Instant,
};
use tracing::debug;

use super::registry::{Entry, Inner};
use crate::{
    events::HubEvent,
    hub::{HubError, SwitchAction},
    model::{now_ms, DeviceInfo, Reading},
};

/// Failed polls in a row after which a device is reported offline.
const OFFLINE_AFTER: u32 = 2;
/// Longest pause between polls of an offline device.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// First polls are spread over at most this long (within one interval), so thousands of
/// devices started together do not all poll in the same millisecond, every interval.
const MAX_SPREAD: Duration = Duration::from_secs(1);
/// Spread per device in the hub: a handful of devices poll at once, 10 000 over a second.
const SPREAD_PER_DEVICE: Duration = Duration::from_micros(100);

/// How long first polls are spread over in a hub of `devices`.
fn spread_for(devices: usize) -> Duration {
    SPREAD_PER_DEVICE.saturating_mul(u32::try_from(devices).unwrap_or(u32::MAX)).min(MAX_SPREAD)
}

/// When the first poll of a device is due: a fixed offset from `now` derived from its id,
/// uniform over `min(interval, spread)`. Pollers keep a fixed rate afterwards, so the phases
/// stay spread.
fn first_due(now: Instant, id: &str, interval: Duration, spread: Duration) -> Instant {
    // FNV-1a, then a 64-bit finaliser (murmur3's) so ids differing in their last characters
    // land far apart in the high bits too.
    let mut h =
        id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    let spread = interval.min(spread);
    let frac = (h >> 11) as f64 / (1u64 << 53) as f64;
    now + spread.mul_f64(frac)
}

/// When the poll after one due at `due` is due: a fixed rate while the device answers
/// (`due + interval`; when that is already past, the next slot of the same phase after now:
/// missed polls are skipped, not made up back to back, so phases stay spread and two polls
/// never land in the same millisecond), exponential back-off from now while it fails.
fn next_due(due: Instant, now: Instant, interval: Duration, ok: bool, failures: u32) -> Instant {
    if ok || failures == 0 {
        let next = due + interval;
        if next > now || interval.is_zero() {
            return next.max(now);
        }
        let behind = now.saturating_duration_since(due).as_nanos() / interval.as_nanos();
        let slots = u32::try_from(behind).unwrap_or(u32::MAX).saturating_add(1);
        interval.checked_mul(slots).map_or(now + interval, |d| due + d)
    } else {
        let factor = 1u32 << failures.min(6);
        now + (interval * factor).min(MAX_BACKOFF.max(interval))
    }
}

/// What the poller can be asked to do.
pub(crate) enum Command {
    /// Switch (and read the state back).
    Switch { action: SwitchAction, outlet: Option<usize>, reply: oneshot::Sender<Result<(), HubError>> },
    /// The address, family or interval changed: rebuild the connection, poll now.
    Refresh,
}

/// Connection options for a device entry.
fn connect_options(info: &DeviceInfo) -> ConnectOptions {
    let timeout = info.interval.clamp(Duration::from_secs(1), Duration::from_secs(5));
    let kasa = ClientConfig { timeout, retries: 1, ..ClientConfig::default() };
    let udp = info.udp_port.unwrap_or(plugctl_proto::hf::UDP_PORT);
    let hf = HfConfig { udp_port: udp, reply_port: udp, ..HfConfig::from_client(&kasa) };
    ConnectOptions { family: Some(info.family), port: Some(info.port), kasa, hf }
}

/// Runs until the command channel closes.
pub(crate) async fn run(inner: Arc<Inner>, entry: Arc<Entry>, mut rx: mpsc::Receiver<Command>) {
    let mut dev = connect(&entry.info()).await;
    let spread = spread_for(inner.fleet_size());
    let mut next = first_due(Instant::now(), entry.id().as_str(), entry.interval(), spread);
    let mut has_meter = true;
    loop {
        tokio::select! {
            cmd = rx.recv() => match cmd {
                None => break,
                Some(Command::Refresh) => {
                    dev.close().await;
                    dev = connect(&entry.info()).await;
                    has_meter = true;
                    next = Instant::now();
                }
                Some(Command::Switch { action, outlet, reply }) => {
                    let r = switch(&inner, &entry, &dev, action, outlet).await;
                    let _ = reply.send(r);
                }
            },
            _ = tokio::time::sleep_until(next) => {
                let started = Instant::now();
                inner.polls.started(started.saturating_duration_since(next));
                let ok = poll(&inner, &entry, &dev, &mut has_meter).await;
                let now = Instant::now();
                inner.polls.finished(ok, now.saturating_duration_since(started));
                next = next_due(next, now, entry.interval(), ok, entry.consecutive_failures());
            }
        }
    }
    dev.close().await;
}

async fn connect(info: &DeviceInfo) -> Device {
    // The family is known, so this does not touch the network.
    match Device::connect(info.host, &connect_options(info)).await {
        Ok(d) => d,
        Err(_) => {
            let o = connect_options(info);
            match info.family {
                Family::Kasa => Device::Kasa(plugctl_client::kasa::KasaDevice::new(
                    std::net::SocketAddr::new(info.host, info.port),
                    o.kasa,
                )),
                Family::Hf => Device::Hf(plugctl_client::hf::HfDevice::new(
                    info.host,
                    HfConfig { control_port: info.port, ..o.hf },
                )),
            }
        }
    }
}

/// One poll: state (and energy where there is a meter). Returns success.
async fn poll(inner: &Inner, entry: &Entry, dev: &Device, has_meter: &mut bool) -> bool {
    let started = Instant::now();
    if let Device::Kasa(k) = dev {
        match poll_kasa_batched(k, has_meter).await {
            Ok(Some((state, sw_version, mut reading))) => {
                reading.latency_ms = started.elapsed().as_secs_f64() * 1000.0;
                inner.observe(entry, &state, sw_version, reading);
                return true;
            }
            Ok(None) => {} // a strip: per-outlet meters need one request per outlet
            Err(e) => {
                failed(inner, entry, e.to_string());
                return false;
            }
        }
    }
    let state = match dev.state(None).await {
        Ok(s) => s,
        Err(e) => {
            failed(inner, entry, e.to_string());
            return false;
        }
    };
    let mut reading = reading_of(&state);
    if *has_meter {
        match dev.energy(None).await {
            Ok(e) => {
                reading.power_w = Some(e.power_w);
                reading.voltage_v = Some(e.voltage_v);
                reading.current_a = Some(e.current_a);
                reading.total_kwh = Some(e.total_kwh);
            }
            Err(plugctl_client::Error::Unsupported { .. }) => *has_meter = false,
            Err(plugctl_client::Error::Device { error, .. })
                if error.kind() == plugctl_proto::kasa::DeviceErrorKind::ModuleNotSupported =>
            {
                *has_meter = false
            }
            Err(e) => {
                failed(inner, entry, e.to_string());
                return false;
            }
        }
    }
    // Hi-Flying plugs have no version command on the control port: no firmware version.
    let mut sw_version = None;
    if let Device::Kasa(k) = dev {
        let si = k.last_sysinfo();
        reading.rssi = si.as_ref().and_then(|s| s.rssi);
        sw_version = si.as_ref().and_then(|s| firmware(&s.sw_ver));
    }
    reading.latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    inner.observe(entry, &state, sw_version, reading);
    true
}

/// The firmware version of a Kasa sysinfo `sw_ver` (`None` when empty).
fn firmware(sw_ver: &str) -> Option<String> {
    let v = sw_ver.trim();
    (!v.is_empty()).then(|| v.to_string())
}

/// A single-outlet Kasa plug in one request: `system.get_sysinfo` and, where there is a
/// meter, `emeter.get_realtime`; with the firmware version. `None` for a strip (its outlets' meters need a context each).
async fn poll_kasa_batched(
    k: &plugctl_client::kasa::KasaDevice,
    has_meter: &mut bool,
) -> Result<Option<(State, Option<String>, Reading)>, plugctl_client::Error> {
    use plugctl_client::kasa::{DeviceErrorKind, EmeterReading, Request, ResponseError, SysInfo};
    let mut req = Request::get_sysinfo();
    if *has_meter {
        req = req.with("emeter", "get_realtime", serde_json::json!({}));
    }
    let addr = k.addr();
    let resp = k.query(&req).await?;
    let si = SysInfo::from_response(&resp).map_err(|e| plugctl_client::Error::from_response(addr, e))?;
    if !si.children.is_empty() {
        return Ok(None);
    }
    let state = State::from_kasa(addr, &si, None)?;
    let mut reading = reading_of(&state);
    reading.rssi = si.rssi;
    if *has_meter {
        match resp.result("emeter", "get_realtime") {
            Ok(m) => {
                let e =
                    EmeterReading::from_map(m).map_err(|e| plugctl_client::Error::from_response(addr, e))?;
                reading.power_w = Some(e.power_w);
                reading.voltage_v = Some(e.voltage_v);
                reading.current_a = Some(e.current_a);
                reading.total_kwh = Some(e.total_kwh);
            }
            Err(ResponseError::Device(d)) if d.kind() == DeviceErrorKind::ModuleNotSupported => {
                *has_meter = false
            }
            Err(_) if !si.has_emeter() => *has_meter = false,
            Err(e) => return Err(plugctl_client::Error::from_response(addr, e)),
        }
    }
    Ok(Some((state, firmware(&si.sw_ver), reading)))
}

fn reading_of(s: &State) -> Reading {
    Reading {
        at_ms: now_ms(),
        on: s.on,
        outlets_on: s.children.iter().map(|c| c.on).collect(),
        power_w: None,
        voltage_v: None,
        current_a: None,
        total_kwh: None,
        rssi: None,
        latency_ms: 0.0,
    }
}

fn failed(inner: &Inner, entry: &Entry, error: String) {
    debug!(id = %entry.id(), %error, "poll failed");
    inner.poll_failed(entry, error, OFFLINE_AFTER);
}

async fn switch(
    inner: &Inner,
    entry: &Entry,
    dev: &Device,
    action: SwitchAction,
    outlet: Option<usize>,
) -> Result<(), HubError> {
    let info = entry.info();
    let child = match outlet {
        None => None,
        Some(i) => Some(
            info.outlets
                .get(i)
                .map(|o| o.id.clone())
                .ok_or_else(|| HubError::Invalid(format!("{} has no outlet {i}", info.name)))?,
        ),
    };
    let result = match action {
        SwitchAction::On => dev.set_power(true, child.as_deref()).await,
        SwitchAction::Off => dev.set_power(false, child.as_deref()).await,
        SwitchAction::Toggle => dev.toggle(child.as_deref()).await.map(|_| ()),
    };
    if let Err(e) = result {
        let msg = e.to_string();
        inner.publish(HubEvent::Error {
            id: Some(entry.id()),
            message: format!("switching failed: {msg}"),
            at_ms: now_ms(),
        });
        failed(inner, entry, msg.clone());
        return Err(HubError::Device(msg));
    }
    // Answer from the device, never a guess.
    let mut has_meter = entry.reading().is_some_and(|r| r.power_w.is_some());
    if poll(inner, entry, dev, &mut has_meter).await {
        Ok(())
    } else {
        Err(HubError::Device(
            entry.availability().last_error.unwrap_or_else(|| "no answer after switching".into()),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_polls_spread_within_the_interval() {
        let now = Instant::now();
        let interval = Duration::from_secs(1);
        let offsets: Vec<Duration> = (0..1000)
            .map(|i| first_due(now, &format!("kasa-{i:040X}"), interval, MAX_SPREAD) - now)
            .collect();
        assert!(offsets.iter().all(|o| *o < interval));
        // Roughly uniform: every tenth of the interval gets some.
        for tenth in 0..10 {
            let lo = interval.mul_f64(f64::from(tenth) / 10.0);
            let hi = interval.mul_f64(f64::from(tenth + 1) / 10.0);
            let n = offsets.iter().filter(|o| **o >= lo && **o < hi).count();
            assert!((50..=150).contains(&n), "tenth {tenth}: {n}");
        }
        let long = first_due(now, "kasa-X", Duration::from_secs(3600), MAX_SPREAD) - now;
        assert!(long < MAX_SPREAD);
        assert_eq!(spread_for(10_000), MAX_SPREAD);
        assert!(spread_for(2) <= Duration::from_millis(1), "a small hub polls at once");
    }

    #[test]
    fn fixed_rate_without_catching_up_and_back_off_on_failure() {
        let t = Instant::now();
        let s = Duration::from_secs(1);
        assert_eq!(next_due(t, t + Duration::from_millis(30), s, true, 0), t + s);
        // Late: the next slot of the same phase, never now.
        assert_eq!(next_due(t, t + Duration::from_millis(1500), s, true, 0), t + 2 * s);
        assert_eq!(next_due(t, t + 2 * s, s, true, 0), t + 3 * s);
        assert_eq!(next_due(t, t, s, false, 2), t + 4 * s);
        assert_eq!(next_due(t, t, s, false, 30), t + MAX_BACKOFF);
    }
}
