//! The bridge's task: one MQTT connection, the hub's event bus in, retained topics out.

use std::{
    collections::{BTreeMap, HashMap},
    time::Duration,
};

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::sync::{broadcast::error::RecvError, oneshot};
use tracing::{debug, info, warn};

use super::{
    discovery::{self, device_slug, on_off, outlet_slug},
    Settings, Topics,
};
use crate::{
    events::HubEvent,
    model::{now_ms, DeviceId, DeviceView},
    Hub, SwitchAction,
};

/// Requests queued for the connection (QoS 1 publishes wait here while in flight).
const QUEUE: usize = 65_536;

struct Bridge {
    hub: Hub,
    topics: Topics,
    client: AsyncClient,
    connected: bool,
    /// Discovery messages published per device (topic → payload).
    published: HashMap<DeviceId, BTreeMap<String, String>>,
    /// Topic slug → device and outlet, for `set`.
    targets: HashMap<String, (DeviceId, Option<usize>)>,
}

pub(super) async fn run(hub: Hub, s: Settings, options: MqttOptions, mut stop: oneshot::Receiver<()>) {
    let (client, mut eventloop) = AsyncClient::new(options, QUEUE);
    let mut events = hub.events().subscribe();
    let mut b = Bridge {
        hub,
        topics: s.topics.clone(),
        client,
        connected: false,
        published: HashMap::new(),
        targets: HashMap::new(),
    };
    let mut backoff = s.reconnect_min;
    // The last connection error reported as a hub event (each distinct error once).
    let mut reported: Option<String> = None;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            ev = eventloop.poll() => match ev {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    info!(broker = %format!("{}:{}", s.host, s.port), "mqtt connected");
                    b.connected = true;
                    reported = None;
                    backoff = s.reconnect_min;
                    b.on_connect();
                }
                Ok(Event::Incoming(Packet::Publish(p))) => b.on_message(&p.topic, &p.payload),
                Ok(_) => {}
                Err(e) => {
                    if b.connected {
                        warn!(error = %e, "mqtt connection lost; reconnecting");
                    } else {
                        let error = e.to_string();
                        if reported.as_deref() == Some(error.as_str()) {
                            debug!(%error, ?backoff, "mqtt connect failed");
                        } else {
                            let message = format!(
                                "mqtt: cannot connect to {}://{}:{}: {error}",
                                if s.tls { "mqtts" } else { "mqtt" },
                                s.host,
                                s.port
                            );
                            warn!("{message}");
                            b.hub.events().publish(HubEvent::Error { id: None, message, at_ms: now_ms() });
                            reported = Some(error);
                        }
                    }
                    b.connected = false;
                    tokio::select! {
                        _ = &mut stop => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(s.reconnect_max);
                }
            },
            e = events.recv() => match e {
                Ok(e) => b.on_event(e),
                Err(RecvError::Lagged(_)) => {
                    if b.connected {
                        b.publish_all(false);
                    }
                }
                Err(RecvError::Closed) => break,
            },
        }
    }
    // Clean stop: `offline`, then DISCONNECT, flushed with a bound.
    if b.connected {
        b.publish(&b.topics.bridge_state(), "offline", true);
        let _ = b.client.try_disconnect();
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Ok(ev) = eventloop.poll().await {
                if matches!(ev, Event::Outgoing(rumqttc::Outgoing::Disconnect)) {
                    break;
                }
            }
        })
        .await;
    }
}

impl Bridge {
    fn publish(&self, topic: &str, payload: &str, retain: bool) {
        if let Err(e) = self.client.try_publish(topic, QoS::AtLeastOnce, retain, payload.as_bytes().to_vec())
        {
            warn!(%topic, error = %e, "mqtt publish dropped");
        }
    }

    fn on_connect(&mut self) {
        let t = &self.topics;
        for f in [t.set_filter(), t.ha_status()] {
            if let Err(e) = self.client.try_subscribe(f, QoS::AtLeastOnce) {
                warn!(error = %e, "mqtt subscribe failed");
            }
        }
        self.publish(&self.topics.bridge_state(), "online", true);
        self.publish_all(true);
    }

    /// Discovery (all of it when `force`, else what changed), then states, attributes and
    /// availability of every device.
    fn publish_all(&mut self, force: bool) {
        let devices = self.hub.devices();
        let gone: Vec<DeviceId> =
            self.published.keys().filter(|id| !devices.iter().any(|d| &d.info.id == *id)).cloned().collect();
        for id in gone {
            self.remove(&id);
        }
        for v in &devices {
            self.sync_discovery(v, force);
            self.publish_device(v);
        }
    }

    fn sync_discovery(&mut self, v: &DeviceView, force: bool) {
        let desired: BTreeMap<String, String> = discovery::configs(v, &self.topics).into_iter().collect();
        let old = self.published.remove(&v.info.id).unwrap_or_default();
        if self.connected {
            for topic in old.keys().filter(|t| !desired.contains_key(*t)) {
                self.publish(topic, "", true);
            }
            for (topic, payload) in &desired {
                if force || old.get(topic) != Some(payload) {
                    self.publish(topic, payload, true);
                }
            }
            self.published.insert(v.info.id.clone(), desired);
        } else if !old.is_empty() {
            self.published.insert(v.info.id.clone(), old);
        }
        self.targets.insert(device_slug(&v.info.id), (v.info.id.clone(), None));
        for o in &v.info.outlets {
            self.targets.insert(outlet_slug(&v.info.id, o.index), (v.info.id.clone(), Some(o.index)));
        }
    }

    /// State, attributes and availability of a device and its outlets.
    fn publish_device(&self, v: &DeviceView) {
        if !self.connected {
            return;
        }
        let slug = device_slug(&v.info.id);
        let avail = if v.availability.online { "online" } else { "offline" };
        self.publish(&self.topics.device(&slug, "availability"), avail, true);
        for o in &v.info.outlets {
            self.publish(&self.topics.device(&outlet_slug(&v.info.id, o.index), "availability"), avail, true);
        }
        let Some(r) = &v.reading else { return };
        self.publish(&self.topics.device(&slug, "state"), on_off(r.on), true);
        for (i, on) in r.outlets_on.iter().enumerate() {
            self.publish(&self.topics.device(&outlet_slug(&v.info.id, i), "state"), on_off(*on), true);
        }
        let today = self
            .hub
            .store()
            .energy_totals(&v.info.id, now_ms())
            .ok()
            .map(|e| e.today_kwh)
            .filter(|_| r.total_kwh.is_some());
        self.publish(&self.topics.device(&slug, "attributes"), &discovery::attributes(v, today), true);
    }

    /// Empty retained discovery configs and states for a device that left the registry.
    fn remove(&mut self, id: &DeviceId) {
        let old = self.published.remove(id).unwrap_or_default();
        let slugs: Vec<String> =
            self.targets.iter().filter(|(_, (d, _))| d == id).map(|(s, _)| s.clone()).collect();
        for s in &slugs {
            self.targets.remove(s);
        }
        if !self.connected {
            return;
        }
        for topic in old.keys() {
            self.publish(topic, "", true);
        }
        for s in &slugs {
            for leaf in ["state", "attributes", "availability"] {
                self.publish(&self.topics.device(s, leaf), "", true);
            }
        }
    }

    fn on_event(&mut self, e: HubEvent) {
        match e {
            HubEvent::DeviceRemoved { id } => self.remove(&id),
            HubEvent::DeviceAdded { id } | HubEvent::DeviceUpdated { id } => {
                if let Some(v) = self.hub.device(&id) {
                    self.sync_discovery(&v, false);
                    self.publish_device(&v);
                }
            }
            HubEvent::Sample { id, .. } | HubEvent::Online { id, .. } | HubEvent::Offline { id, .. } => {
                if let Some(v) = self.hub.device(&id) {
                    // The first reading reveals the meter and RSSI sensors; outlets may appear.
                    self.sync_discovery(&v, false);
                    self.publish_device(&v);
                }
            }
            HubEvent::StateChanged { id, outlet, on, .. } => {
                if !self.connected {
                    return;
                }
                match outlet {
                    None => self.publish(&self.topics.device(&device_slug(&id), "state"), on_off(on), true),
                    Some(i) => {
                        self.publish(&self.topics.device(&outlet_slug(&id, i), "state"), on_off(on), true);
                        if let Some(r) = self.hub.device(&id).and_then(|v| v.reading) {
                            let mut outlets = r.outlets_on.clone();
                            if let Some(o) = outlets.get_mut(i) {
                                *o = on;
                            }
                            let any = outlets.iter().any(|o| *o);
                            self.publish(&self.topics.device(&device_slug(&id), "state"), on_off(any), true);
                        }
                    }
                }
            }
            HubEvent::Error { .. } => {}
        }
    }

    fn on_message(&mut self, topic: &str, payload: &[u8]) {
        let text = String::from_utf8_lossy(payload).trim().to_string();
        if topic == self.topics.ha_status() {
            if text.eq_ignore_ascii_case("online") {
                info!("home assistant is online; publishing discovery again");
                self.publish_all(true);
            }
            return;
        }
        let Some(slug) = topic
            .strip_prefix(&format!("{}/", self.topics.base))
            .and_then(|rest| rest.strip_suffix("/set"))
            .filter(|s| !s.contains('/'))
        else {
            return;
        };
        let target = self.targets.get(slug).cloned();
        let action = match text.to_ascii_uppercase().as_str() {
            "ON" => Some(SwitchAction::On),
            "OFF" => Some(SwitchAction::Off),
            "TOGGLE" => Some(SwitchAction::Toggle),
            _ => None,
        };
        let hub = self.hub.clone();
        let client = self.client.clone();
        let topics = self.topics.clone();
        let slug = slug.to_string();
        tokio::spawn(async move {
            let result = match (&target, action) {
                (None, _) => Err(format!("no device {slug}")),
                (_, None) => Err(format!("unknown command {text:?} (ON, OFF or TOGGLE)")),
                (Some((id, outlet)), Some(a)) => {
                    hub.switch(id, a, *outlet).await.map(|v| (v, *outlet)).map_err(|e| e.to_string())
                }
            };
            let publish = |topic: String, payload: String, retain: bool| {
                if let Err(e) = client.try_publish(topic, QoS::AtLeastOnce, retain, payload.into_bytes()) {
                    warn!(error = %e, "mqtt publish dropped");
                }
            };
            match result {
                Ok((v, outlet)) => {
                    if let Some(r) = &v.reading {
                        let on = match outlet {
                            Some(i) => r.outlets_on.get(i).copied().unwrap_or(r.on),
                            None => r.on,
                        };
                        publish(topics.device(&slug, "state"), on_off(on).into(), true);
                    }
                }
                Err(error) => {
                    let at_ms = now_ms();
                    let message =
                        format!("mqtt command {text:?} on {} failed: {error}", topics.device(&slug, "set"));
                    warn!("{message}");
                    hub.events().publish(HubEvent::Error {
                        id: target.as_ref().map(|(id, _)| id.clone()),
                        message,
                        at_ms,
                    });
                    let body = serde_json::json!({ "command": text, "error": error, "at_ms": at_ms });
                    publish(topics.device(&slug, "error"), body.to_string(), false);
                }
            }
        });
    }
}
