"""Line 2, python-kasa: N emulated plugs polled at once, driven with asyncio.gather.

Usage: python fleet_poll.py --devices FILE --count N [--seconds D] [--mode query|update]

The workload is the one of bench/src/workload.rs: every connection is opened and used once
(256 at a time) before timing; then one coroutine per device, all under one
asyncio.gather, loops request -> reply on its kept-open connection for D seconds.

--mode query (default): IotProtocol.query({"system":{"get_sysinfo":{}}}) over XorTransport,
  the same request bytes as ours and the floor: the fair comparison.
--mode update: IotPlug.update(), what Home Assistant calls per device per poll; it asks
  sysinfo plus the modules due (energy meter, ...) in one batched request, so each "request"
  carries more work than a bare get_sysinfo.
"""
import argparse
import asyncio
import time

from kasa import DeviceConfig
from kasa.iot import IotPlug
from kasa.protocols import IotProtocol
from kasa.transports import XorTransport

from common import emit, load_devices, quantile, us

REQ = {"system": {"get_sysinfo": {}}}
CONNECT_CONCURRENCY = 256


def make_poller(host, port, mode):
    config = DeviceConfig(host, port_override=port)
    if mode == "update":
        dev = IotPlug(host, config=config)
        return dev.update, dev.protocol.close
    proto = IotProtocol(transport=XorTransport(config=config))
    return (lambda: proto.query(REQ)), proto.close


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--devices", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--mode", choices=["query", "update"], default="query")
    a = ap.parse_args()
    pollers = [make_poller(h, p, a.mode) for h, p in load_devices(a.devices, a.count)]

    sem = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def warm(poll):
        async with sem:
            await poll()

    await asyncio.gather(*(warm(poll) for poll, _ in pollers))

    deadline = 0.0

    async def worker(poll):
        samples = []
        try:
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                await poll()
                samples.append(time.perf_counter() - t)
        except Exception:  # noqa: BLE001 - a failure ends this device's loop, counted
            return samples, 1
        return samples, 0

    cpu0 = time.process_time()
    start = time.perf_counter()
    deadline = start + a.seconds
    results = await asyncio.gather(*(worker(poll) for poll, _ in pollers))
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu0
    for _, close in pollers:
        await close()
    samples = sorted(s for r, _ in results for s in r)
    errors = sum(e for _, e in results)
    n = len(samples)
    emit({
        "bench": "fleet",
        "impl": "python-kasa" if a.mode == "query" else "python-kasa-update",
        "devices": a.count,
        "seconds": round(elapsed, 3),
        "requests": n,
        "errors": errors,
        "rps": round(n / elapsed, 1),
        "median_us": us(quantile(samples, 0.5)) if n else None,
        "p99_us": us(quantile(samples, 0.99)) if n else None,
        "cpu_us_per_req": round(cpu * 1e6 / n, 1) if n else None,
    })


asyncio.run(main())
