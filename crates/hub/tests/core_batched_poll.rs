//! The poller batches its queries: one request per poll for a single-outlet Kasa plug
//! (`system.get_sysinfo` and `emeter.get_realtime` together), counted by a proxy between the
//! hub and the emulated plug.

use std::{
    net::{IpAddr, Ipv4Addr, SocketAddr},
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use plugctl_emulator::kasa::{bind_device, builtin, shared, ServerConfig};
use plugctl_hub::{
    config::{DeviceEntry, HubConfig},
    events::HubEvent,
    Hub, StartOptions,
};
use plugctl_proto::kasa::{FrameDecoder, FrameEvent, DEFAULT_MAX_FRAME};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// Forwards TCP to `upstream`, counting request frames (and which modules they ask).
async fn counting_proxy(
    upstream: SocketAddr,
    frames: Arc<AtomicUsize>,
    batched: Arc<AtomicUsize>,
) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut c, _)) = l.accept().await {
            let (frames, batched) = (frames.clone(), batched.clone());
            tokio::spawn(async move {
                let Ok(mut u) = TcpStream::connect(upstream).await else { return };
                let (mut cr, mut cw) = c.split();
                let (mut ur, mut uw) = u.split();
                let up = async {
                    let mut dec = FrameDecoder::new(DEFAULT_MAX_FRAME);
                    let mut buf = [0u8; 4096];
                    loop {
                        let n = match cr.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        dec.push(&buf[..n]);
                        while let Ok(Some(FrameEvent::Frame(p))) = dec.next_event() {
                            frames.fetch_add(1, Ordering::SeqCst);
                            let text = String::from_utf8_lossy(&p);
                            if text.contains("get_sysinfo") && text.contains("get_realtime") {
                                batched.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                        if uw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = uw.shutdown().await;
                };
                let down = async {
                    let _ = tokio::io::copy(&mut ur, &mut cw).await;
                    let _ = cw.shutdown().await;
                };
                tokio::join!(up, down);
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_per_poll_for_a_metered_plug() {
    let dev = shared(builtin("hs110-hw4").expect("profile").instantiate(0, 3));
    let running = bind_device(IpAddr::V4(Ipv4Addr::new(127, 0, 23, 2)), 0, dev, ServerConfig::default())
        .await
        .expect("bind");
    let (frames, batched) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let proxy = counting_proxy(running.addr(), frames.clone(), batched.clone()).await;
    let mut cfg = HubConfig::default();
    cfg.discovery.enabled = false;
    cfg.devices = vec![DeviceEntry {
        host: proxy.to_string(),
        family: Some(plugctl_client::Family::Kasa),
        udp_port: None,
        name: Some("Kettle".into()),
        room: None,
        tags: Vec::new(),
        interval: Some(1.0),
        cloud_free: false,
    }];
    let dir = tempfile::tempdir().expect("tempdir");
    let hub = Hub::start(cfg, StartOptions { config_path: None, db_path: dir.path().join("hub.db") })
        .await
        .expect("hub starts");
    let mut events = hub.events().subscribe();
    // Wait for one metered sample, then count frames over the next three polls.
    let mut samples = 0;
    let mut start_frames = 0;
    while samples < 4 {
        let e = tokio::time::timeout(Duration::from_secs(20), events.recv()).await.expect("a sample in time");
        if let Ok(HubEvent::Sample { reading, .. }) = e {
            assert!(reading.power_w.is_some(), "metered reading");
            if samples == 0 {
                start_frames = frames.load(Ordering::SeqCst);
            }
            samples += 1;
        }
    }
    let polled = frames.load(Ordering::SeqCst) - start_frames;
    assert_eq!(polled, 3, "three polls, three requests");
    assert!(batched.load(Ordering::SeqCst) >= 3, "sysinfo and meter asked in one request");
    hub.shutdown().await;
}
