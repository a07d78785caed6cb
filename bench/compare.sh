#!/usr/bin/env bash
# plugctl vs python-kasa vs a raw-socket floor, side by side in one run (plugctl issue 7).
#
# Builds in release mode, starts emulated fleets (`plugctl emulate kasa`, a separate process,
# one loopback address per plug), runs every measuring program (each prints one JSON line)
# and prints the table: medians, p99, requests/s, ratios ours/peer and ours/floor, target
# met or not; then the machine and the date. Loopback only; every port is picked free.
#
#   bench/compare.sh [--quick] [--lines 1,2,3,4,5,6] [--hub-seconds S] [--seconds D]
#                    [--markdown] [--plot-to FILE] [--python-10k] [--out DIR]
#   bench/compare.sh --report DIR [--markdown] [--plot-to FILE]   (re-render a finished run)
#
#   --quick         small fleets and short runs: a smoke run of a couple of minutes
#   --lines L       only these lines (default all: 1..6)
#   --hub-seconds S how long hub_scale measures (line 5; default 300, quick 10)
#   --seconds D     duration of each fleet-poll run (line 2; default 10, quick 2)
#   --markdown      print the table in Markdown (to paste into bench/RESULTS.md)
#   --plot-to FILE  also copy the plot there (e.g. bench/plot.svg)
#   --python-10k    also drive python-kasa at N = 10 000 (skipped by default: slow)
#   --profile       also profile line 2 at N = 1 000 with `perf record` (client and emulator
#                   process, kernel included): DIR/profile-fleet-1000.txt, top entries printed
#   --out DIR       where results go (default bench/out/<UTC date-time>)
#
# Results: DIR/results.jsonl (every JSON line), DIR/table.txt, DIR/plot.svg, logs in DIR/.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

quick=0 lines="1,2,3,4,5,6" hub_seconds="" seconds="" markdown=0 plot_to="" py10k=0 out="" report="" profile=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --lines) lines=${2:?--lines needs a value}; shift ;;
    --hub-seconds) hub_seconds=${2:?--hub-seconds needs a value}; shift ;;
    --seconds) seconds=${2:?--seconds needs a value}; shift ;;
    --markdown) markdown=1 ;;
    --plot-to) plot_to=${2:?--plot-to needs a value}; shift ;;
    --python-10k) py10k=1 ;;
    --profile) profile=1 ;;
    --out) out=${2:?--out needs a value}; shift ;;
    --report) report=${2:?--report needs a directory}; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

die() { echo "compare.sh: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 is required but not installed ($2)"; }
has_line() { case ",$lines," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

need python3 "apt-get install python3 python3-venv"
render() { # DIR: table (and plot) from DIR/results.jsonl
  local md=()
  [ "$markdown" = 1 ] && md=(--markdown)
  python3 bench/py/report.py plot "$1/results.jsonl" "$1/plot.svg"
  python3 bench/py/report.py table "$1/results.jsonl" "${md[@]}" | tee "$1/table.txt"
  echo
  echo "results: $1/results.jsonl   plot: $1/plot.svg"
  if [ -n "$plot_to" ]; then cp "$1/plot.svg" "$plot_to" && echo "plot copied to $plot_to"; fi
}
if [ -n "$report" ]; then
  [ -f "$report/results.jsonl" ] || die "$report/results.jsonl not found"
  render "$report"
  exit 0
fi

need cargo "https://rustup.rs"
[ "$profile" = 1 ] && need perf "apt-get install linux-perf"
if [ "$quick" = 1 ]; then
  sizes=(10 100 1000); secs=${seconds:-2}; rtt_n=1000; cli_ours=30; cli_peer=5
  disc_runs=1; hub_devices=1000; hub_seconds=${hub_seconds:-10}; emu_devices=1000; emu_secs=2
else
  sizes=(10 100 1000 10000); secs=${seconds:-10}; rtt_n=5000; cli_ours=200; cli_peer=30
  disc_runs=3; hub_devices=10000; hub_seconds=${hub_seconds:-300}; emu_devices=10000; emu_secs=5
fi
disc_devices=1000

out=${out:-bench/out/$(date -u +%Y-%m-%dT%H%M%SZ)}
mkdir -p "$out"
results=$out/results.jsonl
: >"$results"

# python-kasa 0.12.0 in the interop venv (the same one scripts/test.sh uses).
venv=.venv-interop
py=$venv/bin/python
if ! "$py" -c 'from importlib.metadata import version; assert version("python-kasa") == "0.12.0"' 2>/dev/null; then
  echo "== installing python-kasa 0.12.0 into $venv"
  python3 -m venv "$venv" || die "cannot create a venv (apt-get install python3-venv)"
  "$venv/bin/pip" install --quiet "python-kasa==0.12.0" || die "pip install python-kasa==0.12.0 failed"
fi

echo "== building (release)"
cargo build --release --quiet -p plugctl -p plugctl-bench || die "release build failed"
bin=$root/target/release
plugctl=$bin/plugctl
shared=()
if "$plugctl" emulate kasa --help 2>/dev/null | grep -q -- '--shared-sockets'; then shared=(--shared-sockets); fi

python3 bench/py/report.py machine --python "$py" --rustc-version "$(rustc --version)" >>"$results"

# Background processes are killed on exit, whatever happens.
emu_pid=""
cleanup() {
  if [ -n "$emu_pid" ]; then kill "$emu_pid" 2>/dev/null || true; wait "$emu_pid" 2>/dev/null || true; fi
  rm -f "$out/emu.fifo"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_fleet N: starts `plugctl emulate kasa` with N plugs from 127.0.0.2 on a free port and
# waits until it has announced all N (its JSON lines, saved to $fleet); sets $host $port.
start_fleet() {
  local n=$1 flags=() line i=0
  stop_fleet
  [ "$n" -gt 5000 ] && [ ${#shared[@]} -eq 0 ] && return 1
  [ ${#shared[@]} -gt 0 ] && flags=("${shared[@]}")
  fleet=$out/fleet-$n.jsonl
  rm -f "$out/emu.fifo" && mkfifo "$out/emu.fifo"
  "$plugctl" emulate kasa --count "$n" --base 127.0.0.2 --port 0 --json "${flags[@]}" \
    >"$out/emu.fifo" 2>"$out/emulator-$n.log" &
  emu_pid=$!
  exec 3<"$out/emu.fifo"
  : >"$fleet"
  while [ $i -lt "$n" ]; do
    if ! IFS= read -r -t 300 line <&3; then
      exec 3<&-
      die "the emulator ($n plugs) stopped before announcing them all; see $out/emulator-$n.log"
    fi
    case "$line" in '{'*'"host"'*) echo "$line" >>"$fleet"; i=$((i + 1)) ;; esac
  done
  read -r host port < <(python3 -c 'import json,sys; d=json.loads(sys.stdin.readline()); print(d["host"], d["port"])' <"$fleet")
}
stop_fleet() {
  if [ -n "$emu_pid" ]; then
    kill "$emu_pid" 2>/dev/null || true
    wait "$emu_pid" 2>/dev/null || true
    emu_pid=""
    exec 3<&- 2>/dev/null || true
  fi
}
# run LABEL CMD…: runs a measuring program, appends its JSON line to the results.
run() {
  local label=$1 res
  shift
  echo "   $label" >&2
  if ! res=$("$@" 2>>"$out/errors.log"); then
    echo "   $label FAILED (see $out/errors.log)" >&2
    echo "{\"bench\":\"failed\",\"what\":\"$label\"}" >>"$results"
    return 0
  fi
  printf '%s\n' "$res" | grep '^{' >>"$results" || true
}

# profile_fleet N: where the time goes while ours polls N plugs (the fleet is running): the
# client and the emulator process are sampled separately (both are tokio, so their thread
# names would not tell them apart), kernel time included.
profile_fleet() {
  local n=$1 prof=$out/profile-fleet-$1.txt perf_pid
  echo "   profiling ours at N=$n (perf record)" >&2
  perf record -g -F 999 -p "$emu_pid" -o "$out/perf-emulator.data" >/dev/null 2>>"$out/errors.log" &
  perf_pid=$!
  if ! perf record -g -F 999 -o "$out/perf-client.data" -- "$bin/fleet_poll" --devices "$fleet" --count "$n" \
      --seconds "$secs" >/dev/null 2>>"$out/errors.log"; then
    echo "   perf record failed (see $out/errors.log)" >&2
  fi
  kill -INT "$perf_pid" 2>/dev/null || true
  wait "$perf_pid" 2>/dev/null || true
  {
    for who in client emulator; do
      [ -f "$out/perf-$who.data" ] || continue
      echo "== $who: $(perf report -i "$out/perf-$who.data" --stdio 2>/dev/null | grep -m1 '^# Samples' | sed 's/^# //')"
      perf report -i "$out/perf-$who.data" --stdio --no-children --sort dso,symbol -g none --percent-limit 1.5 \
        2>/dev/null | grep -v '^#' | grep -v '^$' | head -20
    done
  } >"$prof"
  rm -f "$out/perf-client.data" "$out/perf-emulator.data"
}

if has_line 1; then
  echo "== line 1: get_sysinfo round trip on one kept-open connection ($rtt_n requests each)"
  start_fleet 1
  run "ours" "$bin/kasa_rtt" "$host:$port" --requests "$rtt_n"
  run "floor" "$bin/floor" rtt "$host:$port" --requests "$rtt_n"
  run "python-kasa" "$py" bench/py/rtt.py "$host" "$port" "$rtt_n"
fi

if has_line 2; then
  for n in "${sizes[@]}"; do
    echo "== line 2: polling N=$n plugs at once, ${secs} s per client"
    if ! start_fleet "$n"; then
      echo "{\"bench\":\"fleet\",\"impl\":\"plugctl\",\"devices\":$n,\"skipped\":\"needs emulate --shared-sockets\"}" >>"$results"
      continue
    fi
    run "ours N=$n" "$bin/fleet_poll" --devices "$fleet" --count "$n" --seconds "$secs"
    run "floor N=$n" "$bin/floor" fleet --devices "$fleet" --count "$n" --seconds "$secs"
    if [ "$n" -le 1000 ] || [ "$py10k" = 1 ]; then
      run "python-kasa N=$n" "$py" bench/py/fleet_poll.py --devices "$fleet" --count "$n" --seconds "$secs"
    else
      echo "{\"bench\":\"fleet\",\"impl\":\"python-kasa\",\"devices\":$n,\"skipped\":\"too slow; --python-10k runs it\"}" >>"$results"
    fi
    if [ "$n" = 1000 ]; then
      run "python-kasa update() N=$n" "$py" bench/py/fleet_poll.py --devices "$fleet" --count "$n" --seconds "$secs" --mode update
      [ "$profile" = 1 ] && profile_fleet "$n"
    fi
  done
fi

if has_line 3; then
  echo "== line 3: cold CLI, whole process ($cli_ours runs ours, $cli_peer runs python-kasa)"
  start_fleet 1
  run "ours" "$bin/cold_cli" --label plugctl --runs "$cli_ours" -- "$plugctl" state "$host:$port"
  run "python-kasa" "$bin/cold_cli" --label python-kasa --runs "$cli_peer" --warmup 1 -- \
    "$venv/bin/kasa" --host "$host" --port "$port" --type plug state
fi

if has_line 4; then
  echo "== line 4: discovery of $disc_devices plugs on 127.255.255.255 ($disc_runs run(s) each)"
  if start_fleet "$disc_devices"; then
    for _ in $(seq "$disc_runs"); do
      run "ours (library)" "$bin/discover_fleet" --target 127.255.255.255 --port "$port" --expect "$disc_devices" --timeout 10
      run "ours (CLI process)" "$bin/discover_fleet" --cli "$plugctl" --target 127.255.255.255 --port "$port" --expect "$disc_devices" --timeout 10
      run "python-kasa" "$py" bench/py/discover.py --target 127.255.255.255 --port "$port" --expect "$disc_devices" --timeout 10
    done
  fi
fi
stop_fleet

if has_line 5; then
  echo "== line 5: the hub polling $hub_devices plugs at 1 Hz for $hub_seconds s"
  if [ -x "$bin/hub_scale" ]; then
    run "hub_scale" "$bin/hub_scale" --devices "$hub_devices" --seconds "$hub_seconds" --plugctl "$plugctl"
  else
    echo '{"bench":"hub_skipped","reason":"hub_scale not built"}' >>"$results"
  fi
fi

if has_line 6; then
  echo "== line 6: the emulator, $emu_devices devices in one process"
  if [ -x "$bin/emulator_capacity" ]; then
    run "emulator_capacity" "$bin/emulator_capacity" --devices "$emu_devices" --seconds "$emu_secs"
  else
    echo '{"bench":"emulator_skipped","reason":"emulator_capacity not built"}' >>"$results"
  fi
fi

echo
render "$out"
if [ -f "$out/profile-fleet-1000.txt" ]; then
  echo
  echo "Profile of ours polling 1 000 plugs ($out/profile-fleet-1000.txt):"
  head -45 "$out/profile-fleet-1000.txt" | cut -c1-150
fi
