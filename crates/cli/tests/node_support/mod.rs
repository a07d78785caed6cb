//! Node.js interop harness: the pinned npm packages tplink-smarthome-api and
//! tplink-smarthome-simulator, installed by `./scripts/test.sh` into `.node-interop/`
//! (`PLUGCTL_NODE_INTEROP`), driven through the small scripts in `tests/node/`.
//!
//! Missing or wrong packages make the tests FAIL with "run ./scripts/test.sh"; they never skip.
#![allow(dead_code)]

use std::{
    io::{BufRead, BufReader, Write},
    path::PathBuf,
    process::{Child, ChildStdin, Command, Stdio},
    sync::mpsc::{self, Receiver},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use serde_json::Value;

/// The pinned versions (crates/cli/tests/node/package.json).
pub const PINS: [(&str, &str); 2] =
    [("tplink-smarthome-api", "5.0.0"), ("tplink-smarthome-simulator", "5.0.1")];

/// Hang guard for one node script run (never a performance assertion).
const GUARD: Duration = Duration::from_secs(90);

/// `node_modules` of the interop install, after checking both pinned packages are there at the
/// pinned versions.
pub fn node_modules() -> PathBuf {
    let dir = std::env::var_os("PLUGCTL_NODE_INTEROP")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.node-interop"));
    let modules = dir.join("node_modules");
    for (name, want) in PINS {
        let manifest = modules.join(name).join("package.json");
        let text = std::fs::read_to_string(&manifest).unwrap_or_else(|e| {
            panic!(
                "{name} {want} not installed ({}: {e}) — run ./scripts/test.sh, which installs the \
                 Node interop packages into .node-interop/ (or set PLUGCTL_NODE_INTEROP)",
                manifest.display()
            )
        });
        let got: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
        assert_eq!(
            got["version"].as_str(),
            Some(want),
            "{name} in {} is not the pinned {want} — run ./scripts/test.sh to reinstall",
            modules.display()
        );
    }
    modules
}

/// The `node` executable (`PLUGCTL_NODE`, else `node` on the PATH).
pub fn node_bin() -> PathBuf {
    std::env::var_os("PLUGCTL_NODE").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("node"))
}

/// A driver script in `tests/node/`.
pub fn script(name: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node").join(name);
    assert!(p.is_file(), "driver script {} missing", p.display());
    p
}

fn node_command(script_name: &str, args: &[&str]) -> Command {
    let modules = node_modules();
    let mut cmd = Command::new(node_bin());
    cmd.arg(script(script_name)).args(args).env("NODE_PATH", modules).env_remove("DEBUG");
    cmd
}

/// One finished node run.
#[derive(Debug)]
pub struct NodeRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `node tests/node/SCRIPT ARGS` to completion (killed after a hang guard).
pub fn run_script(script_name: &str, args: &[&str]) -> NodeRun {
    let mut child = node_command(script_name, args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {} ({e}); Node.js 16+ must be installed", node_bin().display())
        });
    let deadline = Instant::now() + GUARD;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collect");
            panic!(
                "node {script_name} {args:?} hung\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("collect");
    NodeRun {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// What `api_probe.js` reported: every tplink-smarthome-api call and its result.
#[derive(Debug)]
pub struct Probe {
    pub args: Vec<String>,
    pub code: Option<i32>,
    pub doc: Value,
    pub stderr: String,
}

impl Probe {
    /// Runs `api_probe.js HOST PORT EXTRA…`.
    pub fn run(host: &str, port: u16, extra: &[&str]) -> Self {
        let port = port.to_string();
        let mut args = vec![host, port.as_str()];
        args.extend_from_slice(extra);
        let run = run_script("api_probe.js", &args);
        let doc: Value = serde_json::from_str(run.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "api_probe.js {args:?} printed no JSON ({e})\nstdout: {}\nstderr: {}",
                run.stdout, run.stderr
            )
        });
        assert!(doc.get("fatal").is_none(), "api_probe.js {args:?}: {}", doc["fatal"]);
        Probe { args: args.iter().map(|s| s.to_string()).collect(), code: run.code, doc, stderr: run.stderr }
    }

    /// The names of the calls that failed, with their errors.
    pub fn failures(&self) -> Vec<(String, Value)> {
        self.doc["steps"]
            .as_object()
            .map(|steps| {
                steps.iter().filter_map(|(k, v)| v.get("error").map(|e| (k.clone(), e.clone()))).collect()
            })
            .unwrap_or_default()
    }

    /// Asserts every call succeeded (exit code 0, no failed step).
    pub fn assert_all_ok(&self) {
        let failures = self.failures();
        assert!(
            failures.is_empty() && self.code == Some(0),
            "tplink-smarthome-api calls failed against {:?} (exit {:?}):\n{}\nstderr: {}",
            self.args,
            self.code,
            failures.iter().map(|(k, e)| format!("  {k}: {e}")).collect::<Vec<_>>().join("\n"),
            self.stderr
        );
    }

    /// The result of call `name`; panics (with the library's error) if it failed or was not made.
    pub fn ok(&self, name: &str) -> &Value {
        let step = &self.doc["steps"][name];
        if let Some(e) = step.get("error") {
            panic!("tplink-smarthome-api {name} failed against {:?}: {e}", self.args);
        }
        step.get("ok").unwrap_or_else(|| panic!("no step {name} in {}", self.doc))
    }
}

/// A loopback address nobody else in this run uses (best effort: process id, time, counter),
/// in 127.201.0.0–127.250.255.255.
pub fn fresh_loopback() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let x = std::process::id()
        .wrapping_mul(2_654_435_761)
        .wrapping_add(nanos)
        .wrapping_add(N.fetch_add(1, Ordering::Relaxed).wrapping_mul(40_503));
    format!("127.{}.{}.{}", 201 + (x % 50), (x >> 8) % 256, 2 + (x >> 16) % 252)
}

/// A tplink-smarthome-simulator device in a `node simulator.js` child process, killed on drop.
pub struct Simulator {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<Value>,
    pub host: String,
    pub port: u16,
    /// The simulator's sysinfo when it started.
    pub initial: Value,
    /// Requests the simulator received (decrypted JSON text), in order, as collected so far.
    seen: Vec<(String, String)>,
}

impl Simulator {
    /// Starts a simulated `model` (hs110, hs110v2, hs300, …) on a fresh loopback address,
    /// port picked by the system; `extra` are more simulator.js options (--mac, --alias, …).
    pub fn start(model: &str, extra: &[&str]) -> Self {
        let mut last_error = String::new();
        for _ in 0..5 {
            let host = fresh_loopback();
            match Self::try_start(model, &host, extra) {
                Ok(sim) => return sim,
                Err(e) => last_error = e,
            }
        }
        panic!("tplink-smarthome-simulator {model} did not start: {last_error}");
    }

    fn try_start(model: &str, host: &str, extra: &[&str]) -> Result<Self, String> {
        let mut args = vec!["--model", model, "--address", host, "--port", "0"];
        args.extend_from_slice(extra);
        let mut child = node_command("simulator.js", &args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {} ({e}); Node.js 16+ must be installed", node_bin().display())
            });
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let v = serde_json::from_str::<Value>(&line)
                    .unwrap_or_else(|_| serde_json::json!({"event": "garbage", "line": line}));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = match rx.recv_timeout(left) {
                Ok(v) => v,
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!("no 'listening' line from simulator.js {args:?}"));
                }
            };
            match v["event"].as_str() {
                Some("listening") => {
                    let port = v["port"].as_u64().and_then(|p| u16::try_from(p).ok()).expect("port");
                    assert_eq!(v["host"].as_str(), Some(host), "{v}");
                    return Ok(Simulator {
                        child,
                        stdin,
                        lines: rx,
                        host: host.to_string(),
                        port,
                        initial: v["sysinfo"].clone(),
                        seen: Vec::new(),
                    });
                }
                Some("error") => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(v["message"].to_string());
                }
                _ => {}
            }
        }
    }

    /// `HOST:PORT` for plugctl command lines.
    pub fn target(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    fn absorb(&mut self, v: Value) -> Option<Value> {
        match v["event"].as_str() {
            Some("request") => {
                self.seen.push((
                    v["protocol"].as_str().unwrap_or("").to_string(),
                    v["message"].as_str().unwrap_or("").to_string(),
                ));
                None
            }
            Some("error") => panic!("simulator error: {}", v["message"]),
            _ => Some(v),
        }
    }

    /// The simulator's own current sysinfo (asked over its stdin, not over the network).
    /// Every request it received before is in [`Simulator::requests`] afterwards.
    pub fn sysinfo(&mut self) -> Value {
        self.stdin.write_all(b"sysinfo\n").expect("write to simulator.js");
        self.stdin.flush().expect("flush");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self.lines.recv_timeout(left).expect("simulator.js answers 'sysinfo'");
            if let Some(v) = self.absorb(v) {
                if v["event"] == "sysinfo" {
                    return v["sysinfo"].clone();
                }
            }
        }
    }

    /// (protocol, decrypted request) pairs the simulator received so far, parsed as JSON.
    pub fn requests(&mut self) -> Vec<(String, Value)> {
        let _ = self.sysinfo(); // a barrier: every earlier request line has been read
        self.seen
            .iter()
            .map(|(p, m)| {
                (
                    p.clone(),
                    serde_json::from_str(m).unwrap_or_else(|e| panic!("simulator got non-JSON ({e}): {m}")),
                )
            })
            .collect()
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
