//! Test harness: run the real `plugctl` binary, and emulators as child processes, on loopback.
#![allow(dead_code)]

use std::{
    io::{BufRead, BufReader},
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use serde_json::Value;

pub mod process;

/// Path of the binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_plugctl")
}

/// The result of one `plugctl` run.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts success and returns stdout.
    pub fn ok(&self) -> &str {
        assert_eq!(self.code, Some(0), "plugctl failed\nstdout: {}\nstderr: {}", self.stdout, self.stderr);
        &self.stdout
    }

    /// Asserts success and parses stdout as one JSON document.
    pub fn json(&self) -> Value {
        let out = self.ok();
        serde_json::from_str(out.trim())
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {out}"))
    }

    /// Parses stdout as JSON lines.
    pub fn json_lines(&self) -> Vec<Value> {
        self.ok()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
            .collect()
    }
}

/// Runs `plugctl ARGS` to completion (killed after `guard`, which only protects the suite
/// from hanging; it is never a performance assertion).
pub fn plugctl_with_guard(args: &[&str], guard: Duration) -> Run {
    let child = Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn plugctl");
    let out = process::wait_guarded(child, guard).unwrap_or_else(|out| {
        panic!(
            "plugctl {args:?} still running after {guard:?} (hang)\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs `plugctl ARGS` with a 60 s hang guard.
pub fn plugctl(args: &[&str]) -> Run {
    plugctl_with_guard(args, Duration::from_secs(60))
}

/// One device an emulator process announced.
#[derive(Debug, Clone)]
pub struct EmuDevice {
    pub host: String,
    pub port: u16,
    pub info: Value,
}

impl EmuDevice {
    /// `HOST:PORT` for command lines.
    pub fn target(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The Hi-Flying UDP port (as announced), as text for command lines.
    pub fn udp_port(&self) -> String {
        self.info["udp_port"].as_u64().expect("udp_port announced").to_string()
    }
}

/// A `plugctl emulate …` child process, killed on drop.
pub struct Emulator {
    child: Child,
    pub devices: Vec<EmuDevice>,
}

impl Emulator {
    /// Starts `plugctl emulate kasa --json --port 0 EXTRA…` and waits until it has announced
    /// `count` devices.
    pub fn kasa(extra: &[&str], count: usize) -> Self {
        let mut args = vec!["emulate", "kasa", "--json", "--port", "0"];
        args.extend_from_slice(extra);
        Self::start(&args, count)
    }

    /// Starts `plugctl emulate hf --json --port 0 --udp-port 0 EXTRA…` and waits until it has
    /// announced `count` plugs.
    pub fn hf(extra: &[&str], count: usize) -> Self {
        let mut args = vec!["emulate", "hf", "--json", "--port", "0", "--udp-port", "0"];
        args.extend_from_slice(extra);
        Self::start(&args, count)
    }

    /// Starts `plugctl ARGS` (an emulate command with `--json`) and reads `count` device lines.
    pub fn start(args: &[&str], count: usize) -> Self {
        let mut child = Command::new(bin())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn emulator");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut devices = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while devices.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(l) => l,
                Err(_) => {
                    let _ = child.kill();
                    panic!("emulator {args:?} announced {} of {count} devices", devices.len());
                }
            };
            let Ok(v) = serde_json::from_str::<Value>(&line) else { continue };
            let (Some(host), Some(port)) = (v["host"].as_str(), v["port"].as_u64()) else { continue };
            devices.push(EmuDevice { host: host.to_string(), port: port as u16, info: v.clone() });
        }
        // Keep draining stdout so the emulator never blocks on a full pipe.
        std::thread::spawn(move || while rx.recv().is_ok() {});
        Emulator { child, devices }
    }

    /// The first device.
    pub fn first(&self) -> &EmuDevice {
        &self.devices[0]
    }

    /// The port every device shares.
    pub fn port(&self) -> u16 {
        self.devices[0].port
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The directory of real device dumps (`PLUGCTL_FIXTURES`, else `../shared/fixtures/kasa`
/// beside the repository). Panics if missing: these tests must not silently skip.
pub fn fixtures_dir() -> PathBuf {
    let dir = std::env::var_os("PLUGCTL_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/kasa"));
    assert!(dir.is_dir(), "fixtures not found at {} (set PLUGCTL_FIXTURES)", dir.display());
    dir
}

/// Every `*.json` dump in the fixtures directory, sorted.
pub fn fixture_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("read fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no dumps in {}", fixtures_dir().display());
    v
}

/// A TCP port on 127.0.0.1 where nothing listens (bound, then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let p = l.local_addr().expect("addr").port();
    drop(l);
    p
}
