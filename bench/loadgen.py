"""A small aiohttp load generator, used by bench/pledges.py when wrk is not installed.

Prints one line `BENCH {json}` in the same shape as bench/pledges.lua. Slower than wrk: on two cores it
competes with the server for CPU, so prefer wrk (apt-get install wrk) for figures worth quoting.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

import aiohttp


async def main(url: str, connections: int, duration: float) -> None:
    key, run = os.environ["BENCH_KEY"], os.environ["BENCH_RUN"]
    body = b'{"quantity": "1", "estimated_value": "30.00"}'
    latencies: list[float] = []
    non_2xx = errors = 0
    deadline = time.perf_counter() + duration
    connector = aiohttp.TCPConnector(limit=connections)

    async with aiohttp.ClientSession(connector=connector) as session:

        async def client(index: int) -> None:
            nonlocal non_2xx, errors
            count = 0
            while time.perf_counter() < deadline:
                count += 1
                headers = {
                    "Authorization": f"Bearer {key}",
                    "Content-Type": "application/json",
                    "Idempotency-Key": f"{run}-{index}-{count}",
                }
                started = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        if not 200 <= response.status < 300:
                            non_2xx += 1
                except aiohttp.ClientError:
                    errors += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(connections)))
        elapsed = time.perf_counter() - started

    latencies.sort()

    def pct(p: float) -> int:
        return int(latencies[min(len(latencies) - 1, int(len(latencies) * p))] * 1e6) if latencies else 0

    print("BENCH " + json.dumps({
        "requests": len(latencies), "duration_us": int(elapsed * 1e6), "non_2xx": non_2xx,
        "socket_errors": errors, "p50_us": pct(0.5), "p95_us": pct(0.95), "p99_us": pct(0.99),
        "max_us": int(latencies[-1] * 1e6) if latencies else 0,
    }))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
