"""Benchmark: the pledges export streams, so the server's memory does not grow with the rows.

    make bench-exports                      # or: .venv/bin/python bench/exports.py --rows 10000 100000
    RELIEF_DATABASE_URL=postgresql://… make bench-exports   # on another server

Makes a fresh database with one incident per size, each holding that many pledges (inserted with SQL,
not through the API), starts `relief serve`, then downloads each incident's pledges.csv while sampling
the server process's resident set size (RSS) every few milliseconds. It prints rows, seconds, rows/s
and the RSS before and at its peak: with a streamed export the peak stays the same whether the file
has 10,000 rows or 100,000.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
import time
import urllib.request

import psutil
from harness import fresh_database, progress, relief_serve

from models.keys import Role
from relief import db, keys
from relief.auth import SYSTEM

SAMPLE_SECONDS = 0.005
MB = 1024 * 1024


async def prepare(url: str, sizes: list[int]) -> tuple[str, dict[int, str]]:
    """A viewer key, and for each size an incident with one money call and that many pledges."""
    conn = await db.connect(url)
    try:
        await db.migrate(conn)
        viewer = (await keys.create(conn, actor=SYSTEM, name="bench viewer", role=Role.viewer)).key
        org = await conn.fetchval(
            """
            insert into organizations (name, credit_code, kind, region, status)
            values ('压测救援队', '91350100M000100Y43', 'volunteer_team', '320500', 'approved') returning id
            """
        )
        incidents = {}
        for size in sizes:
            incident = await conn.fetchval(
                """
                insert into incidents (code, title, type, severity, regions, started_at)
                values ($1, 'bench', 'typhoon', 'II', '{320500}', now()) returning id
                """,
                f"BENCH-{size}",
            )
            call = await conn.fetchval(
                """
                insert into calls (incident_id, kind, title, requested, currency, status, allow_overpledge)
                values ($1, 'money', '善款', 1000000000000, 'CNY', 'open', true) returning id
                """,
                incident,
            )
            started = time.perf_counter()
            await conn.execute(
                """
                insert into pledges (call_id, incident_id, organization_id, kind, quantity, currency, status,
                                     delivered_quantity, created_at)
                select $1, $2, $3, 'money', 1000 + n % 5000 + 0.50, 'CNY',
                       (array['pledged', 'accepted', 'delivered'])[n % 3 + 1],
                       case when n % 3 = 2 then 1000 + n % 5000 end,
                       timestamptz '2023-07-29 00:00:00+00' + n * interval '10 ms'
                  from generate_series(1, $4::int) n
                """,
                call, incident, org, size,
            )
            await conn.execute("analyze pledges")
            progress(f"{size:,} pledges inserted in {time.perf_counter() - started:.1f} s")
            incidents[size] = str(incident)
    finally:
        await conn.close()
    return viewer, incidents


def download(url: str, key: str, server: psutil.Process) -> dict:
    """Read the whole export in 64 KiB pieces while another thread samples the server's RSS."""
    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append(server.memory_info().rss)
            time.sleep(SAMPLE_SECONDS)

    before = server.memory_info().rss
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    lines = size = 0
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=300) as response:
        while piece := response.read(64 * 1024):
            size += len(piece)
            lines += piece.count(b"\r\n")
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    return {"rows": lines - 2, "seconds": seconds, "bytes": size, "before": before,
            "peak": max([before, *samples]), "samples": len(samples)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000],
                        help="pledges per export to measure (default 10000 100000)")
    args = parser.parse_args()
    sizes = sorted(set(args.rows))

    results = []
    with fresh_database() as database:
        viewer, incidents = asyncio.run(prepare(database.url, sizes))
        with relief_serve(database) as served:
            process = psutil.Process(served.pid)
            path = "/v1/incidents/{}/exports/pledges.csv"
            progress("warming up (one download of the smallest export)")
            download(served.base + path.format(incidents[sizes[0]]), viewer, process)
            for size in sizes:
                progress(f"downloading pledges.csv with {size:,} rows")
                results.append(download(served.base + path.format(incidents[size]), viewer, process))

    print(f"{'rows':>9} {'seconds':>8} {'rows/s':>9} {'MB sent':>8} {'RSS before':>11} {'RSS peak':>9} {'growth':>8}")
    for r in results:
        print(f"{r['rows']:>9,} {r['seconds']:>8.2f} {r['rows'] / r['seconds']:>9,.0f} {r['bytes'] / MB:>8.1f} "
              f"{r['before'] / MB:>9.1f}MB {r['peak'] / MB:>7.1f}MB {(r['peak'] - r['before']) / MB:>+6.1f}MB")
    if len(results) > 1:
        small, large = results[0], results[-1]
        ratio = large["rows"] / max(small["rows"], 1)
        print(f"{ratio:.0f}× the rows: peak RSS {large['peak'] / MB:.1f} MB vs {small['peak'] / MB:.1f} MB "
              f"({(large['peak'] - small['peak']) / MB:+.1f} MB)")
    return 0



if __name__ == "__main__":
    sys.exit(main())
