//! `plugctl serve`: the hub — registry, poller, SQLite history, JSON API, dashboard, metrics,
//! local schedules and cloud-free time sync. `--demo` runs it over emulated plugs of both
//! families started in-process.

use std::{
    net::{Ipv4Addr, SocketAddr},
    path::PathBuf,
};

use anyhow::{Context, Result};
use clap::Args;
use plugctl_hub::{
    config::{DeviceEntry, HubConfig},
    Hub, StartOptions,
};

use super::{emulate::LOOPBACK_BROADCAST, usage};

/// `plugctl serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file (TOML); reloaded by `POST /api/v1/reload`.
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address for the API and dashboard (default 127.0.0.1:8080; any non-loopback address
    /// requires a token).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// API token (`Authorization: Bearer …`, or the dashboard's login form). Generated and
    /// printed once when binding a non-loopback address without one.
    #[arg(long, env = "PLUGCTL_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// SQLite database (default: the platform data directory).
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
    /// Run over emulated Kasa and Hi-Flying plugs started in-process.
    #[arg(long)]
    pub demo: bool,
    /// Bridge to MQTT with Home Assistant discovery:
    /// `mqtt://[user:pass@]host:port[/base-topic]` or `mqtts://…` (overrides `[mqtt] url`).
    #[arg(long, value_name = "URL")]
    pub mqtt: Option<String>,
    /// PEM file of CA certificates for an `mqtts://` broker with a private CA, trusted
    /// instead of the system's roots (overrides `[mqtt] ca_file`).
    #[arg(long, value_name = "FILE")]
    pub mqtt_ca: Option<PathBuf>,
}

/// Runs the hub until Ctrl-C.
pub async fn run(args: &ServeArgs) -> Result<()> {
    let mut config = match &args.config {
        Some(p) => HubConfig::load(p).map_err(|e| usage(e.to_string()))?,
        None => HubConfig::default(),
    };
    if let Some(l) = args.listen {
        config.hub.listen = l;
    }
    if let Some(u) = &args.mqtt {
        config.mqtt.url = Some(u.clone());
    }
    if let Some(ca) = &args.mqtt_ca {
        config.mqtt.ca_file = Some(ca.to_string_lossy().into_owned());
    }
    let listen = config.hub.listen;
    let security = plugctl_hub::auth::Security::for_bind(listen, args.token.clone());
    // Refuse unfit settings before anything starts, binds or sends.
    security.check_for(listen).map_err(|e| usage(e.to_string()))?;
    config.validate().map_err(|e| usage(e.to_string()))?;
    let demo = if args.demo { Some(start_demo(&mut config).await?) } else { None };
    let db_path = match (&args.db, &config.hub.db, &demo) {
        (Some(p), _, _) => p.clone(),
        (None, Some(p), _) => PathBuf::from(p),
        (None, None, Some(d)) => d.dir.path().join("demo.db"),
        (None, None, None) => plugctl_hub::store::default_db_path().map_err(|e| usage(e.to_string()))?,
    };
    if let Some(dir) = db_path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    if let Some(t) = security.generated_token() {
        eprintln!("API token (shown once): {t}");
    }
    let listener =
        tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    let local = listener.local_addr().context("listener address")?;
    let hub = Hub::start(
        config.clone(),
        StartOptions { config_path: args.config.clone(), db_path: db_path.clone() },
    )
    .await
    .context("cannot start the hub")?;
    let extensions = plugctl_hub::extensions::start(&hub, &config);
    println!("plugctl hub on http://{local}/  (API http://{local}/api/v1, metrics http://{local}/metrics)");
    println!("database: {}", db_path.display());
    if demo.is_some() {
        println!("demo: emulated plugs on 127.0.0.2… (Kasa) and 127.0.1.2… (Hi-Flying); Ctrl-C to stop");
    }
    let opts = plugctl_hub::api::ApiOptions { scheduler: Some(extensions.scheduler.control()) };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server =
        tokio::spawn(plugctl_hub::api::serve_with(listener, hub.clone(), security, opts, async move {
            let _ = stop_rx.await;
        }));
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
        r = server => r.context("the HTTP server stopped")?.context("the HTTP server failed")?,
    }
    let _ = stop_tx.send(());
    drop(extensions);
    hub.shutdown().await;
    drop(demo);
    Ok(())
}

/// Emulated plugs of both families, alive as long as this value.
struct Demo {
    _kasa: plugctl_emulator::kasa::Fleet,
    _hf: plugctl_emulator::hf::Fleet,
    dir: TempDir,
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<Self> {
        let p = std::env::temp_dir().join(format!("plugctl-demo-{}", std::process::id()));
        std::fs::create_dir_all(&p).with_context(|| format!("cannot create {}", p.display()))?;
        Ok(Self(p))
    }

    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start_demo(config: &mut HubConfig) -> Result<Demo> {
    use plugctl_emulator::{hf, kasa};
    let models = ["hs110-hw4", "hs300", "kp115", "hs110-hw1", "hs100-hw2", "hs100-hw1"];
    let profiles =
        models.iter().map(|m| kasa::builtin(m).context("built-in profile")).collect::<Result<Vec<_>>>()?;
    let kasa_fleet = kasa::fleet::start(kasa::FleetConfig {
        count: models.len(),
        base: Ipv4Addr::new(127, 0, 0, 2),
        port: 0,
        profiles,
        broadcast: Some(LOOPBACK_BROADCAST),
        // Simulated time runs 20× faster so charts fill up within minutes (and simulated power
        // stays within what the store accepts as plausible).
        time_scale: 20.0,
        ..kasa::FleetConfig::default()
    })
    .await
    .context("cannot start the emulated Kasa plugs")?;
    let hf_fleet = hf::fleet::start(hf::FleetConfig {
        count: 2,
        base: Ipv4Addr::new(127, 0, 1, 2),
        ports: hf::Ports { control: 0, udp: 0, http: None },
        broadcast: Some(LOOPBACK_BROADCAST),
        time_scale: 20.0,
        ..hf::FleetConfig::default()
    })
    .await
    .context("cannot start the emulated Hi-Flying plugs")?;
    let names = ["Kettle", "Desk strip", "Fridge", "Washing machine", "Lamp", "Fan"];
    for (d, name) in kasa_fleet.devices().iter().zip(names) {
        config.devices.push(DeviceEntry {
            host: d.addr.to_string(),
            family: Some(plugctl_client::Family::Kasa),
            udp_port: None,
            name: Some(name.to_string()),
            room: Some(if name == "Desk strip" || name == "Lamp" { "Office" } else { "Kitchen" }.to_string()),
            tags: Vec::new(),
            interval: Some(2.0),
            cloud_free: false,
        });
    }
    let p = hf_fleet.ports();
    for (i, plug) in hf_fleet.plugs().iter().enumerate() {
        config.devices.push(DeviceEntry {
            host: SocketAddr::new(plug.ip.into(), p.control).to_string(),
            family: Some(plugctl_client::Family::Hf),
            udp_port: Some(p.udp),
            name: Some(format!("Garden plug {}", i + 1)),
            room: Some("Garden".into()),
            tags: vec!["maginon".into()],
            interval: Some(2.0),
            cloud_free: false,
        });
    }
    // Discovery over the same loopback fleet finds nothing new, but shows it working.
    config.discovery.target = LOOPBACK_BROADCAST.to_string();
    config.discovery.kasa_port = kasa_fleet.port();
    config.discovery.hf_port = p.udp;
    config.discovery.hf_control_port = p.control;
    config.discovery.interval = 60.0;
    Ok(Demo { _kasa: kasa_fleet, _hf: hf_fleet, dir: TempDir::new()? })
}
