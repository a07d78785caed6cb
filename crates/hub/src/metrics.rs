//! Prometheus metrics (`GET /metrics`, text exposition format 0.0.4).
//!
//! Every series is labelled `id`, `name` and `family` (label values escaped):
//!
//! | metric | type | from |
//! |---|---|---|
//! | `plugctl_up` | gauge | 1 if the last poll reached the device |
//! | `plugctl_relay_on{outlet}` | gauge | relay state per outlet (`0` for single plugs) |
//! | `plugctl_power_watts`, `plugctl_voltage_volts`, `plugctl_current_amperes` | gauge | last reading (metered devices, online only) |
//! | `plugctl_rssi_dbm` | gauge | Wi-Fi signal (online only) |
//! | `plugctl_energy_kwh_total` | counter | the device's energy counter made monotonic: its increases are summed and a device-side reset (reboot, erase) adds the new value instead of going down |
//! | `plugctl_poll_duration_seconds` | histogram | latency of successful polls |
//! | `plugctl_poll_errors_total` | counter | failed polls |
//!
//! Hub-wide series (no labels):
//!
//! | metric | type | from |
//! |---|---|---|
//! | `plugctl_poll_lag_seconds` | histogram | how late polls started against their schedule ([`PollStats`]) |
//! | `plugctl_polls_total{result}` | counter | polls, `ok` or `failed` |
//! | `plugctl_store_samples_total{outcome}` | counter | samples `committed`, `ignored` or `dropped` by the store |
//! | `plugctl_store_commits_total` | counter | store transactions |
//! | `plugctl_store_queue_rows` | gauge | rows waiting to be written |
//!
//! Counters and the histogram are maintained from the event bus
//! ([`Hub::events`](crate::Hub::events)); failed polls are counted from `Offline` events and
//! the growth of each device's `consecutive_failures` (checked every second and at every
//! scrape). Gauges come from the registry at scrape time, so they are never stale.

use std::{
    collections::HashMap,
    fmt::Write as _,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use tokio::sync::broadcast::error::RecvError;

use crate::{
    events::HubEvent,
    model::{DeviceId, DeviceView},
    Hub,
};

pub use crate::core::poll_stats::{DurationHistogram, PollStats};

/// The media type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds of the poll lag histogram, seconds. A lag counts toward a bound when the
/// fine bucket it was recorded in (at most 12.5 % wide) lies at or below it.
pub const LAG_BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

/// Upper bounds of the poll latency histogram, seconds.
pub const LATENCY_BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, v: f64) {
        if !v.is_finite() || v < 0.0 {
            return;
        }
        for (i, le) in LATENCY_BUCKETS.iter().enumerate() {
            if v <= *le {
                self.buckets[i] += 1;
            }
        }
        self.count += 1;
        self.sum += v;
    }
}

#[derive(Debug, Default, Clone)]
struct DevStats {
    latency: Histogram,
    poll_errors: u64,
    /// Failures of the current failure run already counted.
    counted_failures: u32,
    /// The device counter at the last sample, kWh.
    last_device_kwh: Option<f64>,
    /// The monotonic total, kWh.
    energy_kwh: f64,
}

#[derive(Debug, Default)]
struct State {
    devices: HashMap<DeviceId, DevStats>,
}

impl State {
    fn observe(&mut self, e: &HubEvent) {
        match e {
            HubEvent::Sample { id, reading } => {
                // The hot path (one sample per poll): no key copy for a known device.
                let d = match self.devices.get_mut(id) {
                    Some(d) => d,
                    None => self.devices.entry(id.clone()).or_default(),
                };
                d.latency.observe(reading.latency_ms / 1000.0);
                d.counted_failures = 0;
                if let Some(kwh) = reading.total_kwh.filter(|v| v.is_finite() && *v >= 0.0) {
                    match d.last_device_kwh {
                        None => d.energy_kwh = kwh,
                        Some(prev) if kwh >= prev => d.energy_kwh += kwh - prev,
                        // The device counter went back (reboot or erase): it counts anew.
                        Some(_) => d.energy_kwh += kwh,
                    }
                    d.last_device_kwh = Some(kwh);
                }
            }
            HubEvent::Offline { id, .. } => {
                let d = self.devices.entry(id.clone()).or_default();
                if d.counted_failures == 0 {
                    d.poll_errors += 1;
                    d.counted_failures = 1;
                }
            }
            HubEvent::DeviceRemoved { id } => {
                self.devices.remove(id);
            }
            _ => {}
        }
    }

    /// Counts failures from the registry's `consecutive_failures`.
    fn reconcile(&mut self, views: &[DeviceView]) {
        for v in views {
            let cf = v.availability.consecutive_failures;
            let d = self.devices.entry(v.info.id.clone()).or_default();
            if cf < d.counted_failures {
                d.counted_failures = 0;
            }
            if cf > d.counted_failures {
                d.poll_errors += u64::from(cf - d.counted_failures);
                d.counted_failures = cf;
            }
        }
    }
}

/// The metrics of one hub. Dropping it stops its event listener.
#[derive(Debug)]
pub struct Metrics {
    state: Arc<Mutex<State>>,
    task: Option<tokio::task::AbortHandle>,
}

impl Drop for Metrics {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

impl Metrics {
    /// Starts listening to the hub's events (inside a tokio runtime; outside one, only what the
    /// registry knows at scrape time is exported).
    pub fn start(hub: &Hub) -> Metrics {
        let state = Arc::new(Mutex::new(State::default()));
        let task = tokio::runtime::Handle::try_current().ok().map(|rt| {
            let mut rx = hub.events().subscribe();
            let st = state.clone();
            let hub = hub.clone();
            rt.spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tokio::select! {
                        r = rx.recv() => match r {
                            Ok(e) => st.lock().unwrap_or_else(PoisonError::into_inner).observe(&e),
                            Err(RecvError::Lagged(n)) => tracing::debug!("metrics lagged behind the event bus by {n} events"),
                            Err(RecvError::Closed) => break,
                        },
                        _ = tick.tick() => {
                            let views = hub.devices();
                            st.lock().unwrap_or_else(PoisonError::into_inner).reconcile(&views);
                        }
                    }
                }
            })
            .abort_handle()
        });
        Metrics { state, task }
    }

    /// Applies one event (the listener does this for every event on the bus).
    pub fn observe(&self, e: &HubEvent) {
        self.lock().observe(e);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The exposition text.
    pub fn render(&self, hub: &Hub) -> String {
        let views = hub.devices();
        let stats = {
            let mut st = self.lock();
            st.reconcile(&views);
            views.iter().map(|v| st.devices.get(&v.info.id).cloned().unwrap_or_default()).collect::<Vec<_>>()
        };
        let mut out = render(&views, &stats);
        render_hub(&mut out, &hub.poll_stats(), &hub.store().writer_stats());
        out
    }
}

/// The hub-wide series: poll lag, poll counts, store counters.
fn render_hub(out: &mut String, polls: &PollStats, store: &crate::store::WriterStats) {
    header(
        out,
        "plugctl_poll_lag_seconds",
        "histogram",
        "How late polls started against their schedule, seconds.",
    );
    for le in LAG_BUCKETS {
        let n = polls.lag.count_at_most(Duration::from_secs_f64(le));
        let _ = writeln!(out, "plugctl_poll_lag_seconds_bucket{{le=\"{}\"}} {n}", num(le));
    }
    let _ = writeln!(out, "plugctl_poll_lag_seconds_bucket{{le=\"+Inf\"}} {}", polls.lag.count());
    let _ = writeln!(out, "plugctl_poll_lag_seconds_sum {}", num(polls.lag.sum().as_secs_f64()));
    let _ = writeln!(out, "plugctl_poll_lag_seconds_count {}", polls.lag.count());

    header(out, "plugctl_polls_total", "counter", "Polls of every device, by result.");
    let _ = writeln!(out, "plugctl_polls_total{{result=\"ok\"}} {}", polls.ok);
    let _ = writeln!(out, "plugctl_polls_total{{result=\"failed\"}} {}", polls.failed);

    header(out, "plugctl_store_samples_total", "counter", "Samples the store committed, ignored or dropped.");
    for (outcome, n) in [
        ("committed", store.committed_samples),
        ("ignored", store.ignored_samples),
        ("dropped", store.dropped_samples),
    ] {
        let _ = writeln!(out, "plugctl_store_samples_total{{outcome=\"{outcome}\"}} {n}");
    }
    header(out, "plugctl_store_commits_total", "counter", "Store transactions committed.");
    let _ = writeln!(out, "plugctl_store_commits_total {}", store.commits);
    header(out, "plugctl_store_queue_rows", "gauge", "Rows waiting to be written to the store.");
    let _ = writeln!(out, "plugctl_store_queue_rows {}", store.queued);
}

/// Escapes a label value (`\`, `"`, newline).
pub fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A sample value as the format wants it.
fn num(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

fn labels(v: &DeviceView) -> String {
    format!(
        "id=\"{}\",name=\"{}\",family=\"{}\"",
        escape_label(v.info.id.as_str()),
        escape_label(&v.info.name),
        v.info.family.as_str()
    )
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn gauge(
    out: &mut String,
    views: &[DeviceView],
    name: &str,
    help: &str,
    value: impl Fn(&DeviceView) -> Option<f64>,
) {
    header(out, name, "gauge", help);
    for v in views {
        if let Some(x) = value(v) {
            let _ = writeln!(out, "{name}{{{}}} {}", labels(v), num(x));
        }
    }
}

/// The reading of an online device.
fn live(v: &DeviceView) -> Option<&crate::model::Reading> {
    v.availability.online.then_some(v.reading.as_ref()).flatten()
}

fn render(views: &[DeviceView], stats: &[DevStats]) -> String {
    let mut out = String::with_capacity(256 + views.len() * 1024);
    gauge(
        &mut out,
        views,
        "plugctl_up",
        "Whether the hub reached the device at its last poll (1) or not (0).",
        |v| Some(if v.availability.online { 1.0 } else { 0.0 }),
    );

    header(
        &mut out,
        "plugctl_relay_on",
        "gauge",
        "Relay state per outlet (1 on, 0 off); outlet 0 for single plugs.",
    );
    for v in views {
        let Some(r) = live(v) else { continue };
        let l = labels(v);
        if r.outlets_on.is_empty() {
            let _ = writeln!(out, "plugctl_relay_on{{{l},outlet=\"0\"}} {}", u8::from(r.on));
        } else {
            for (i, on) in r.outlets_on.iter().enumerate() {
                let _ = writeln!(out, "plugctl_relay_on{{{l},outlet=\"{i}\"}} {}", u8::from(*on));
            }
        }
    }

    gauge(&mut out, views, "plugctl_power_watts", "Active power, W.", |v| live(v).and_then(|r| r.power_w));
    gauge(&mut out, views, "plugctl_voltage_volts", "Voltage, V.", |v| live(v).and_then(|r| r.voltage_v));
    gauge(&mut out, views, "plugctl_current_amperes", "Current, A.", |v| live(v).and_then(|r| r.current_a));
    gauge(&mut out, views, "plugctl_rssi_dbm", "Wi-Fi signal strength, dBm.", |v| {
        live(v).and_then(|r| r.rssi).map(|x| x as f64)
    });

    header(
        &mut out,
        "plugctl_energy_kwh_total",
        "counter",
        "Energy used, kWh, from the device's counter (device-side resets do not make it go down).",
    );
    for (v, s) in views.iter().zip(stats) {
        if s.last_device_kwh.is_some() {
            let _ = writeln!(out, "plugctl_energy_kwh_total{{{}}} {}", labels(v), num(s.energy_kwh));
        }
    }

    header(&mut out, "plugctl_poll_duration_seconds", "histogram", "Latency of successful polls, seconds.");
    for (v, s) in views.iter().zip(stats) {
        let l = labels(v);
        let h = &s.latency;
        for (le, n) in LATENCY_BUCKETS.iter().zip(h.buckets) {
            let _ = writeln!(out, "plugctl_poll_duration_seconds_bucket{{{l},le=\"{}\"}} {n}", num(*le));
        }
        let _ = writeln!(out, "plugctl_poll_duration_seconds_bucket{{{l},le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "plugctl_poll_duration_seconds_sum{{{l}}} {}", num(h.sum));
        let _ = writeln!(out, "plugctl_poll_duration_seconds_count{{{l}}} {}", h.count);
    }

    header(&mut out, "plugctl_poll_errors_total", "counter", "Failed polls.");
    for (v, s) in views.iter().zip(stats) {
        let _ = writeln!(out, "plugctl_poll_errors_total{{{}}} {}", labels(v), s.poll_errors);
    }

    header(&mut out, "plugctl_devices", "gauge", "Devices in the registry.");
    let _ = writeln!(out, "plugctl_devices {}", views.len());
    out
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use plugctl_client::Family;

    use super::*;
    use crate::model::{Availability, DeviceInfo, Reading, Source};

    fn view(id: &str, name: &str, online: bool, cf: u32) -> DeviceView {
        DeviceView {
            info: DeviceInfo {
                id: DeviceId(id.into()),
                family: Family::Kasa,
                host: IpAddr::from([127, 0, 0, 2]),
                port: 9999,
                udp_port: None,
                name: name.into(),
                room: None,
                tags: vec![],
                model: "HS110(EU)".into(),
                mac: "50:C7:BF:00:00:01".into(),
                sw_version: None,
                outlets: vec![],
                interval: Duration::from_secs(1),
                cloud_free: false,
                source: Source::Config,
            },
            reading: Some(reading(1.5)),
            availability: Availability { online, since_ms: 0, consecutive_failures: cf, last_error: None },
        }
    }

    fn reading(kwh: f64) -> Reading {
        Reading {
            at_ms: 0,
            on: true,
            outlets_on: vec![],
            power_w: Some(61.7),
            voltage_v: Some(230.1),
            current_a: Some(0.27),
            total_kwh: Some(kwh),
            rssi: Some(-55),
            latency_ms: 12.0,
        }
    }

    #[test]
    fn energy_counter_is_monotonic_across_resets() {
        let mut st = State::default();
        let id = DeviceId("kasa-X".into());
        for kwh in [10.0, 10.5, 0.2, 0.4] {
            st.observe(&HubEvent::Sample { id: id.clone(), reading: reading(kwh) });
        }
        let e = st.devices[&id].energy_kwh;
        assert!((e - 10.9).abs() < 1e-9, "{e}");
    }

    #[test]
    fn poll_errors_count_failure_runs() {
        let mut st = State::default();
        let id = DeviceId("kasa-X".into());
        st.observe(&HubEvent::Offline { id: id.clone(), error: "timeout".into(), at_ms: 0 });
        st.reconcile(&[view("kasa-X", "a", false, 3)]);
        assert_eq!(st.devices[&id].poll_errors, 3);
        st.observe(&HubEvent::Sample { id: id.clone(), reading: reading(1.0) });
        st.reconcile(&[view("kasa-X", "a", true, 0)]);
        st.reconcile(&[view("kasa-X", "a", true, 1)]);
        assert_eq!(st.devices[&id].poll_errors, 4);
    }

    #[test]
    fn labels_are_escaped_and_offline_devices_export_only_up() {
        let views = vec![view("kasa-A", "Kitchen \"kettle\"\\\nnew", true, 0), view("kasa-B", "b", false, 2)];
        let text = render(&views, &[DevStats::default(), DevStats::default()]);
        assert!(text.contains(r#"name="Kitchen \"kettle\"\\\nnew""#), "{text}");
        assert!(text.contains(r#"plugctl_up{id="kasa-B",name="b",family="kasa"} 0"#), "{text}");
        assert!(!text.contains(r#"plugctl_power_watts{id="kasa-B""#), "{text}");
        assert!(text.contains(r#"plugctl_power_watts{id="kasa-A""#), "{text}");
    }
}
