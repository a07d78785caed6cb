#!/usr/bin/env bash
# The whole test suite, with everything it needs installed first.
# Usage: ./scripts/test.sh            (from a fresh clone with ../shared beside it)
# Installs when missing: a virtualenv with the pinned python-kasa, and the pinned
# tplink-smarthome-api and tplink-smarthome-simulator from npm (interop tests).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

PYTHON_KASA_VERSION=0.12.0
venv="$root/.venv-interop"

# --- third-party clients the interop tests drive -------------------------------------------
if ! "$venv/bin/kasa" --version 2>/dev/null | grep -q "$PYTHON_KASA_VERSION"; then
  echo "==> installing python-kasa $PYTHON_KASA_VERSION into $venv"
  if ! python3 -m venv "$venv" 2>/dev/null; then
    echo "==> python3-venv missing; installing it with apt-get"
    apt-get update -qq && apt-get install -y -qq python3-venv python3-pip >/dev/null
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check "python-kasa==$PYTHON_KASA_VERSION"
fi
export PLUGCTL_PYTHON_KASA="$venv/bin/kasa"
export PLUGCTL_PYTHON="$venv/bin/python"

# tplink-smarthome-api and tplink-smarthome-simulator, pinned in crates/cli/tests/node/package.json
# and package-lock.json, installed with `npm ci` into .node-interop/ when missing or stale.
node_src="$root/crates/cli/tests/node"
node_dir="$root/.node-interop"
node_interop_current() {
  cmp -s "$node_src/package.json" "$node_dir/package.json" &&
    cmp -s "$node_src/package-lock.json" "$node_dir/package-lock.json" &&
    node -e '
      const dir = process.argv[1];
      const pins = require(dir + "/package.json").dependencies;
      for (const [name, want] of Object.entries(pins)) {
        const got = require(dir + "/node_modules/" + name + "/package.json").version;
        if (got !== want) process.exit(1);
      }' "$node_dir" 2>/dev/null
}
if ! command -v npm >/dev/null 2>&1; then
  echo "==> node/npm missing; installing them with apt-get"
  apt-get update -qq && apt-get install -y -qq nodejs npm >/dev/null
fi
if ! node_interop_current; then
  echo "==> installing tplink-smarthome-api and tplink-smarthome-simulator into $node_dir"
  mkdir -p "$node_dir"
  cp "$node_src/package.json" "$node_src/package-lock.json" "$node_dir/"
  (cd "$node_dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
  node_interop_current || { echo "error: node interop install in $node_dir is incomplete" >&2; exit 1; }
fi
export PLUGCTL_NODE_INTEROP="$node_dir"

# Debian's Chromium, driven headless by the dashboard's browser tests (crates/hub/tests/web_browser.rs).
if [ ! -x /usr/bin/chromium ]; then
  echo "==> chromium missing; installing it with apt-get"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

# Debian's Mosquitto, started by the MQTT bridge tests on a free loopback port
# (crates/hub/tests/mqtt_*.rs); the package's own service is not needed or used.
if [ ! -x /usr/sbin/mosquitto ]; then
  echo "==> mosquitto missing; installing it with apt-get"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null
fi

# The openssl command, which makes the private CA and broker certificate of the MQTT TLS test
# (crates/hub/tests/mqtt_tls.rs).
if ! command -v openssl >/dev/null 2>&1; then
  echo "==> openssl missing; installing it with apt-get"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
fi

# --- fixtures: real device dumps beside the repository --------------------------------------
if [ -z "${PLUGCTL_FIXTURES:-}" ]; then
  export PLUGCTL_FIXTURES="$(cd "$root/.." && pwd)/shared/fixtures/kasa"
fi
if [ ! -d "$PLUGCTL_FIXTURES" ]; then
  echo "error: PLUGCTL_FIXTURES=$PLUGCTL_FIXTURES does not exist (expected ../shared/fixtures/kasa)" >&2
  exit 1
fi

# --- style gates ---------------------------------------------------------------------------
echo "==> cargo fmt --check"
cargo fmt --all -- --check
echo "==> cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

# --- the tests -----------------------------------------------------------------------------
echo "==> cargo test"
mkdir -p "$root/target"
set +e
cargo test --workspace --all-targets 2>&1 | tee "$root/target/test-output.txt"
status=${PIPESTATUS[0]}
set -e

# --- fuzz smoke: every cargo-fuzz target for 10 s (fuzz/README.md); a crash fails the run ---
echo "==> fuzz smoke (scripts/fuzz.sh 10)"
fuzz_status=0
"$root/scripts/fuzz.sh" 10 || fuzz_status=$?
if [ "$fuzz_status" -ne 0 ]; then
  echo "fuzz smoke FAILED (see the crashing inputs listed above)"
  [ "$status" -ne 0 ] || status=$fuzz_status
fi

passed=$(grep -E '^test result:' "$root/target/test-output.txt" | grep -Eo '[0-9]+ passed' | awk '{s+=$1} END {print s+0}')
failed=$(grep -E '^test result:' "$root/target/test-output.txt" | grep -Eo '[0-9]+ failed' | awk '{s+=$1} END {print s+0}')
echo "total: $passed passed, $failed failed"
exit "$status"
