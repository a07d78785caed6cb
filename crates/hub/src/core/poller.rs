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
    let mut next = Instant::now();
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
                let ok = poll(&inner, &entry, &dev, &mut has_meter).await;
                let info = entry.info();
                let failures = entry.availability().consecutive_failures;
                let pause = if ok || failures == 0 {
                    info.interval
                } else {
                    let factor = 1u32 << failures.min(6);
                    (info.interval * factor).min(MAX_BACKOFF.max(info.interval))
                };
                next = Instant::now() + pause;
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
