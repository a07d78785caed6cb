//! Crash safety of the hub process: `plugctl serve` polls a fleet of emulated plugs every
//! second while API clients write (schedules, device edits, reloads) and read back what the
//! store committed (raw samples, events); it is killed with SIGKILL at random moments (a
//! seeded RNG; some kills land during start-up), many times, and restarted on the same
//! database and configuration file.
//!
//! After each kill, with the database opened read-only:
//! - `PRAGMA integrity_check` answers `ok`;
//! - every schedule the API acknowledged (`201`/`200`) is stored;
//! - the device name of the last acknowledged `PATCH` (or a later one) is stored;
//! - every raw sample and every event the API had shown is still there;
//! - the configuration file is byte for byte what it was and parses (the hub never writes
//!   it: device edits live in the database).
//!
//! The test prints the kills survived and the items checked, for the closing note.

mod common;

use std::{
    collections::BTreeSet,
    fs,
    io::{BufRead, BufReader, Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpStream},
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicBool, Ordering},
        mpsc, Arc,
    },
    thread,
    time::{Duration, Instant},
};

use plugctl_emulator::kasa;
use plugctl_hub::config::HubConfig;
use rusqlite::{Connection, OpenFlags};
use serde_json::{json, Value};

/// Kills in the test (the issue asks for at least 20).
const KILLS: usize = 24;
/// Emulated plugs, each polled every second (a sample per plug per second).
const PLUGS: usize = 60;
/// Hang guard for the hub to come up (never a speed assertion).
const START_GUARD: Duration = Duration::from_secs(120);

/// SplitMix64: a small seeded generator, so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

/// One HTTP/1.1 exchange; `None` if the hub is gone (refused, reset, cut mid-answer).
fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> Option<(u16, Value)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).ok()?;
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let status: u16 = head.split(' ').nth(1)?.parse().ok()?;
    let len: Option<usize> = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
        .and_then(|v| v.parse().ok());
    let body = &buf[end + 4..];
    // A body cut short by the kill is no answer.
    if len.is_some_and(|n| body.len() < n) {
        return None;
    }
    let v = if body.is_empty() { Value::Null } else { serde_json::from_slice(body).ok()? };
    Some((status, v))
}

/// A running `plugctl serve`.
struct Hub {
    child: Child,
    /// The API address once it printed it.
    addr: mpsc::Receiver<SocketAddr>,
}

impl Hub {
    fn spawn(config: &Path, db: &Path, log: &Path) -> Hub {
        let log = fs::OpenOptions::new().create(true).append(true).open(log).expect("log file");
        let mut child = Command::new(common::bin())
            .arg("serve")
            .arg("--config")
            .arg(config)
            .arg("--db")
            .arg(db)
            .args(["--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn plugctl serve");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                let addr = line
                    .split("http://")
                    .nth(1)
                    .and_then(|s| s.split('/').next())
                    .and_then(|s| s.parse::<SocketAddr>().ok());
                if let Some(a) = addr {
                    let _ = tx.send(a);
                }
            }
        });
        Hub { child, addr: rx }
    }

    /// Waits for the API address (None if the process ended first).
    fn wait_addr(&mut self, guard: Duration) -> Option<SocketAddr> {
        self.addr.recv_timeout(guard).ok()
    }

    /// SIGKILL, and reap.
    fn kill(mut self) {
        self.child.kill().expect("SIGKILL");
        let status = self.child.wait().expect("wait");
        assert!(status.code().is_none(), "plugctl serve ended on its own before the kill: {status}");
    }
}

/// What the API acknowledged in one run.
#[derive(Default, Debug)]
struct Acked {
    schedules: Vec<String>,
    /// `(k)` of the last acknowledged `PATCH` naming the device `crash-RUN-k`.
    last_name: Option<u64>,
    samples: BTreeSet<(String, i64)>,
    events: BTreeSet<i64>,
    reloads: usize,
}

/// The API clients of one run: they write and read until the hub is gone or `stop` is set.
fn clients(addr: SocketAddr, run: usize, devices: Vec<String>, stop: Arc<AtomicBool>) -> Acked {
    let target = devices[0].clone();
    let writer = {
        let stop = stop.clone();
        let target = target.clone();
        thread::spawn(move || {
            let mut acked = Acked::default();
            for k in 0u64.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let id = format!("crash-{run}-{k}");
                let rule = json!({"device": target, "action": "on", "when": {"cron": format!("{} 3 * * *", k % 60)}});
                match http(addr, "PUT", &format!("/api/v1/schedules/{id}"), Some(&rule)) {
                    Some((200 | 201, _)) => acked.schedules.push(id),
                    Some((s, v)) => panic!("PUT schedule answered {s}: {v}"),
                    None => break,
                }
                let patch = json!({"name": format!("crash-{run}-{k}")});
                match http(addr, "PATCH", &format!("/api/v1/devices/{target}"), Some(&patch)) {
                    Some((200, _)) => acked.last_name = Some(k),
                    Some((s, v)) => panic!("PATCH answered {s}: {v}"),
                    None => break,
                }
                if k % 10 == 9 {
                    match http(addr, "POST", "/api/v1/reload", None) {
                        Some((204, _)) => acked.reloads += 1,
                        Some((s, v)) => panic!("reload answered {s}: {v}"),
                        None => break,
                    }
                }
            }
            acked
        })
    };
    let reader = thread::spawn(move || {
        let mut acked = Acked::default();
        for k in 0usize.. {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            let dev = &devices[k % devices.len()];
            match http(addr, "GET", &format!("/api/v1/devices/{dev}/energy?bucket=raw"), None) {
                Some((200, v)) => {
                    for p in v["points"].as_array().into_iter().flatten() {
                        if let Some(t) = p["t_ms"].as_i64() {
                            acked.samples.insert((dev.clone(), t));
                        }
                    }
                }
                Some((s, v)) => panic!("energy answered {s}: {v}"),
                None => break,
            }
            match http(addr, "GET", "/api/v1/events?limit=50", None) {
                Some((200, v)) => {
                    for e in v["events"].as_array().into_iter().flatten() {
                        if let Some(seq) = e["seq"].as_i64() {
                            acked.events.insert(seq);
                        }
                    }
                }
                Some((s, v)) => panic!("events answered {s}: {v}"),
                None => break,
            }
            thread::sleep(Duration::from_millis(50));
        }
        acked
    });
    let mut a = writer.join().expect("writer thread");
    let r = reader.join().expect("reader thread");
    a.samples = r.samples;
    a.events = r.events;
    a
}

/// Checks the database after a kill; returns the number of items checked.
fn check_after_kill(db: &Path, run: usize, acked: &Acked, target: &str) -> usize {
    let c =
        Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .expect("open the database read-only");
    let ok: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("integrity_check");
    assert_eq!(ok, "ok", "run {run}: integrity_check");
    let mut checked = 1;
    let mut has_schedule = c.prepare("SELECT count(*) FROM schedules WHERE id = ?1").unwrap();
    for id in &acked.schedules {
        let n: i64 = has_schedule.query_row([id], |r| r.get(0)).unwrap();
        assert_eq!(n, 1, "run {run}: acknowledged schedule {id} lost");
        checked += 1;
    }
    if let Some(k) = acked.last_name {
        let info: String =
            c.query_row("SELECT info FROM devices WHERE id = ?1", [target], |r| r.get(0)).unwrap();
        let info: Value = serde_json::from_str(&info).expect("device entry JSON");
        let name = info["name"].as_str().unwrap_or("");
        let j: u64 =
            name.strip_prefix(&format!("crash-{run}-")).and_then(|s| s.parse().ok()).unwrap_or_else(|| {
                panic!("run {run}: device name {name:?} after an acknowledged crash-{run}-{k}")
            });
        assert!(j >= k, "run {run}: acknowledged name crash-{run}-{k} lost (found {name})");
        checked += 1;
    }
    let mut has_sample = c
        .prepare("SELECT count(*) FROM samples s JOIN device_keys k ON k.sid = s.sid WHERE k.device_id = ?1 AND s.t_ms = ?2")
        .unwrap();
    for (dev, t) in &acked.samples {
        let n: i64 = has_sample.query_row(rusqlite::params![dev, t], |r| r.get(0)).unwrap();
        assert_eq!(n, 1, "run {run}: sample {dev}@{t} shown by the API is lost");
        checked += 1;
    }
    let mut has_event = c.prepare("SELECT count(*) FROM events WHERE seq = ?1").unwrap();
    for seq in &acked.events {
        let n: i64 = has_event.query_row([seq], |r| r.get(0)).unwrap();
        assert_eq!(n, 1, "run {run}: event {seq} shown by the API is lost");
        checked += 1;
    }
    checked
}

fn write_config(path: &Path, fleet: &kasa::Fleet) -> Vec<u8> {
    let mut text = String::from(
        "# serve_crash.rs\n[hub]\npoll_interval = 1\n\n[discovery]\nenabled = false\ntarget = \"127.255.255.255\"\n",
    );
    for d in fleet.devices() {
        text.push_str(&format!("\n[[device]]\nhost = \"{}\"\nfamily = \"kasa\"\ninterval = 1\n", d.addr));
    }
    fs::write(path, &text).expect("write config");
    text.into_bytes()
}

fn device_ids(addr: SocketAddr) -> Vec<String> {
    let deadline = Instant::now() + START_GUARD;
    loop {
        if let Some((200, v)) = http(addr, "GET", "/api/v1/devices", None) {
            let ids: Vec<String> = v
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d["id"].as_str().map(String::from))
                .filter(|id| id.starts_with("kasa-"))
                .collect();
            if ids.len() == PLUGS {
                return ids;
            }
        }
        assert!(Instant::now() < deadline, "the hub never listed its {PLUGS} plugs");
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn sigkill_during_heavy_writes_loses_nothing_acknowledged() {
    let seed: u64 =
        std::env::var("PLUGCTL_CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5EED_0008);
    eprintln!("serve_crash: seed {seed} (PLUGCTL_CRASH_SEED replays)");
    let mut rng = Rng(seed);
    let rt =
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let fleet = rt
        .block_on(kasa::fleet::start(kasa::FleetConfig {
            count: PLUGS,
            base: Ipv4Addr::new(127, 0, 88, 2),
            profiles: vec![kasa::builtin("hs110-hw4").expect("profile")],
            seed: 8,
            ..kasa::FleetConfig::default()
        }))
        .expect("emulated fleet");
    let dir = std::env::temp_dir().join(format!("plugctl-serve-crash-{}", std::process::id()));
    fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("hub.toml");
    let db = dir.join("hub.db");
    let log = dir.join("serve.log");
    let config_bytes = write_config(&config, &fleet);

    let mut all_schedules: Vec<String> = Vec::new();
    let (mut kills, mut early_kills, mut checked) = (0usize, 0usize, 0usize);
    let (mut n_sched, mut n_samples, mut n_events, mut n_reloads) = (0usize, 0usize, 0usize, 0usize);
    let mut target = String::new();
    for run in 0..KILLS {
        let mut hub = Hub::spawn(&config, &db, &log);
        // Every fourth run is killed during start-up (opening, migrating, loading devices).
        if run % 4 == 3 {
            thread::sleep(Duration::from_millis(rng.range(0, 400)));
            hub.kill();
            early_kills += 1;
        } else {
            let addr = hub
                .wait_addr(START_GUARD)
                .unwrap_or_else(|| panic!("plugctl serve did not start (run {run}); log: {}", log.display()));
            let devices = device_ids(addr);
            target.clone_from(&devices[0]);
            let stop = Arc::new(AtomicBool::new(false));
            let delay = Duration::from_millis(rng.range(300, 2500));
            let clients = {
                let (stop, devices) = (stop.clone(), devices.clone());
                thread::spawn(move || clients(addr, run, devices, stop))
            };
            thread::sleep(delay);
            hub.kill();
            stop.store(true, Ordering::Relaxed);
            let acked = clients.join().expect("clients");
            checked += check_after_kill(&db, run, &acked, &target);
            n_sched += acked.schedules.len();
            n_samples += acked.samples.len();
            n_events += acked.events.len();
            n_reloads += acked.reloads;
            all_schedules.extend(acked.schedules);
        }
        kills += 1;
        // The configuration file is untouched and parses.
        assert_eq!(
            fs::read(&config).expect("read config"),
            config_bytes,
            "run {run}: the config file changed"
        );
        HubConfig::load(&config).unwrap_or_else(|e| panic!("run {run}: config no longer parses: {e}"));
        if run % 4 == 3 {
            let c =
                Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("open read-only");
            let ok: String =
                c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).expect("integrity_check");
            assert_eq!(ok, "ok", "run {run} (killed during start-up): integrity_check");
            checked += 1;
        }
    }

    // A last start: the hub comes up on what survived and serves every acknowledged schedule.
    let mut hub = Hub::spawn(&config, &db, &log);
    let addr = hub.wait_addr(START_GUARD).expect("the hub starts after the last kill");
    let (status, v) = http(addr, "GET", "/api/v1/schedules", None).expect("schedules after restart");
    assert_eq!(status, 200);
    let served: BTreeSet<&str> =
        v.as_array().expect("list").iter().filter_map(|s| s["id"].as_str()).collect();
    for id in &all_schedules {
        assert!(served.contains(id.as_str()), "acknowledged schedule {id} not served after restart");
    }
    assert!(device_ids(addr).len() == PLUGS);
    hub.kill();
    rt.block_on(fleet.shutdown());
    eprintln!(
        "serve_crash: {kills} SIGKILLs survived ({early_kills} during start-up); acknowledged and found again: \
         {n_sched} schedules, {n_samples} raw samples, {n_events} events (+{n_reloads} reloads); \
         {checked} checks passed; data lost: none"
    );
    assert!(n_sched > 0 && n_samples > 0 && n_events > 0, "the clients acknowledged too little to test");
    let _ = fs::remove_dir_all(&dir);
}
