"""Benchmark: the incident summary and a call's read stay O(1) with 1,000,000 pledges in the database.

    make bench-summary                      # or: .venv/bin/python bench/summary.py --pledges 1000000
    RELIEF_DATABASE_URL=postgresql://… make bench-summary   # on another server

Makes a fresh database holding one incident with `--calls` open calls (money, goods and personnel in
turn) and `--organizations` approved organizations, then loads `--pledges` pledges with set-based SQL
(generate_series, in chunks of `--chunk`, progress on stderr): every status a pledge can rest in
(pledged, accepted, dispatched, rejected, withdrawn; delivered only on personnel calls, since a money or
goods delivery is also a ledger row). Each chunk moves the counters in its own transaction, as
relief/pledges.py does: the calls' committed / in_transit / delivered / committed_value by each
pledge's lifecycle moves (created, rejected or withdrawn, dispatched, delivered), the incident's
participants and the participants counter once per new organization. No events are written: neither
read looks at them. Then VACUUM ANALYZE (what autovacuum soon does), and `relief reconcile` on the
database, which must report no difference, so the loaded counters are the ones the rows give.

Then:
1. EXPLAIN (ANALYZE, BUFFERS) of every query the two reads run (captured from relief/auth.py,
   relief/summary.py and relief/calls.py with asyncpg's query logger, so the list follows the code):
   none may read pledges (or events), and no plan node may return more rows than the counters hold;
2. with `relief serve` on it, a sequential aiohttp client (one request at a time, `--requests` each,
   after `--warmup`), interleaved round by round with a bare asyncpg SELECT of the counter rows each
   read serves (the ceiling, one connection, same run):
       GET /v1/incidents/{id}/summary   vs  the incident's counter rows and its calls' counters
       GET /v1/calls/{id}               vs  that call's counters
   p50 / p99 / max of each and the ratio route ÷ bare; also the use cases (summary.summary(),
   calls.get()) called in this process on the bare connection, to tell the database's round trips
   from what HTTP, auth and JSON add. Target: p99 ≤ `--target-ms` (5 ms) for both
   routes; the exit status is 1 if a target, a plan check or the reconcile fails.
Absolute figures drift on shared machines; the ratio is the number to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

import aiohttp
import asyncpg
from harness import BIN, fresh_database, progress, relief_serve

from models.codes import credit_code_check_character
from models.keys import Role
from relief import auth, calls, db, keys, summary
from relief.auth import SYSTEM

KINDS = ("money", "goods", "personnel")

# One chunk of pledges and the counters it moves, in one statement (so in one transaction). The
# counter deltas follow relief/pledges.py move by move, not reconcile's formula: created → committed
# += q and committed_value += value; rejected or withdrawn → both back; dispatched → in_transit += q;
# delivered (personnel here) → delivered += a, committed += a − q (the rest returns to the call).
LOAD = """
with made as (
    select n,
           ($3::uuid[])[n % cardinality($3::uuid[]) + 1] as call_id,
           ($4::text[])[n % cardinality($3::uuid[]) + 1] as kind,
           ($5::uuid[])[(n / 7) % cardinality($5::uuid[]) + 1] as organization_id,
           -- the status from n / calls, so that every call gets every status (n % calls picks the call)
           (array['pledged', 'pledged', 'pledged', 'pledged', 'accepted', 'accepted', 'dispatched',
                  'rejected', 'withdrawn', 'delivered'])[(n / cardinality($3::uuid[])) % 10 + 1] as wanted
      from generate_series($1::bigint, $2::bigint) n
), shaped as (
    select n, call_id, kind, organization_id,
           case when wanted = 'delivered' and kind <> 'personnel' then 'accepted' else wanted end as status,
           case kind when 'money' then (100 + n % 4901)::numeric + (n % 100) * 0.01
                     when 'goods' then (1 + n % 100)::numeric
                     else (1 + n % 10)::numeric end as quantity
      from made
), inserted as (
    insert into pledges (call_id, incident_id, organization_id, kind, quantity, currency, unit, estimated_value,
                         lead, note, status, delivered_quantity, reason, created_at, updated_at)
    select call_id, $6, organization_id, kind, quantity,
           case when kind = 'money' then 'CNY' end,
           case when kind = 'goods' then 'piece' end,
           case when kind = 'goods' then quantity * 30 end,
           case when kind = 'personnel' then jsonb_build_object('name', '队长' || (n % 1000), 'phone',
                                                                '139' || lpad((n % 100000000)::text, 8, '0')) end,
           '', status,
           case when status = 'delivered' then quantity - n % 2 end,
           case when status = 'rejected' then '已满足' end,
           timestamptz '2023-07-28 02:00:00+00' + n * interval '300 ms',
           timestamptz '2023-07-28 02:00:00+00' + n * interval '300 ms'
      from shaped
    returning call_id, organization_id, status, quantity, delivered_quantity, coalesce(estimated_value, 0) as ev
), moved as (
    select call_id,
           sum(quantity)
             - coalesce(sum(quantity) filter (where status in ('rejected', 'withdrawn')), 0)
             + coalesce(sum(delivered_quantity - quantity) filter (where status = 'delivered'), 0) as committed,
           coalesce(sum(quantity) filter (where status = 'dispatched'), 0) as in_transit,
           coalesce(sum(delivered_quantity) filter (where status = 'delivered'), 0) as delivered,
           sum(ev) - coalesce(sum(ev) filter (where status in ('rejected', 'withdrawn')), 0) as committed_value
      from inserted group by call_id
), counted as (
    update calls c
       set committed = c.committed + m.committed, in_transit = c.in_transit + m.in_transit,
           delivered = c.delivered + m.delivered, committed_value = c.committed_value + m.committed_value,
           updated_at = now()
      from moved m where c.id = m.call_id
    returning c.id
), joined as (
    insert into incident_participants (incident_id, organization_id)
    select distinct $6::uuid, organization_id from inserted
    on conflict do nothing
    returning organization_id
), participants as (
    insert into incident_counters (incident_id, name, key, value)
    select $6, 'participants', '', count(*) from joined having count(*) > 0
    on conflict (incident_id, name, key) do update set value = incident_counters.value + excluded.value
    returning value
)
select (select count(*) from inserted) as pledges, (select count(*) from counted) as calls,
       (select count(*) from joined) as joined
"""

# The ceilings: the counter rows each read serves, in one SELECT on a bare asyncpg connection.
BARE_SUMMARY = """
select name, key, value from incident_counters where incident_id = $1
union all
select 'call.' || f.name, c.id::text, f.value
  from calls c
 cross join lateral (values ('requested', c.requested), ('committed', c.committed), ('in_transit', c.in_transit),
                            ('delivered', c.delivered), ('committed_value', c.committed_value)) f(name, value)
 where c.incident_id = $1 and c.status <> 'draft'
"""
BARE_CALL = "select requested, committed, in_transit, delivered, committed_value from calls where id = $1"


def credit_code(number: int) -> str:
    first17 = f"91320500MA{number:07d}"
    return first17 + credit_code_check_character(first17)


async def prepare(url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Organizations, an incident with its calls and shelters, a viewer key, and the pledges loaded."""
    conn = await db.connect(url)
    try:
        await db.migrate(conn)
        viewer = (await keys.create(conn, actor=SYSTEM, name="bench viewer", role=Role.viewer)).key
        orgs = [await conn.fetchval(
            """
            insert into organizations (name, credit_code, kind, region, status)
            values ($1, $2, 'foundation', '320500', 'approved') returning id
            """,
            f"压测社会组织 {i + 1}", credit_code(i + 1),
        ) for i in range(args.organizations)]
        incident = await conn.fetchval(
            """
            insert into incidents (code, title, type, severity, regions, started_at)
            values ('BENCH-SUMMARY', '压测：百万认捐', 'typhoon', 'II', '{320500}', '2023-07-28T01:55:00Z') returning id
            """
        )
        call_ids, call_kinds = [], []
        for i in range(args.calls):
            kind = KINDS[i % 3]
            call_ids.append(await conn.fetchval(
                """
                insert into calls (incident_id, kind, title, requested, currency, item, unit, skill, status,
                                   published_at)
                values ($1, $2, $3, $4, $5, $6, $7, $8, 'open', now()) returning id
                """,
                incident, kind, f"{kind} {i + 1}",
                {"money": 10**13, "goods": 10**10, "personnel": 10**9}[kind],
                "CNY" if kind == "money" else None,
                "life_jacket" if kind == "goods" else None,
                "piece" if kind == "goods" else None,
                "boat_rescue" if kind == "personnel" else None,
            ))
            call_kinds.append(kind)
        for i in range(3):
            await conn.execute(
                "insert into shelters (incident_id, name, address, capacity) values ($1, $2, '苏州市', 500)",
                incident, f"安置点 {i + 1}",
            )

        progress(f"loading {args.pledges:,} pledges: {args.calls} calls, {args.organizations} organizations, "
                 f"chunks of {args.chunk:,}")
        started = time.perf_counter()
        done = 0
        while done < args.pledges:
            last = min(done + args.chunk, args.pledges)
            row = await conn.fetchrow(LOAD, done, last - 1, call_ids, call_kinds, orgs, incident)
            done = last
            elapsed = time.perf_counter() - started
            progress(f"  {done:,}/{args.pledges:,} pledges ({row['calls']} calls' counters moved, "
                     f"{row['joined']} new participants) {elapsed:.1f} s, {done / elapsed:,.0f}/s")
        load_seconds = time.perf_counter() - started
        progress("VACUUM ANALYZE (what autovacuum would soon do)")
        vacuum_started = time.perf_counter()
        for table in ("pledges", "calls", "incident_counters", "incident_participants"):
            await conn.execute(f"vacuum analyze {table}")
        vacuum_seconds = time.perf_counter() - vacuum_started
        in_db = await conn.fetchval("select count(*) from pledges")
        hot_call = await conn.fetchval(
            "select id from calls where incident_id = $1 order by committed desc limit 1", incident)
    finally:
        await conn.close()
    return {"viewer": viewer, "incident": incident, "call": hot_call, "calls": call_ids,
            "load_seconds": load_seconds, "vacuum_seconds": vacuum_seconds, "pledges": in_db}


def reconcile(url: str, pledges: int) -> tuple[bool, str, float]:
    """`relief reconcile` on the database, as an operator runs it: exit 0 and no difference."""
    progress(f"relief reconcile (recomputes every counter from the {pledges:,} pledges)")
    started = time.perf_counter()
    done = subprocess.run([str(BIN / "relief"), "reconcile"], env={**os.environ, "RELIEF_DATABASE_URL": url},
                          capture_output=True, text=True, timeout=1800)
    seconds = time.perf_counter() - started
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip()[-300:]
    ok = done.returncode == 0 and last.endswith(" 0 difference(s)")
    if not ok:
        print(done.stdout, done.stderr, sep="\n", file=sys.stderr)
    return ok, last, seconds


def _nodes(plan: dict) -> list[dict]:
    return [plan, *(node for child in plan.get("Plans", []) for node in _nodes(child))]


async def explain(url: str, setup: dict[str, Any]) -> tuple[list[str], list[str]]:
    """EXPLAIN (ANALYZE, BUFFERS) every query the two reads run; what each plan reads, and what is wrong."""
    conn = await db.connect(url)
    try:
        counter_rows = await conn.fetchval("select count(*) from incident_counters where incident_id = $1",
                                           setup["incident"])
        limit = max(counter_rows, len(setup["calls"]) * 5, 10)  # rows a node may give: the counters, no more
        captured: list[tuple[str, str, tuple]] = []
        route = ""

        def record(logged: Any) -> None:
            if logged.query.lstrip().lower().startswith(("select", "with")):
                captured.append((route, logged.query, tuple(logged.args or ())))

        conn.add_query_logger(record)
        route = "auth"
        await auth.authenticate(conn, setup["viewer"])
        route = "summary"
        await summary.summary(conn, incident_id=setup["incident"])
        route = "call"
        await calls.get(conn, call_id=setup["call"])
        conn.remove_query_logger(record)

        lines, problems = [], []
        for where, query, query_args in captured:
            plan = await conn.fetchval(f"explain (analyze, buffers, format json) {query}", *query_args)
            plan = (json.loads(plan) if isinstance(plan, str) else plan)[0]  # db.connect may decode json
            nodes = _nodes(plan["Plan"])
            read = sorted({n["Relation Name"] for n in nodes if "Relation Name" in n})
            widest = round(max(n.get("Actual Rows", 0) * n.get("Actual Loops", 1) for n in nodes))  # PG 18: floats
            scans = sorted({f"{n['Node Type']}" + (f" {n['Index Name']}" if "Index Name" in n else "")
                            for n in nodes if "Relation Name" in n})
            buffers = plan["Plan"].get("Shared Hit Blocks", 0) + plan["Plan"].get("Shared Read Blocks", 0)
            text = " ".join(query.split())
            lines.append(f"  [{where:7}] {plan['Execution Time']:6.3f} ms  {buffers:4} buffers  max rows {widest:4}"
                         f"  reads {', '.join(read) or '-'}  ({'; '.join(scans) or 'no scan'})  {text[:90]}")
            if {"pledges", "events"} & set(read):
                problems.append(f"[{where}] reads {', '.join(read)}: grows with pledges: {text[:120]}")
            if widest > limit:
                problems.append(f"[{where}] a node gives {widest} rows (> {limit}): {text[:120]}")
            if any(n["Node Type"] == "Seq Scan" and n["Relation Name"] in ("pledges", "events") for n in nodes):
                problems.append(f"[{where}] sequential scan of a growing table: {text[:120]}")
    finally:
        await conn.close()
    return lines, problems


async def measure(base: str, url: str, setup: dict[str, Any], requests: int, warmup: int) -> dict[str, list[float]]:
    """One request at a time, the two routes and the two bare SELECTs interleaved round by round."""
    headers = {"Authorization": f"Bearer {setup['viewer']}"}
    summary_url = f"{base}/v1/incidents/{setup['incident']}/summary"
    call_url = f"{base}/v1/calls/{setup['call']}"
    timings: dict[str, list[float]] = {name: [] for name in
                                       ("summary", "call", "bare summary", "bare call", "use summary", "use call")}
    conn = await db.connect(url)  # the service's codecs, so the use cases read as in the server
    try:
        connector = aiohttp.TCPConnector(limit=1)
        async with aiohttp.ClientSession(headers=headers, connector=connector) as http:
            async def get(where: str) -> None:
                async with http.get(where) as response:
                    await response.read()
                    if response.status != 200:
                        raise SystemExit(f"GET {where}: {response.status} {await response.text()}")

            steps = {
                "summary": lambda: get(summary_url),
                "call": lambda: get(call_url),
                "bare summary": lambda: conn.fetch(BARE_SUMMARY, setup["incident"]),
                "bare call": lambda: conn.fetch(BARE_CALL, setup["call"]),
                # The use cases in this process, on that connection: the round trips without HTTP.
                "use summary": lambda: summary.summary(conn, incident_id=setup["incident"]),
                "use call": lambda: calls.get(conn, call_id=setup["call"]),
            }
            for round_ in range(warmup + requests):
                for name, step in steps.items():
                    started = time.perf_counter()
                    await step()
                    if round_ >= warmup:
                        timings[name].append(time.perf_counter() - started)
                if round_ and round_ % 500 == 0:
                    progress(f"  {round_:,}/{warmup + requests:,} rounds")
            async with http.get(summary_url) as response:
                figures = await response.json()
            async with http.get(call_url) as response:
                call = await response.json()
    finally:
        await conn.close()
    setup["figures"], setup["call_read"] = figures, call
    return timings


def stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"p50": statistics.median(ordered), "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
            "max": ordered[-1]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pledges", type=int, default=1_000_000, help="pledges to load (default 1000000)")
    parser.add_argument("--calls", type=int, default=6, help="calls they are spread over (default 6)")
    parser.add_argument("--organizations", type=int, default=12, help="pledging organizations (default 12)")
    parser.add_argument("--chunk", type=int, default=100_000, help="pledges per load transaction (default 100000)")
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per route (default 2000)")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured rounds first (default 200)")
    parser.add_argument("--target-ms", type=float, default=5.0, help="p99 target per route (default 5 ms)")
    args = parser.parse_args()
    if args.pledges < 1 or args.calls < 1 or args.organizations < 1 or args.chunk < 1 or args.requests < 1:
        raise SystemExit("--pledges, --calls, --organizations, --chunk and --requests must be positive")

    with fresh_database() as database:
        server = "embedded PostgreSQL" if not os.environ.get("RELIEF_DATABASE_URL") else "RELIEF_DATABASE_URL"
        setup = asyncio.run(prepare(database.url, args))
        reconciled, reconcile_line, reconcile_seconds = reconcile(database.url, setup["pledges"])
        progress("EXPLAIN (ANALYZE) of the queries the two reads run")
        plans, problems = asyncio.run(explain(database.url, setup))
        with relief_serve(database) as served:
            progress(f"{args.warmup} warm-up rounds, then {args.requests:,} rounds of: GET summary, GET call, "
                     "bare SELECT of each's counter rows (sequential)")
            timings = asyncio.run(measure(served.base, database.url, setup, args.requests, args.warmup))
        version = asyncio.run(_server_version(database.url))  # before the database is dropped

    ms = 1000
    print(f"server           {server}: {version}")
    print(f"load             {setup['pledges']:,} pledges in {setup['load_seconds']:.1f} s "
          f"({setup['pledges'] / setup['load_seconds']:,.0f}/s, set-based, counters moved in the same transactions; "
          f"{args.calls} calls, {args.organizations} organizations) + VACUUM ANALYZE {setup['vacuum_seconds']:.1f} s")
    print(f"reconcile        {'ok' if reconciled else 'FAILED'}: {reconcile_line} ({reconcile_seconds:.1f} s)")
    print("plans            EXPLAIN (ANALYZE, BUFFERS) of every query the reads run:")
    print("\n".join(plans))
    results = {name: stats(samples) for name, samples in timings.items()}
    for name, label in (("summary", "GET /v1/incidents/{id}/summary"),
                        ("use summary", "  summary.summary() in-process"),
                        ("bare summary", "  bare SELECT (ceiling)"), ("call", "GET /v1/calls/{id}"),
                        ("use call", "  calls.get() in-process"), ("bare call", "  bare SELECT (ceiling)")):
        r = results[name]
        print(f"{label:32} p50 {r['p50'] * ms:6.2f} ms · p99 {r['p99'] * ms:6.2f} ms · max {r['max'] * ms:7.2f} ms"
              f"   ({len(timings[name]):,} sequential)")
    for name in ("summary", "call"):
        route, bare = results[name], results[f"bare {name}"]
        print(f"ratio {name:10} p50 {route['p50'] / bare['p50']:.1f}× · p99 {route['p99'] / bare['p99']:.1f}×   "
              "(route over HTTP ÷ bare SELECT of its counter rows)")
    committed = sum(float(c["committed"]) for c in setup["figures"]["calls"])
    print(f"figures          {setup['figures']['organizations_participating']} organizations participating, "
          f"{len(setup['figures']['calls'])} calls, committed in all {committed:,.2f}; hot call committed "
          f"{setup['call_read']['committed']} in transit {setup['call_read']['in_transit']}")

    failed = [f"plan: {p}" for p in problems]
    if not reconciled:
        failed.append("reconcile reported differences")
    failed += [f"{name} p99 {results[name]['p99'] * ms:.2f} ms > {args.target_ms:g} ms"
               for name in ("summary", "call") if results[name]["p99"] * ms > args.target_ms]
    if failed:
        print("check            FAILED: " + "; ".join(failed))
        return 1
    print(f"check            ok: both p99 ≤ {args.target_ms:g} ms; no plan reads pledges or events; reconcile clean")
    return 0


async def _server_version(url: str) -> str:
    conn = await asyncpg.connect(url)
    try:
        return (await conn.fetchval("select version()")).split(",")[0]
    finally:
        await conn.close()


if __name__ == "__main__":
    sys.exit(main())
