#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ for a fixed time each and prints a summary table.
#
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
#   SECONDS  time per target (default 60); the CI smoke uses 10, release runs 600 or more
#   TARGET   target names (default: every target `cargo fuzz list` shows)
#
# Builds once with `cargo fuzz build --sanitizer none` (stable Rust: no sanitizer runtime,
# coverage instrumentation only; see fuzz/README.md), into target/fuzz/. Each target runs with
# its seed corpus fuzz/corpus/<target>/ read-only and a work corpus
# target/fuzz-work/<target>/corpus/ that collects the new inputs (kept out of git); crash,
# timeout and out-of-memory inputs go to target/fuzz-work/<target>/artifacts/.
#
# Exits non-zero if any target crashed (or could not run); the crashing input's path and the
# command that reproduces it are printed.
#
# Targets run one after another, one process each. FUZZ_ARGS adds libFuzzer options to every
# run (e.g. FUZZ_ARGS="-seed=1").
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

seconds=${1:-60}
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: scripts/fuzz.sh [SECONDS] [TARGET...]  (SECONDS must be a positive integer)" >&2
  exit 2
fi
shift || true

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "==> cargo-fuzz missing; installing it"
  cargo install cargo-fuzz --locked
fi

target_dir="$root/target/fuzz"
work="$root/target/fuzz-work"
triple=$(rustc -vV | sed -n 's/^host: //p')
bin_dir="$target_dir/$triple/release"

cd "$root/fuzz"
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo fuzz list)
fi

echo "==> cargo fuzz build (${#targets[@]} targets)"
build_start=$(date +%s)
cargo fuzz build --sanitizer none --target-dir "$target_dir"
echo "    built in $(($(date +%s) - build_start)) s"

# Dictionaries by target family.
dict_for() {
  case "$1" in
    kasa_reply_models | emulator_kasa_request | kasa_datagram) echo "$root/fuzz/dict/kasa_json.dict" ;;
    hf_* | emulator_hf_request) echo "$root/fuzz/dict/hf_at.dict" ;;
    *) echo "" ;;
  esac
}

summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
failed=0
failures=()
for t in "${targets[@]}"; do
  bin="$bin_dir/$t"
  if [ ! -x "$bin" ]; then
    echo "error: no fuzz target $t ($bin)" >&2
    failed=1
    failures+=("$t: not built")
    continue
  fi
  dir="$work/$t"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  seeds="$root/fuzz/corpus/$t"
  [ -d "$seeds" ] || seeds=""
  dict=$(dict_for "$t")
  log="$dir/last-run.log"
  before=$(find "$dir/artifacts" -type f | wc -l)
  echo "==> $t: ${seconds}s (log $log)"
  start=$(date +%s.%N)
  set +e
  # The work corpus comes first: libFuzzer writes new inputs to the first directory only,
  # so the seed corpus in git stays as it is.
  # shellcheck disable=SC2086
  "$bin" "$dir/corpus" ${seeds:+"$seeds"} \
    -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$dir/artifacts/" ${dict:+-dict="$dict"} ${FUZZ_ARGS:-} >"$log" 2>&1
  rc=$?
  set -e
  elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ -z "$execs" ]; then
    # No final stats (a crash ends the run early): take the last status line's count.
    execs=$(grep -Eo '^#[0-9]+' "$log" | tail -1 | tr -d '#')
  fi
  execs=${execs:-0}
  corpus=$(find "$dir/corpus" -type f | wc -l)
  after=$(find "$dir/artifacts" -type f | wc -l)
  crashes=$((after - before))
  if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
    crashes=1
  fi
  rate=$(awk -v n="$execs" -v s="$elapsed" 'BEGIN { printf "%.0f", (s > 0 ? n / s : 0) }')
  printf '%-24s %8.0f %12s %10s %8s %8s\n' "$t" "$elapsed" "$execs" "$rate" "$corpus" "$crashes" >>"$summary"
  if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    failed=1
    artifact=$(grep -Eo 'Test unit written to [^ ]+' "$log" | tail -1 | sed 's/Test unit written to //')
    failures+=("$t: exit $rc, input ${artifact:-?}")
    echo "!!! $t failed (exit $rc). Last lines of $log:"
    grep -E 'panicked|ERROR|SUMMARY|Test unit written' "$log" | head -10 || tail -20 "$log"
    if [ -n "$artifact" ]; then
      echo "    crashing input: $artifact"
      echo "    reproduce:      (cd fuzz && cargo fuzz run --sanitizer none --target-dir $target_dir $t $artifact)"
    fi
  fi
done

echo
printf '%-24s %8s %12s %10s %8s %8s\n' target seconds execs execs/s corpus crashes
cat "$summary"
if [ "$failed" -ne 0 ]; then
  echo
  echo "FUZZ FAILURES:"
  printf '  %s\n' "${failures[@]}"
  exit 1
fi
