#!/usr/bin/env bash
# Median get_sysinfo round trip, plugctl vs python-kasa, against the same emulated plug in one
# run. Loopback only. Usage: bench/sysinfo_rtt.sh [N]   (N requests each, default 2000)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000}
venv=.venv-interop
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import kasa' 2>/dev/null; then
  python3 -m venv "$venv" && "$venv/bin/pip" install --quiet "python-kasa==0.12.0"
fi
cargo build --release --quiet -p plugctl -p plugctl-bench
emu_out=$(mktemp)
./target/release/plugctl emulate kasa --model hs110-hw4 --base 127.0.0.2 --port 0 --json >"$emu_out" &
emu=$!
trap 'kill $emu 2>/dev/null; rm -f "$emu_out"' EXIT
for _ in $(seq 100); do grep -q '"port"' "$emu_out" && break; sleep 0.05; done
host=$(python3 -c 'import json,sys; d=json.loads(open(sys.argv[1]).readline()); print(d["host"], d["port"])' "$emu_out")
set -- $host
ours=$(./target/release/kasa_rtt "$1:$2" "$n")
theirs=$("$venv/bin/python" bench/python_kasa_rtt.py "$1" "$2" "$n")
python3 - "$ours" "$theirs" <<'PY'
import json, sys
o, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"{'client':<12} {'median µs':>10} {'p99 µs':>10} {'n':>6}")
for r in (o, t):
    print(f"{r['impl']:<12} {r['median_us']:>10.1f} {r['p99_us']:>10.1f} {r['n']:>6}")
print(f"ratio (python-kasa / plugctl, median): {t['median_us'] / o['median_us']:.1f}x")
PY
