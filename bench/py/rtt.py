"""Line 1, python-kasa: get_sysinfo round trip on one kept-open connection.

Usage: python rtt.py HOST PORT [N]; prints {"bench":"rtt","impl":"python-kasa",...} like
kasa_rtt. Uses python-kasa's own IotProtocol over XorTransport, the path its
Device.update() takes, with the same request as ours and the floor.
"""
import asyncio
import statistics
import sys
import time

from kasa import DeviceConfig
from kasa.protocols import IotProtocol
from kasa.transports import XorTransport

from common import emit, quantile, us


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
    emit({
        "bench": "rtt",
        "impl": "python-kasa",
        "median_us": us(statistics.median(samples)),
        "p99_us": us(quantile(samples, 0.99)),
        "n": len(samples),
    })


asyncio.run(main())
