//! The MQTT bridge over TLS (`mqtts://`) against a real Mosquitto with a certificate from a
//! private CA (made here with the `openssl` command): with `ca_file` the bridge connects and
//! works; with the system's roots, or with another CA, the broker is refused, the bridge never
//! comes online and a hub `error` event says why.

mod mqtt_support;

use std::{
    net::Ipv4Addr,
    path::{Path, PathBuf},
    process::Command,
    sync::Arc,
    time::Duration,
};

use mqtt_support::{settings, Broker, Stack, Watcher};
use plugctl_hub::{events::HubEvent, mqtt, Hub};
use rumqttc::{MqttOptions, TlsConfiguration, Transport};

const FRIDGE: &str = "kasa-807a727158e383a7538fcc256094d0d87ee0672e";

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").current_dir(dir).args(args).output().unwrap_or_else(|e| {
        panic!("cannot run openssl ({e}): run ./scripts/test.sh (it installs the Debian package openssl)")
    });
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A self-signed CA (`<name>.pem`, `<name>.key`) in `dir`.
fn make_ca(dir: &Path, name: &str) -> PathBuf {
    let (pem, key) = (format!("{name}.pem"), format!("{name}.key"));
    let subj = format!("/CN=plugctl test {name}");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &pem,
            "-days",
            "2",
            "-subj",
            &subj,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    dir.join(pem)
}

/// A server certificate for `127.0.0.1` and `localhost`, signed by CA `ca`: `(cert, key)`.
fn make_server_cert(dir: &Path, ca: &str) -> (PathBuf, PathBuf) {
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write ext");
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-set_serial",
            "2",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.pem",
        ],
    );
    (dir.join("server.pem"), dir.join("server.key"))
}

/// A TLS MQTT client trusting only `ca`.
fn tls_options(id: &str, port: u16, ca: &Path) -> MqttOptions {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).expect("ca file") {
        roots.add(c.expect("ca pem")).expect("ca cert");
    }
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
    let mut o = MqttOptions::new(id, "127.0.0.1", port);
    o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(Arc::new(config))));
    o
}

/// Waits (hang guard 20 s) for a hub error event mentioning `needle`; returns its message.
async fn error_event(events: &mut tokio::sync::broadcast::Receiver<HubEvent>, needle: &str) -> String {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match events.recv().await {
                Ok(HubEvent::Error { id: None, message, .. }) if message.contains(needle) => return message,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("event bus: {e}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no error event mentioning {needle:?}"))
}

/// A bridge that must not get through: an error event about the certificate, and nothing
/// published under its base topic (checked once the failure is known, not by waiting).
/// `Err` when the bridge does not even start (bad TLS settings).
async fn refused(hub: &Hub, s: mqtt::Settings, watch: &Watcher) -> Result<String, mqtt::MqttError> {
    let base = s.topics.base.clone();
    let mut events = hub.events().subscribe();
    let bridge = mqtt::start(hub.clone(), s)?;
    let message = error_event(&mut events, "mqtt: cannot connect to mqtts://127.0.0.1:").await;
    let lower = message.to_ascii_lowercase();
    assert!(lower.contains("certificate") || lower.contains("unknownissuer"), "{message}");
    bridge.abort().await;
    let leaked: Vec<_> =
        watch.all().into_iter().filter(|m| m.topic.starts_with(&format!("{base}/"))).collect();
    assert!(leaked.is_empty(), "the refused bridge published {leaked:?}");
    Ok(message)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mqtts_with_a_private_ca() {
    let pki = tempfile::tempdir().expect("tempdir");
    let ca = make_ca(pki.path(), "ca");
    let other_ca = make_ca(pki.path(), "other-ca");
    let (cert, key) = make_server_cert(pki.path(), "ca");
    // Mosquitto started as root drops to its own user before it reads these: a throw-away
    // test key may be world-readable.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(pki.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
        for f in [&ca, &cert, &key] {
            std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        }
    }
    let broker = Broker::start_tls(ca.clone(), cert, key).await;
    assert!(broker.url().starts_with("mqtts://127.0.0.1:"));
    let stack = Stack::start(Ipv4Addr::new(127, 0, 67, 2)).await;
    let watch = Watcher::start_with(tls_options("watch-tls", broker.port, &ca)).await;

    // Without the CA: the system's roots do not know it.
    let s = settings(&broker, "plugctl-noca", "noca", "hub_noca");
    assert_eq!(s.ca_file, None);
    if let Err(e) = refused(&stack.hub, s, &watch).await {
        // A system without any root certificates refuses before connecting.
        assert!(e.to_string().contains("root certificates"), "{e}");
    }
    // With another CA than the broker's.
    let mut s = settings(&broker, "plugctl-other", "other", "hub_other");
    s.ca_file = Some(other_ca);
    refused(&stack.hub, s, &watch).await.expect("the bridge starts and keeps retrying");

    // With the broker's CA: online, discovery, and `set` switches the emulated plug.
    let mut s = settings(&broker, "plugctl-tls", "plugctl", "hub_tls");
    s.ca_file = Some(ca);
    let bridge = stack.bridge(s);
    watch.wait("plugctl/bridge/state", "online").await;
    watch.wait_after(0, &format!("homeassistant/switch/hub_tls/{FRIDGE}/config"), |p| !p.is_empty()).await;
    let relay = || {
        let dev = stack.kasa.device(0).expect("device");
        let reply = dev
            .lock()
            .expect("lock")
            .handle(br#"{"system":{"get_sysinfo":{}}}"#, std::time::Instant::now())
            .expect("reply");
        serde_json::from_slice::<serde_json::Value>(&reply).expect("json")["system"]["get_sysinfo"]
            ["relay_state"]
            .clone()
    };
    for (cmd, state, relay_state) in [("OFF", "OFF", 0), ("ON", "ON", 1)] {
        let mark = watch.mark();
        watch.publish(&format!("plugctl/{FRIDGE}/set"), cmd, false).await;
        watch.wait_after(mark, &format!("plugctl/{FRIDGE}/state"), |p| p == state).await;
        assert_eq!(relay(), relay_state, "the emulated plug switched ({cmd})");
    }
    bridge.shutdown().await;
    watch.wait_after(0, "plugctl/bridge/state", |p| p == "offline").await;
    stack.hub.shutdown().await;
}
