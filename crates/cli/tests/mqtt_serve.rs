//! `plugctl serve --demo --mqtt …` as a real process against a real Mosquitto (started here on
//! a free loopback port): the bridge comes online and publishes Home Assistant discovery, and
//! when the hub process is killed (SIGKILL, no clean stop) the broker publishes its last will,
//! `offline`.
//!
//! The MQTT client here is a minimal MQTT 3.1.1 subscriber over a std `TcpStream` (QoS 0, no
//! keep-alive), so the CLI tests need no MQTT crate.

mod common;

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

const MOSQUITTO: &str = "/usr/sbin/mosquitto";

/// A directory removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(what: &str) -> Dir {
        let p = std::env::temp_dir().join(format!("plugctl-test-{what}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        Dir(p)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process killed (SIGKILL) on drop.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Mosquitto on a free loopback port, no persistence. Returns the process and the port.
fn mosquitto(dir: &Dir) -> (Killed, u16) {
    assert!(
        std::path::Path::new(MOSQUITTO).exists(),
        "{MOSQUITTO} is missing: run ./scripts/test.sh (it installs the Debian package mosquitto)"
    );
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("free port").port();
    let conf = dir.0.join("mosquitto.conf");
    std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"))
        .expect("write conf");
    let log = dir.0.join("mosquitto.log");
    let child = Command::new(MOSQUITTO)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("start mosquitto");
    let child = Killed(child);
    for _ in 0..200 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (child, port);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("mosquitto did not listen on {port}: {}", std::fs::read_to_string(&log).unwrap_or_default());
}

fn mqtt_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn packet(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    let mut len = body.len();
    loop {
        let mut b = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            b |= 0x80;
        }
        out.push(b);
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
    out
}

/// Reads one packet: (first byte, body).
fn read_packet(s: &mut TcpStream) -> std::io::Result<(u8, Vec<u8>)> {
    let mut b = [0u8; 1];
    s.read_exact(&mut b)?;
    let kind = b[0];
    let (mut len, mut shift) = (0usize, 0);
    loop {
        s.read_exact(&mut b)?;
        len |= ((b[0] & 0x7f) as usize) << shift;
        shift += 7;
        if b[0] & 0x80 == 0 {
            break;
        }
    }
    let mut body = vec![0u8; len];
    s.read_exact(&mut body)?;
    Ok((kind, body))
}

/// Every message received: (topic, payload).
type Log = Arc<Mutex<Vec<(String, String)>>>;

/// Subscribes to `filters` (QoS 0) and records what arrives, in a thread.
fn subscribe(port: u16, id: &str, filters: &[&str]) -> Log {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to mosquitto");
    s.set_read_timeout(Some(Duration::from_secs(20))).expect("read timeout");
    let mut body = Vec::new();
    mqtt_str(&mut body, "MQTT");
    body.extend_from_slice(&[4, 0x02, 0, 0]); // 3.1.1, clean session, no keep-alive
    mqtt_str(&mut body, id);
    s.write_all(&packet(0x10, &body)).expect("CONNECT");
    let (kind, ack) = read_packet(&mut s).expect("CONNACK");
    assert_eq!((kind, ack.get(1)), (0x20, Some(&0)), "CONNACK");
    let mut body = vec![0, 1];
    for f in filters {
        mqtt_str(&mut body, f);
        body.push(0);
    }
    s.write_all(&packet(0x82, &body)).expect("SUBSCRIBE");
    let (kind, _) = read_packet(&mut s).expect("SUBACK");
    assert_eq!(kind, 0x90, "SUBACK");
    s.set_read_timeout(None).expect("read timeout");
    let log: Log = Arc::default();
    let l = log.clone();
    std::thread::spawn(move || {
        while let Ok((kind, body)) = read_packet(&mut s) {
            if kind >> 4 != 3 || body.len() < 2 {
                continue;
            }
            let n = u16::from_be_bytes([body[0], body[1]]) as usize;
            let qos = (kind >> 1) & 3;
            let start = 2 + n + if qos > 0 { 2 } else { 0 };
            let topic = String::from_utf8_lossy(&body[2..2 + n]).into_owned();
            let payload = String::from_utf8_lossy(&body[start.min(body.len())..]).into_owned();
            l.lock().expect("lock").push((topic, payload));
        }
    });
    log
}

/// Waits (hang guard 60 s) for a message after `mark` matching `pred`; returns it.
fn wait_for(log: &Log, mark: usize, what: &str, pred: impl Fn(&str, &str) -> bool) -> (String, String) {
    for _ in 0..1200 {
        if let Some(m) = log.lock().expect("lock").iter().skip(mark).find(|(t, p)| pred(t, p)) {
            return m.clone();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}; got {:?}", log.lock().expect("lock"));
}

#[test]
fn killed_hub_leaves_its_last_will() {
    let dir = Dir::new("mqtt-serve");
    let (_broker, port) = mosquitto(&dir);
    let log = subscribe(port, "watch-serve", &["plugctl/bridge/state", "homeassistant/#"]);

    let hub_tmp = dir.0.join("hub-tmp");
    std::fs::create_dir_all(&hub_tmp).expect("hub tmp");
    let url = format!("mqtt://127.0.0.1:{port}");
    let mut child = Command::new(common::bin())
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--mqtt", &url])
        // The demo's database directory lands in our temp dir (a killed hub cannot remove it).
        .env("TMPDIR", &hub_tmp)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn plugctl serve");
    let out = child.stdout.take().expect("stdout");
    std::thread::spawn(move || for _ in BufReader::new(out).lines() {});
    let mut hub = Killed(child);

    wait_for(&log, 0, "bridge online", |t, p| t == "plugctl/bridge/state" && p == "online");
    // A Kasa plug's discovery config, with the plug's firmware in its device block (the demo's
    // first plug is an HS110 hw 4, firmware 1.0.4).
    let (topic, config) = wait_for(&log, 0, "a Kasa switch's discovery config", |t, p| {
        t.starts_with("homeassistant/switch/")
            && t.ends_with("/config")
            && p.contains("\"model\":\"HS110(EU)\"")
    });
    let v: serde_json::Value =
        serde_json::from_str(&config).unwrap_or_else(|e| panic!("{topic}: {e}: {config}"));
    assert_eq!(v["device"]["manufacturer"], "TP-Link", "{config}");
    assert_eq!(v["device"]["sw_version"], "1.0.4 Build 191105 Rel.120218", "{config}");
    assert_eq!(v["availability"][0]["topic"], "plugctl/bridge/state", "{config}");

    let mark = log.lock().expect("lock").len();
    hub.0.kill().expect("SIGKILL the hub");
    let status = hub.0.wait().expect("reap the hub");
    assert!(!status.success(), "killed: {status:?}");
    wait_for(&log, mark, "the last will", |t, p| t == "plugctl/bridge/state" && p == "offline");
}
