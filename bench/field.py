"""Benchmark: the field at the Zhuozhou scale — 300 teams, 7,000 members checked in, and the muster view.

    make bench-field                        # or: .venv/bin/python bench/field.py --teams 300 --members 7000
    RELIEF_DATABASE_URL=postgresql://… make bench-field   # on another server

Makes a fresh database holding one incident with 300 approved volunteer-team organizations, each with a
dispatched personnel pledge and its roster (7,000 members in all, one lead per team), and tasks with the
teams assigned and accepted (five teams a task). That setup is SQL, not the API: rosters, tasks and
assignments are not what is measured, and inserting them directly takes a second instead of minutes.

Then, with `relief serve` on it:
1. every member is checked in through the API, one `POST /v1/tasks/{id}/checkins` per team (a
   dispatcher's key, naming the team's members, as its lead would), `--concurrency` requests at a
   time: members/s and the total; then an ANALYZE of the new rows (what autovacuum soon does);
2. `GET /v1/incidents/{id}/field` (the muster, 7,000 people on site) `--requests` times: p50 and p99;
3. in the same run, the bare SELECT the muster runs (the query of relief/muster.py, copied here, by
   asyncpg on one connection, rows fetched and nothing else) the same number of times: p50, p99 and
   the ratio. The difference is what the service adds: grouping, masking, models, JSON and HTTP.
Absolute figures drift on shared machines; the ratio is the number to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta

import aiohttp
import asyncpg
from harness import fresh_database, progress, relief_serve

from models.keys import Role
from relief import db, keys, muster
from relief.auth import SYSTEM

TEAMS_PER_TASK = 5
GRACE = 900.0  # the service's default RELIEF_DEPLOYMENT_OVERDUE_GRACE, which the muster's query is given

# relief/muster.py's own query, run bare as a dispatcher's muster runs it (no organization or task filter).
MUSTER_SQL = muster.QUERY


async def prepare(url: str, teams: int, members: int) -> dict:
    """A dispatcher key, and the incident with its teams, rosters, tasks and accepted assignments (SQL)."""
    started = time.perf_counter()
    conn = await db.connect(url)
    try:
        await db.migrate(conn)
        dispatcher = (await keys.create(conn, actor=SYSTEM, name="bench dispatcher", role=Role.dispatcher)).key
        async with conn.transaction():
            incident = await conn.fetchval(
                """
                insert into incidents (code, title, type, severity, regions, started_at)
                values ('BENCH-FIELD', '涿州防汛（压测）', 'flood', 'I', '{130681}', now() - interval '2 days')
                returning id
                """
            )
            call = await conn.fetchval(
                """
                insert into calls (incident_id, kind, title, requested, skill, status, published_at)
                values ($1, 'personnel', '水上救援队员', $2, 'boat_rescue', 'open', now()) returning id
                """,
                incident, members,
            )
            # 300 teams; sizes differ by at most one so that they add up to `members` exactly.
            orgs = await conn.fetch(
                """
                insert into organizations (name, credit_code, kind, region, status, contact)
                select '压测救援队' || n, '91130681MA' || lpad(n::text, 7, '0') || 'X', 'volunteer_team', '130681',
                       'approved', jsonb_build_object('name', '队长' || n, 'phone', '138' || lpad(n::text, 8, '0'))
                  from generate_series(1, $1::int) n
                returning id
                """,
                teams,
            )
            org_ids = [r["id"] for r in orgs]
            sizes = [members // teams + (1 if i < members % teams else 0) for i in range(teams)]
            pledge_ids = [r["id"] for r in await conn.fetch(
                """
                insert into pledges (call_id, incident_id, organization_id, kind, quantity, status, lead)
                select $1, $2, u.org, 'personnel', u.size, 'dispatched',
                       jsonb_build_object('name', '队长' || u.n, 'phone', '139' || lpad(u.n::text, 8, '0'))
                  from unnest($3::uuid[], $4::int[]) with ordinality as u(org, size, n)
                 order by u.n
                returning id
                """,
                call, incident, org_ids, sizes,
            )]
            # Members: the team's position 0 is its lead, whose phone is the pledge's lead's.
            await conn.execute(
                """
                insert into roster_members (pledge_id, incident_id, organization_id, name, phone, skills, role,
                                            emergency_name, emergency_phone, position)
                select t.pledge, $1, t.org, '队员' || t.n || '-' || p, '139' || lpad((t.n * 100 + p)::text, 8, '0'),
                       '{boat_rescue}', case when p = 0 then 'lead' else 'member' end,
                       '家属' || t.n || '-' || p, '137' || lpad((t.n * 100 + p)::text, 8, '0'), p
                  from unnest($2::uuid[], $3::uuid[], $4::int[]) with ordinality as t(pledge, org, size, n),
                       generate_series(0, t.size - 1) p
                """,
                incident, pledge_ids, org_ids, sizes,
            )
            await conn.execute("update pledges set roster_version = 1 where incident_id = $1", incident)
            task_count = -(-teams // TEAMS_PER_TASK)
            task_ids = [r["id"] for r in await conn.fetch(
                """
                insert into tasks (incident_id, title, skill, area_description, area_circle, region, headcount,
                                   priority, expected_minutes, status)
                select $1, '涿州城区被困群众转移 #' || n, 'boat_rescue', '涿州市区第' || n || '网格',
                       (39.45 + n * 0.001)::text || ',115.97 1', '130681', $2, 'critical', 480, 'assigned'
                  from generate_series(1, $3::int) n
                 order by n
                returning id
                """,
                incident, TEAMS_PER_TASK * (members // teams + 1), task_count,
            )]
            team_tasks = [task_ids[i // TEAMS_PER_TASK] for i in range(teams)]
            assignment_ids = [r["id"] for r in await conn.fetch(
                """
                insert into task_assignments (task_id, pledge_id, organization_id, incident_id, status, decided_at)
                select u.task, u.pledge, u.org, $1, 'accepted', now()
                  from unnest($2::uuid[], $3::uuid[], $4::uuid[]) with ordinality as u(task, pledge, org, n)
                 order by u.n
                returning id
                """,
                incident, team_tasks, pledge_ids, org_ids,
            )]
            # The counters the API would have moved (tasks by status, participants).
            await conn.execute(
                """
                insert into incident_counters (incident_id, name, key, value)
                values ($1, 'tasks', 'assigned', $2), ($1, 'participants', '', $3)
                """,
                incident, task_count, teams,
            )
            await conn.execute(
                "insert into incident_participants (incident_id, organization_id) select $1, unnest($2::uuid[])",
                incident, org_ids,
            )
            by_pledge = {}
            for pledge_id, task_id, assignment_id in zip(pledge_ids, team_tasks, assignment_ids, strict=True):
                by_pledge[pledge_id] = {"task": str(task_id), "assignment": str(assignment_id)}
            rows = await conn.fetch(
                "select pledge_id, id from roster_members where incident_id = $1 order by pledge_id, position",
                incident,
            )
        for table in ("organizations", "pledges", "roster_members", "tasks", "task_assignments"):
            await conn.execute(f"analyze {table}")
    finally:
        await conn.close()
    checkins: dict[str, dict] = {}
    for row in rows:
        team = checkins.setdefault(str(row["pledge_id"]), {**by_pledge[row["pledge_id"]], "members": []})
        team["members"].append(str(row["id"]))
    progress(f"{teams} teams, {len(rows):,} members, {task_count} tasks, {teams} accepted assignments "
             f"inserted with SQL in {time.perf_counter() - started:.1f} s")
    return {"dispatcher": dispatcher, "incident": str(incident), "teams": list(checkins.values()),
            "members": len(rows)}


def _percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


async def check_in_all(base: str, setup: dict, concurrency: int) -> dict:
    """One POST /v1/tasks/{id}/checkins per team, `concurrency` at a time; every one must be a 201."""
    headers = {"Authorization": f"Bearer {setup['dispatcher']}"}
    expected_back_at = (datetime.now(UTC) + timedelta(hours=8)).isoformat()
    queue: asyncio.Queue[dict] = asyncio.Queue()
    for team in setup["teams"]:
        queue.put_nowait(team)
    latencies: list[float] = []
    failures: list[str] = []
    checked_in = 0

    async with aiohttp.ClientSession(base, headers=headers,
                                     connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        async def worker() -> None:
            nonlocal checked_in
            while not queue.empty():
                team = queue.get_nowait()
                body = {"members": team["members"], "expected_back_at": expected_back_at,
                        "location": {"lat": 39.485, "lon": 115.974}}
                sent = time.perf_counter()
                async with session.post(f"/v1/tasks/{team['task']}/checkins", json=body) as response:
                    text = await response.text()
                    latencies.append(time.perf_counter() - sent)
                    if response.status == 201:
                        checked_in += len(team["members"])
                    else:
                        failures.append(f"{response.status} {text[:200]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    if failures:
        raise SystemExit(f"{len(failures)} check-ins failed, the first: {failures[0]}")
    return {"members": checked_in, "requests": len(latencies), "seconds": seconds,
            "p50": _percentile(latencies, 50), "p99": _percentile(latencies, 99)}


async def muster_http(base: str, setup: dict, requests: int) -> dict:
    headers = {"Authorization": f"Bearer {setup['dispatcher']}"}
    latencies: list[float] = []
    size = 0
    async with aiohttp.ClientSession(base, headers=headers) as session:
        for n in range(requests + 2):  # two warm-ups, not counted
            sent = time.perf_counter()
            async with session.get(f"/v1/incidents/{setup['incident']}/field") as response:
                body = await response.read()
                if response.status != 200:
                    raise SystemExit(f"GET …/field: {response.status} {body[:200]!r}")
            if n >= 2:
                latencies.append(time.perf_counter() - sent)
            size = len(body)
        on_site = json.loads(body)["on_site"]
    return {"p50": _percentile(latencies, 50), "p99": _percentile(latencies, 99), "bytes": size,
            "on_site": on_site, "mean": statistics.fmean(latencies)}


async def muster_select(url: str, setup: dict, requests: int) -> dict:
    conn = await asyncpg.connect(url)
    latencies: list[float] = []
    rows = []
    try:
        incident = uuid.UUID(setup["incident"])
        for n in range(requests + 2):
            sent = time.perf_counter()
            rows = await conn.fetch(MUSTER_SQL, incident, GRACE, None, None)
            if n >= 2:
                latencies.append(time.perf_counter() - sent)
    finally:
        await conn.close()
    return {"p50": _percentile(latencies, 50), "p99": _percentile(latencies, 99), "rows": len(rows)}


async def _analyze(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("analyze deployments, roster_members, tasks")
    finally:
        await conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teams", type=int, default=300, help="volunteer teams (default 300)")
    parser.add_argument("--members", type=int, default=7000, help="members in all (default 7000)")
    parser.add_argument("--concurrency", type=int, default=8, help="check-in requests in flight (default 8)")
    parser.add_argument("--requests", type=int, default=50, help="muster requests, and SELECTs (default 50)")
    args = parser.parse_args()
    if not 0 < args.teams <= args.members:
        raise SystemExit("--teams must be between 1 and --members")

    with fresh_database() as database:
        setup = asyncio.run(prepare(database.url, args.teams, args.members))
        with relief_serve(database) as served:
            progress(f"checking {setup['members']:,} members in: {len(setup['teams'])} requests, "
                     f"{args.concurrency} at a time")
            checkin = asyncio.run(check_in_all(served.base, setup, args.concurrency))
            asyncio.run(_analyze(database.url))  # what autovacuum would soon do after 7,000 new rows
            progress(f"GET /v1/incidents/{{id}}/field × {args.requests} (+2 warm-up)")
            http = asyncio.run(muster_http(served.base, setup, args.requests))
            progress(f"the muster's SELECT × {args.requests} (+2 warm-up), asyncpg, same database")
            bare = asyncio.run(muster_select(database.url, setup, args.requests))

    ms = 1000
    print(f"check-ins        {checkin['members']:,} members in {checkin['seconds']:.1f} s = "
          f"{checkin['members'] / checkin['seconds']:,.0f} members/s "
          f"({checkin['requests']} requests of ~{checkin['members'] // checkin['requests']} members, "
          f"{args.concurrency} at a time; per request p50 {checkin['p50'] * ms:.0f} ms · "
          f"p99 {checkin['p99'] * ms:.0f} ms)")
    print(f"muster (HTTP)    p50 {http['p50'] * ms:.1f} ms · p99 {http['p99'] * ms:.1f} ms   "
          f"({http['on_site']:,} on site, {http['bytes'] / 1024 / 1024:.1f} MB JSON, {args.requests} requests)")
    print(f"bare SELECT      p50 {bare['p50'] * ms:.1f} ms · p99 {bare['p99'] * ms:.1f} ms   "
          f"({bare['rows']:,} rows, asyncpg, the query of relief/muster.py)")
    print(f"ratio            p50 {http['p50'] / bare['p50']:.1f}× · p99 {http['p99'] / bare['p99']:.1f}×   "
          "(muster over HTTP ÷ bare SELECT)")
    if checkin["members"] != args.members or http["on_site"] != args.members or bare["rows"] != args.members:
        print("check            MISMATCH: not every member is on site in both views")
        return 1
    print(f"check            {args.members:,} members on site in the muster and in the SELECT")
    return 0


if __name__ == "__main__":
    sys.exit(main())
