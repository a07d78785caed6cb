"""Shared helpers of the python-kasa drivers: fleet file, percentiles, JSON output.

The drivers mirror the Rust workloads in bench/src/workload.rs exactly: same requests,
same warm-up, same closed loop, same percentile rule (nearest rank on (n-1)*q).
"""
import json
import sys


def load_devices(path, count):
    """First `count` (host, port) pairs from the JSON lines `plugctl emulate kasa --json` printed."""
    out = []
    with open(path) as f:
        for line in f:
            try:
                d = json.loads(line)
            except ValueError:
                continue
            if isinstance(d, dict) and "host" in d and "port" in d:
                out.append((d["host"], int(d["port"])))
            if len(out) == count:
                return out
    sys.exit(f"{path} lists {len(out)} devices, {count} wanted")


def quantile(sorted_samples, q):
    """Nearest-rank quantile of already sorted samples."""
    return sorted_samples[int(round((len(sorted_samples) - 1) * q))]


def us(seconds):
    """Seconds to microseconds rounded to 0.1."""
    return round(seconds * 1e6, 1)


def emit(obj):
    """Prints one JSON result line."""
    print(json.dumps(obj), flush=True)
