"""Benchmark: one event fanned out to thousands of webhook subscriptions, against a bare HTTP client.

    make bench-fanout                       # or: .venv/bin/python bench/fanout.py --sizes 1000,10000
    make bench-fanout BENCH_ARGS="--receivers 2 --concurrency 256 --workers 1,2"
    make bench-fanout BENCH_ARGS="--profile /path/to/py-spy"   # also: where the worker's time goes

Starts receiver processes (aiohttp, one port each, listening on all of 127.0.0.0/8) that verify every
delivery with standardwebhooks and count unique webhook-ids. For each size and each number of workers: a
fresh database with that many subscriptions to incident.opened, spread over 250 loopback hosts × the
receiver ports (each team its own host:port, so the per-destination limit does not serialize the run),
that many `relief worker` processes, one incident opened; the clock runs from the event's commit until
the receivers have seen every webhook-id. Then, with no database, a bare aiohttp client (the same-run
ceiling) posts the same body, signed the same way, to the same URLs with the same concurrency. It prints
deliveries/s for each, the worker's ratio to the ceiling, two workers' ratio to one, and the limits it
raised. `--httpx` adds a bare httpx client (its own pool, whose bookkeeping grows with connections ×
waiting requests: about two minutes for 10,000 on a loaded 2-core machine).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import aiohttp
import httpx
from aiohttp import web
from harness import BIN, free_port, fresh_database, progress, wait_for_url
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from models.incidents import IncidentCreate
from notifications import envelope
from notifications.signing import Signer
from notifications.worker import WORKER_LOCK_CLASS
from relief import db, incidents
from relief.auth import SYSTEM
from relief.sealing import Sealer, new_secret
from relief.settings import Settings

HOSTS = 250  # 127.0.0.1 … 127.0.0.250
POLL = 0.05
TARGET_RATIO = 0.6  # one worker's rate ≥ this × the bare aiohttp client's, in the same run
TARGET_SCALING = 1.3  # two workers' rate ≥ this × one worker's
children: list[subprocess.Popen] = []


def receiver(port: int, secret: str) -> None:
    """One receiver process: verifies each POST, counts webhook-ids; GET /count, POST /reset."""
    verifier = Webhook(secret)
    seen: set[str] = set()
    counts = {"total": 0, "forged": 0}

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        counts["total"] += 1
        try:
            verifier.verify(body, dict(request.headers), json_parse=False)
        except (WebhookVerificationError, ValueError):
            counts["forged"] += 1
            return web.Response(status=400)
        seen.add(request.headers["webhook-id"])
        return web.Response(status=204)

    async def count(_: web.Request) -> web.Response:
        return web.json_response({"unique": len(seen), **counts})

    async def reset(_: web.Request) -> web.Response:
        seen.clear()
        counts.update(total=0, forged=0)
        return web.json_response({})

    app = web.Application()
    app.router.add_get("/count", count)
    app.router.add_post("/reset", reset)
    app.router.add_post("/{team}", hook)
    web.run_app(app, host="0.0.0.0", port=port, backlog=2048, print=None, access_log=None)


def stop(process: subprocess.Popen) -> int:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode


def spawn(command: list[str], env: dict[str, str], log: Path | None = None) -> subprocess.Popen:
    with open(log or os.devnull, "w") as out:
        process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                   start_new_session=True)  # Ctrl-C reaches only us; we stop them in order
    children.append(process)
    return process


async def counted(session: aiohttp.ClientSession, ports: list[int], path: str = "/count") -> dict[str, int]:
    total = {"unique": 0, "total": 0, "forged": 0}
    for port in ports:
        method = session.get if path == "/count" else session.post
        async with method(f"http://127.0.0.1:{port}{path}") as response:
            for key, value in (await response.json()).items():
                total[key] += value
    return total


def urls(size: int, ports: list[int]) -> list[str]:
    """Subscription i on host 127.0.0.(1 + i mod 250), port by i div 250: 250 × len(ports) destinations."""
    return [f"http://127.0.0.{1 + i % HOSTS}:{ports[i // HOSTS % len(ports)]}/team-{i}" for i in range(size)]


def raise_open_files() -> str:
    """Lift this process's (and so the children's) open-file limit to its hard limit: 256 connections
    in flight per worker, the receivers' sockets and the database's need more than a 1,024 default."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 1_048_576
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        return f"open files {soft:,} → {wanted:,}"
    return f"open files {soft:,} (already at the hard limit)"


async def worker_run(url: str, size: int, ports: list[int], secret: str, concurrency: int, workers: int,
                     session: aiohttp.ClientSession, profile: str | None) -> tuple[dict, str]:
    """Subscriptions, `workers` `relief worker`s, one incident opened; seconds until every webhook-id arrived."""
    conn = await db.connect(url)
    try:
        await db.migrate(conn)
        sealed = Sealer(Settings().secret_key.get_secret_value()).seal(secret)
        await conn.copy_records_to_table(
            "webhooks", columns=["url", "destination", "event_types", "secret"],
            records=[(u, u.split("/")[2], ["incident.opened"], sealed) for u in urls(size, ports)],
        )
        await conn.execute("analyze webhooks")
        logs = [Path(tempfile.gettempdir()) / f"relief-fanout-worker-{size}-{workers}-{n}.log" for n in range(workers)]
        progress(f"{size:,} subscriptions inserted; starting {workers} relief worker(s) (logs: {logs[0]}…)")
        env = {**os.environ, "RELIEF_DATABASE_URL": url, "RELIEF_LOG_FORMAT": "json",
               "RELIEF_WEBHOOK_ALLOW_PRIVATE": "true", "RELIEF_WEBHOOK_CONCURRENCY": str(concurrency)}
        procs = [spawn([str(BIN / "relief"), "worker"], env, log) for log in logs]
        spies: list[tuple[subprocess.Popen, Path]] = []
        try:
            ready = "select count(*) from pg_locks where locktype = 'advisory' and classid = $1 and objsubid = 2"
            while await conn.fetchval(ready, WORKER_LOCK_CLASS) < workers:
                if any(p.poll() is not None for p in procs):
                    raise SystemExit(f"a relief worker exited; see {', '.join(map(str, logs))}")
                await asyncio.sleep(POLL)
            await asyncio.sleep(0.5)  # its LISTEN follows the lock
            if profile:
                for n, p in enumerate(procs):
                    out = Path(tempfile.gettempdir()) / f"relief-fanout-profile-{size}-{workers}-{n}.txt"
                    spies.append((spawn([profile, "record", "--pid", str(p.pid), "--format", "raw", "--rate", "200",
                                         "--nonblocking", "--output", str(out)], os.environ), out))
                await asyncio.sleep(1.5)  # py-spy attaches
            await counted(session, ports, "/reset")
            incident = await incidents.create(conn, actor=SYSTEM, data=IncidentCreate(
                code=f"BENCH-FANOUT-{size}", title="台风杜苏芮 苏州响应", type="typhoon", severity="II",
                regions=["320500"], started_at=datetime(2023, 7, 28, 1, 55, tzinfo=UTC),
                description="Typhoon Doksuri made landfall at Jinjiang, Fujian.",
            ))
            started = time.perf_counter()  # create() has committed
            progress(f"incident.opened committed; waiting for {size:,} deliveries")
            deadline = started + 60 + size / 50
            while (got := await counted(session, ports))["unique"] < size:
                if time.perf_counter() > deadline or any(p.poll() is not None for p in procs):
                    raise SystemExit(f"only {got['unique']:,} of {size:,} delivered; see {logs}")
                await asyncio.sleep(POLL)
            seconds = time.perf_counter() - started
            query = "select count(*) from webhook_deliveries where status = 'delivered'"
            while await conn.fetchval(query) < size:
                if time.perf_counter() > deadline:
                    break
                await asyncio.sleep(POLL)
            recorded = time.perf_counter() - started
            failed = await conn.fetchval("select count(*) from webhook_attempts"
                                         " where status_code is null or status_code not between 200 and 299")
            shares = [r["n"] for r in await conn.fetch("select count(*) as n from webhook_attempts"
                                                       " group by worker order by n desc")]
        finally:
            for spy, out in spies:
                if spy.poll() is None:
                    spy.send_signal(signal.SIGINT)  # py-spy writes its samples on SIGINT
                    spy.wait(timeout=30)
                progress(f"profile: {out}")
            for p in procs:
                if stop(p) != 0:
                    progress(f"relief worker exited with {p.returncode}; see {logs}")
        event = await conn.fetchval("select id from events where type = 'incident.opened' and entity_id = $1",
                                    incident.id)
        body = (await envelope.load(conn, [event]))[event]
    finally:
        await conn.close()
    got = await counted(session, ports)
    return {"sender": f"{workers} relief worker{'s' if workers > 1 else ''}", "workers": workers, "size": size,
            "seconds": seconds, "recorded": recorded, "failed": failed, "shares": shares, **got}, body


async def bare_run(kind: str, size: int, ports: list[int], secret: str, body: str, concurrency: int,
                   session: aiohttp.ClientSession) -> dict:
    """`size` signed POSTs of `body` to the same URLs, `concurrency` at a time, with no database."""
    await counted(session, ports, "/reset")
    signer, payload, gate, failed = Signer(secret), body.encode(), asyncio.Semaphore(concurrency), 0
    if kind == "httpx":
        client = httpx.AsyncClient(timeout=30, limits=httpx.Limits(
            max_connections=concurrency, max_keepalive_connections=concurrency))
    else:
        client = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency),
                                       timeout=aiohttp.ClientTimeout(total=30))

    async def one(url: str) -> None:
        nonlocal failed
        async with gate:
            message_id, now = str(uuid.uuid4()), datetime.now(UTC)
            headers = {"content-type": "application/json", "webhook-id": message_id,
                       "webhook-timestamp": str(int(now.timestamp())),
                       "webhook-signature": signer.signature(message_id, now, body)}
            try:
                if kind == "httpx":
                    status = (await client.post(url, content=payload, headers=headers)).status_code
                else:
                    async with client.post(url, data=payload, headers=headers) as response:
                        await response.read()
                        status = response.status
                failed += not 200 <= status < 300
            except (httpx.HTTPError, aiohttp.ClientError, OSError, TimeoutError):
                failed += 1

    progress(f"bare {kind}: {size:,} POSTs, {concurrency} at a time")
    started = time.perf_counter()
    async with client:
        await asyncio.gather(*(one(u) for u in urls(size, ports)))
    seconds = time.perf_counter() - started
    return {"sender": f"bare {kind}", "size": size, "seconds": seconds, "failed": failed,
            **await counted(session, ports)}


async def measure_workers(url: str, size: int, ports: list[int], secret: str, concurrency: int, workers: int,
                          profile: str | None) -> tuple[dict, str]:
    async with aiohttp.ClientSession() as session:
        result, body = await worker_run(url, size, ports, secret, concurrency, workers, session, profile)
        progress(f"{workers} worker(s): {size:,} in {result['seconds']:.2f} s; body {len(body):,} bytes")
        return result, body


async def measure_bare(size: int, ports: list[int], secret: str, body: str, concurrency: int,
                       kinds: list[str]) -> list[dict]:
    async with aiohttp.ClientSession() as session:
        return [await bare_run(kind, size, ports, secret, body, concurrency, session) for kind in kinds]


def report(results: list[dict]) -> None:
    print(f"{'size':>7}  {'sender':<16} {'seconds':>8} {'deliveries/s':>13} {'unique':>7} {'total':>7} "
          f"{'forged':>6} {'failed':>6}  ratio to bare aiohttp")
    met = {True: "met", False: "NOT met"}
    for size in sorted({r["size"] for r in results}):
        rows = [r for r in results if r["size"] == size]
        for r in rows:
            r["rate"] = r["size"] / r["seconds"]
        bare = next(r for r in rows if r["sender"] == "bare aiohttp")["rate"]
        for r in rows:
            ratio = "" if r["sender"] == "bare aiohttp" else f"{r['rate'] / bare:.2f}"
            print(f"{size:>7,}  {r['sender']:<16} {r['seconds']:>8.2f} {r['rate']:>13,.0f} {r['unique']:>7,} "
                  f"{r['total']:>7,} {r['forged']:>6} {r['failed']:>6}  {ratio}".rstrip())
        workers = {r["workers"]: r for r in rows if "workers" in r}
        for n, r in sorted(workers.items()):
            print(f"{'':>9}({n} worker(s): all {size:,} recorded as delivered after {r['recorded']:.2f} s;"
                  f" attempts per worker {', '.join(f'{s:,}' for s in r['shares'])})")
        if 1 in workers:
            one = workers[1]["rate"]
            print(f"{'':>9}target one worker ≥ {TARGET_RATIO} × bare aiohttp ({bare:,.0f}/s in this run): "
                  f"{one / bare:.2f}, {met[one / bare >= TARGET_RATIO]}")
            if 2 in workers:
                two = workers[2]["rate"]
                print(f"{'':>9}target two workers ≥ {TARGET_SCALING} × one: {two / one:.2f}, "
                      f"{met[two / one >= TARGET_SCALING]} ({two / bare:.2f} × bare aiohttp)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000", help="subscriptions per run, comma-separated")
    parser.add_argument("--workers", default="1,2", help="relief worker processes per run, comma-separated")
    parser.add_argument("--receivers", type=int, default=2, help="receiver processes (one port each)")
    parser.add_argument("--concurrency", type=int, default=Settings().webhook_concurrency,
                        help="RELIEF_WEBHOOK_CONCURRENCY for each worker; the bare clients' concurrency")
    parser.add_argument("--httpx", action="store_true", help="also time a bare httpx client (slow)")
    parser.add_argument("--profile", metavar="PY_SPY", help="record each worker with this py-spy binary "
                        "(raw collapsed stacks in the temporary directory)")
    parser.add_argument("--receiver", type=int, help=argparse.SUPPRESS)  # internal: serve one receiver
    args = parser.parse_args()
    if args.receiver:
        receiver(args.receiver, os.environ["FANOUT_SECRET"])
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    counts = [int(n) for n in args.workers.split(",")]
    kinds = ["httpx", "aiohttp"] if args.httpx else ["aiohttp"]
    limits = [raise_open_files(), "receivers' listen backlog 2,048",
              f"RELIEF_WEBHOOK_CONCURRENCY {args.concurrency} per worker (the bare clients: the same)",
              "RELIEF_WEBHOOK_ALLOW_PRIVATE true (the receivers are on loopback)"]
    # SIGTERM as Ctrl-C (asyncio.run cancels the running measurement); the finally below stops the children.
    signal.signal(signal.SIGTERM, lambda *_: os.kill(os.getpid(), signal.SIGINT))
    secret, ports, results = new_secret(), [free_port() for _ in range(args.receivers)], []
    try:
        for port in ports:
            spawn([sys.executable, __file__, "--receiver", str(port)], {**os.environ, "FANOUT_SECRET": secret})
        for port in ports:
            wait_for_url(f"http://127.0.0.1:{port}/count", seconds=10, what=f"the receiver on port {port}")
        progress(f"{len(ports)} receivers on ports {', '.join(map(str, ports))} (hosts 127.0.0.1–127.0.0.{HOSTS})")
        for size in sizes:
            body = ""
            for workers in counts:
                with fresh_database() as database:
                    result, body = asyncio.run(measure_workers(database.url, size, ports, secret, args.concurrency,
                                                               workers, args.profile))
                results.append(result)
            results += asyncio.run(measure_bare(size, ports, secret, body, args.concurrency, kinds))
    except KeyboardInterrupt:
        progress("interrupted")
        return 130
    finally:
        for child in reversed(children):
            stop(child)
    print(f"fan-out of one event, {date.today()}, {os.cpu_count()} CPUs, {args.receivers} receivers, "
          f"concurrency {args.concurrency}")
    print(f"limits raised: {'; '.join(limits)}")
    report(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
