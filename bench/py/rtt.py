"""Median get_sysinfo round trip of python-kasa on one kept-open connection.

Usage: python python_kasa_rtt.py HOST PORT [N]; prints one JSON line like kasa_rtt.
Uses python-kasa's own IotProtocol over XorTransport, the path its Device.update() takes.
"""
import asyncio
import json
import statistics
import sys
import time

from kasa import DeviceConfig
from kasa.protocols import IotProtocol
from kasa.transports import XorTransport


async def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    proto = IotProtocol(transport=XorTransport(config=DeviceConfig(host, port_override=port)))
    req = {"system": {"get_sysinfo": {}}}
    for _ in range(100):
        await proto.query(req)
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        await proto.query(req)
        samples.append(time.perf_counter() - t)
    await proto.close()
    samples.sort()
    print(json.dumps({
        "impl": "python-kasa",
        "median_us": round(statistics.median(samples) * 1e6, 1),
        "p99_us": round(samples[int(round((len(samples) - 1) * 0.99))] * 1e6, 1),
        "n": len(samples),
    }))


asyncio.run(main())
