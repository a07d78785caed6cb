"""Line 4, python-kasa: time until the last of N emulated plugs is reported by
Discover.discover (on_discovered callback times, from the call).

Usage: python discover.py --target ADDR --port P --expect N [--timeout S]

Discovery is stopped as soon as N devices were reported (python-kasa would otherwise wait
out its discovery_timeout); 3 discovery packets spread over the timeout, its default.
"""
import argparse
import asyncio
import time

from kasa import Discover

from common import emit


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--expect", type=int, required=True)
    ap.add_argument("--timeout", type=int, default=10)
    a = ap.parse_args()
    times = []
    done = asyncio.Event()
    start = time.perf_counter()

    async def on_discovered(_dev):
        times.append(time.perf_counter() - start)
        if len(times) >= a.expect:
            done.set()

    task = asyncio.create_task(Discover.discover(
        target=a.target, port=a.port, discovery_timeout=a.timeout, discovery_packets=3,
        on_discovered=on_discovered,
    ))
    waiter = asyncio.create_task(done.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    for t in (task, waiter):
        t.cancel()
    await asyncio.gather(task, waiter, return_exceptions=True)
    found = len(times)
    emit({
        "bench": "discovery",
        "impl": "python-kasa",
        "found": found,
        "expected": a.expect,
        "first_ms": round(times[0] * 1e3, 1) if times else None,
        "last_ms": round(times[a.expect - 1] * 1e3, 1) if found >= a.expect else None,
    })


asyncio.run(main())
