//! The MQTT bridge with Home Assistant discovery (an extension: it starts and stops on its
//! own over the hub's event bus and registry).
//!
//! Topics (`<base>` is `plugctl` unless configured; `<device>` is the device id as a slug,
//! e.g. `kasa-8006…`, and a strip outlet is its own device `<device>-outlet-<n>`, `n` 0-based
//! as in the API):
//!
//! | topic | direction | payload |
//! |---|---|---|
//! | `<base>/bridge/state` | out, retained | `online` on connect; `offline` as last will and on a clean stop |
//! | `<base>/<device>/state` | out, retained | `ON` / `OFF` (a strip: any outlet on) |
//! | `<base>/<device>/set` | in | `ON`, `OFF`, `TOGGLE` (case-insensitive); a strip without an outlet: all outlets |
//! | `<base>/<device>/attributes` | out, retained | JSON: `power` W, `voltage` V, `current` A, `energy_today` kWh, `energy_total` kWh, `rssi` dBm, `model`, `ip` (`null` when not measured) |
//! | `<base>/<device>/availability` | out, retained | `online` / `offline` |
//! | `<base>/<device>/error` | out | JSON `{"command", "error", "at_ms"}` when a `set` failed (also a hub `error` event) |
//! | `<prefix>/<component>/<node>/<object>/config` | out, retained | Home Assistant discovery (`<prefix>` default `homeassistant`); empty when the device is removed |
//! | `<prefix>/status` | in | `online`: discovery and states are published again |
//!
//! TLS: `mqtts://` verifies the broker with the system's root certificates; a broker with a
//! certificate from a private CA needs `ca_file` in `[mqtt]` (or `plugctl serve --mqtt-ca FILE`):
//! a PEM file of one or more CA certificates, trusted *instead of* the system roots (the broker
//! is pinned to that CA). The broker's host name (or IP address) must match its certificate.
//! A failed connection is retried with back-off and reported as a hub `error` event (once per
//! distinct error).
//!
//! Several hubs on one broker need distinct node ids (the default comes from the client id,
//! which defaults to `plugctl-<hostname>-<listen port>`) and distinct base topics (the bridge
//! state topic lives under the base topic).

mod bridge;
pub mod discovery;

use std::{path::PathBuf, sync::Arc, time::Duration};

use tokio::{sync::oneshot, task::JoinHandle};

use crate::{config::HubConfig, Hub};

pub use discovery::Topics;

/// Bad MQTT settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mqtt: {0}")]
pub struct MqttError(pub String);

/// Everything the bridge needs to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Broker host.
    pub host: String,
    /// Broker port (1883, or 8883 with TLS, unless given).
    pub port: u16,
    /// `mqtts://`: TLS with rustls and the system's root certificates (or `ca_file`).
    pub tls: bool,
    /// PEM CA certificates trusted instead of the system roots (`mqtts://` only).
    pub ca_file: Option<PathBuf>,
    /// User name, if any.
    pub username: Option<String>,
    /// Password, if any.
    pub password: Option<String>,
    /// MQTT client id.
    pub client_id: String,
    /// Topic layout.
    pub topics: Topics,
    /// First reconnect delay (doubles up to `reconnect_max`).
    pub reconnect_min: Duration,
    /// Longest reconnect delay.
    pub reconnect_max: Duration,
}

impl Settings {
    /// The settings of `config` (`[mqtt]`, the hub's listen port for the default client id);
    /// `None` when no URL is configured.
    pub fn from_config(config: &HubConfig) -> Result<Option<Settings>, MqttError> {
        let m = &config.mqtt;
        let Some(url) = &m.url else { return Ok(None) };
        let client_id = m
            .client_id
            .clone()
            .unwrap_or_else(|| format!("plugctl-{}-{}", hostname(), config.hub.listen.port()));
        let node = discovery::slug(m.node_id.as_deref().unwrap_or(&client_id));
        let mut s = Self::parse(url, client_id, &m.base_topic, node, &m.discovery_prefix)?;
        if let Some(ca) = m.ca_file.as_deref().filter(|c| !c.is_empty()) {
            if !s.tls {
                return Err(MqttError(format!("ca_file {ca:?} needs an mqtts:// URL")));
            }
            s.ca_file = Some(PathBuf::from(ca));
        }
        Ok(Some(s))
    }

    /// Parses `mqtt://[user:pass@]host[:port][/base]` or `mqtts://…` (a path overrides `base`).
    pub fn parse(
        url: &str,
        client_id: String,
        base: &str,
        node: String,
        prefix: &str,
    ) -> Result<Settings, MqttError> {
        let u = url::Url::parse(url).map_err(|e| MqttError(format!("invalid URL {url:?}: {e}")))?;
        let (tls, default_port) = match u.scheme() {
            "mqtt" | "tcp" => (false, 1883),
            "mqtts" | "ssl" => (true, 8883),
            s => return Err(MqttError(format!("unsupported scheme {s:?} in {url:?} (mqtt:// or mqtts://)"))),
        };
        let host =
            u.host_str().filter(|h| !h.is_empty()).ok_or_else(|| MqttError(format!("no host in {url:?}")))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let username = (!u.username().is_empty()).then(|| percent_decode(u.username()));
        let password = u.password().map(percent_decode);
        if u.query().is_some() || u.fragment().is_some() {
            return Err(MqttError(format!(
                "unexpected query or fragment in {url:?} (`#` and `+` are not allowed in the base topic)"
            )));
        }
        let path = u.path().trim_matches('/');
        let base = if path.is_empty() { base.to_string() } else { percent_decode(path) };
        for (what, v) in
            [("base topic", base.as_str()), ("discovery prefix", prefix), ("node id", node.as_str())]
        {
            if v.is_empty() || v.contains(['+', '#']) || v.starts_with('/') || v.ends_with('/') {
                return Err(MqttError(format!("invalid {what} {v:?}")));
            }
        }
        if client_id.is_empty() {
            return Err(MqttError("empty client id".into()));
        }
        Ok(Settings {
            host,
            port: u.port().unwrap_or(default_port),
            tls,
            ca_file: None,
            username,
            password,
            client_id,
            topics: Topics { base, prefix: prefix.to_string(), node },
            reconnect_min: Duration::from_millis(250),
            reconnect_max: Duration::from_secs(30),
        })
    }

    pub(crate) fn options(&self) -> Result<rumqttc::MqttOptions, MqttError> {
        let mut o = rumqttc::MqttOptions::new(self.client_id.clone(), self.host.clone(), self.port);
        o.set_keep_alive(Duration::from_secs(30));
        o.set_clean_session(true);
        o.set_last_will(rumqttc::LastWill::new(
            self.topics.bridge_state(),
            "offline",
            rumqttc::QoS::AtLeastOnce,
            true,
        ));
        if let Some(u) = &self.username {
            o.set_credentials(u.clone(), self.password.clone().unwrap_or_default());
        }
        if self.tls {
            o.set_transport(rumqttc::Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(
                Arc::new(tls_config(self.ca_file.as_deref())?),
            )));
        }
        Ok(o)
    }
}

/// rustls with the ring provider and the system's root certificates, or only the CA
/// certificates of `ca_file`.
fn tls_config(ca_file: Option<&std::path::Path>) -> Result<rustls::ClientConfig, MqttError> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let what = |e: &dyn std::fmt::Display| MqttError(format!("ca_file {}: {e}", path.display()));
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| what(&e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| what(&e))?;
            if certs.is_empty() {
                return Err(what(&"no PEM certificate in the file"));
            }
            for c in certs {
                roots.add(c).map_err(|e| what(&e))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err(MqttError("mqtts: no usable root certificates on this system".into()));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| MqttError(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hostname() -> String {
    let h = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_default();
    let h = discovery::slug(h.trim());
    if h.is_empty() {
        "host".into()
    } else {
        h
    }
}

/// The running bridge. Dropping it stops the bridge cleanly (`offline` published, then
/// DISCONNECT), in the background.
pub struct MqttHandle {
    task: Option<JoinHandle<()>>,
    stop: Option<oneshot::Sender<()>>,
    node: String,
}

impl std::fmt::Debug for MqttHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttHandle").field("node", &self.node).finish()
    }
}

impl MqttHandle {
    /// The Home Assistant node id in use.
    pub fn node_id(&self) -> &str {
        &self.node
    }

    /// Stops cleanly and waits: `offline` published, DISCONNECT sent.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }

    /// Drops the connection without DISCONNECT, as a crash would (the broker then publishes
    /// the last will). For tests.
    pub async fn abort(mut self) {
        self.stop.take();
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }
}

impl Drop for MqttHandle {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Starts the bridge over `hub`. Must be called inside a tokio runtime.
pub fn start(hub: Hub, settings: Settings) -> Result<MqttHandle, MqttError> {
    let options = settings.options()?;
    let (stop_tx, stop_rx) = oneshot::channel();
    let node = settings.topics.node.clone();
    let task = tokio::spawn(bridge::run(hub, settings, options, stop_rx));
    Ok(MqttHandle { task: Some(task), stop: Some(stop_tx), node })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(url: &str) -> Result<Settings, MqttError> {
        Settings::parse(url, "cid".into(), "plugctl", "node".into(), "homeassistant")
    }

    #[test]
    fn urls() {
        let s = p("mqtt://broker.lan").unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.tls, s.topics.base.as_str()),
            ("broker.lan", 1883, false, "plugctl")
        );
        let s = p("mqtts://us%40r:p%3Ass@127.0.0.1:1884/home/plugs").unwrap();
        assert_eq!((s.port, s.tls), (1884, true));
        assert_eq!(s.username.as_deref(), Some("us@r"));
        assert_eq!(s.password.as_deref(), Some("p:ss"));
        assert_eq!(s.topics.base, "home/plugs");
        assert_eq!(p("mqtts://h").unwrap().port, 8883);
        assert!(p("http://h").unwrap_err().to_string().contains("scheme"));
        assert!(p("mqtt://h/a/#").is_err());
        assert!(p("not a url").is_err());
    }

    #[test]
    fn defaults_from_config() {
        let mut c = HubConfig::default();
        assert_eq!(Settings::from_config(&c).unwrap(), None);
        c.mqtt.url = Some("mqtt://127.0.0.1:1883".into());
        let s = Settings::from_config(&c).unwrap().unwrap();
        assert!(s.client_id.starts_with("plugctl-") && s.client_id.ends_with("-8080"), "{}", s.client_id);
        assert_eq!(s.topics.node, discovery::slug(&s.client_id));
        assert_eq!(s.topics.prefix, "homeassistant");
        c.mqtt.node_id = Some("Kitchen Hub".into());
        assert_eq!(Settings::from_config(&c).unwrap().unwrap().topics.node, "kitchen_hub");
        assert_eq!(Settings::from_config(&c).unwrap().unwrap().ca_file, None);
        c.mqtt.ca_file = Some("/etc/ssl/private-ca.pem".into());
        assert!(Settings::from_config(&c).unwrap_err().0.contains("mqtts://"));
        c.mqtt.url = Some("mqtts://127.0.0.1".into());
        let s = Settings::from_config(&c).unwrap().unwrap();
        assert_eq!(s.ca_file.as_deref(), Some(std::path::Path::new("/etc/ssl/private-ca.pem")));
        // A CA file that does not exist fails at start, with its name.
        assert!(s.options().unwrap_err().0.contains("private-ca.pem"));
    }
}
