//! Running programs under test (ours and third-party ones) with a hang guard, and finding the
//! pinned third-party clients `scripts/test.sh` installs.

use std::{
    path::PathBuf,
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

/// Waits for `child`, killing it after `guard`. `Err` carries what it printed before it was
/// killed (a hang). The guard only protects the suite; it is never a performance assertion.
pub fn wait_guarded(mut child: Child, guard: Duration) -> Result<Output, Output> {
    let deadline = Instant::now() + guard;
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => break,
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                return Err(child.wait_with_output().expect("collect a killed child's output"));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    Ok(child.wait_with_output().expect("collect output"))
}

/// Runs `cmd` (stdin closed, outputs captured) to completion under a 90 s hang guard; panics
/// on a hang, naming `what`. Returns (success, stdout, stderr).
pub fn run_guarded(mut cmd: Command, what: &str) -> (bool, String, String) {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    match wait_guarded(child, Duration::from_secs(90)) {
        Ok(out) => (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ),
        Err(out) => panic!(
            "{what} hung\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// python-kasa's `kasa` executable: `PLUGCTL_PYTHON_KASA`, else `.venv-interop/bin/kasa`.
/// Missing is a failure, not a skip.
pub fn python_kasa_cli() -> PathBuf {
    let p = std::env::var_os("PLUGCTL_PYTHON_KASA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv-interop/bin/kasa"));
    assert!(
        p.exists(),
        "python-kasa not found at {} — run ./scripts/test.sh, which installs it",
        p.display()
    );
    p
}

/// The Python of python-kasa's virtualenv (beside [`python_kasa_cli`]).
pub fn python_kasa_python() -> PathBuf {
    let py = python_kasa_cli().with_file_name("python");
    assert!(py.exists(), "python-kasa's Python not found at {} — run ./scripts/test.sh", py.display());
    py
}

/// A `Command` for python-kasa's CLI with a stable, colourless, wide output.
pub fn python_kasa_command() -> Command {
    let mut c = Command::new(python_kasa_cli());
    c.env("NO_COLOR", "1").env("COLUMNS", "200");
    c
}
