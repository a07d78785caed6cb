//! Configuration reload without a restart: devices added to, changed in and removed from the
//! TOML file are applied by `Hub::reload_config`.

use std::{
    net::{IpAddr, Ipv4Addr},
    time::Duration,
};

use plugctl_emulator::kasa::{bind_device, builtin, shared, ServerConfig};
use plugctl_hub::{config::HubConfig, Hub, StartOptions};

fn toml(devices: &[(String, &str)], hf_port: u16) -> String {
    let mut t = format!(
        "[hub]\npoll_interval = 1\n[discovery]\nenabled = false\ntarget = \"127.0.0.1\"\nhf_port = {hf_port}\n"
    );
    for (host, name) in devices {
        t.push_str(&format!("[[device]]\nhost = \"{host}\"\nfamily = \"kasa\"\nname = \"{name}\"\n"));
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_applies_added_changed_and_removed_devices() {
    let a = bind_device(
        IpAddr::V4(Ipv4Addr::new(127, 0, 22, 2)),
        0,
        shared(builtin("hs100-hw2").expect("profile").instantiate(0, 5)),
        ServerConfig::default(),
    )
    .await
    .expect("bind a");
    let b = bind_device(
        IpAddr::V4(Ipv4Addr::new(127, 0, 22, 3)),
        0,
        shared(builtin("kp115").expect("profile").instantiate(0, 6)),
        ServerConfig::default(),
    )
    .await
    .expect("bind b");
    let hf_port =
        std::net::UdpSocket::bind("127.0.0.1:0").and_then(|s| s.local_addr()).map(|a| a.port()).unwrap_or(1);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("hub.toml");
    std::fs::write(&path, toml(&[(a.addr().to_string(), "Lamp")], hf_port)).expect("write");
    let cfg = HubConfig::load(&path).expect("valid config");
    let hub =
        Hub::start(cfg, StartOptions { config_path: Some(path.clone()), db_path: dir.path().join("hub.db") })
            .await
            .expect("hub starts");
    let names = |hub: &Hub| hub.devices().into_iter().map(|d| d.info.name).collect::<Vec<_>>();
    assert_eq!(names(&hub), ["Lamp"]);

    // Add b, rename a.
    std::fs::write(
        &path,
        toml(&[(a.addr().to_string(), "Desk lamp"), (b.addr().to_string(), "Fridge")], hf_port),
    )
    .expect("write");
    hub.reload_config().await.expect("reload");
    assert_eq!(names(&hub), ["Desk lamp", "Fridge"]);

    // Remove a.
    std::fs::write(&path, toml(&[(b.addr().to_string(), "Fridge")], hf_port)).expect("write");
    hub.reload_config().await.expect("reload");
    assert_eq!(names(&hub), ["Fridge"]);

    // A broken file is refused and changes nothing.
    std::fs::write(&path, "[hub]\npoll_interval = -1\n").expect("write");
    let err = hub.reload_config().await.expect_err("invalid config refused");
    assert!(err.to_string().contains("poll_interval"), "{err}");
    assert_eq!(names(&hub), ["Fridge"]);
    tokio::time::sleep(Duration::from_millis(10)).await;
    hub.shutdown().await;
}
