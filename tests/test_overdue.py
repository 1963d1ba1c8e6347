"""No one unaccounted for: deployment.overdue is raised exactly once per crossing, with no request
arriving and two `relief serve` processes watching; checking out clears it; extending moves the
deadline and arms it again; the watch wakes on a check-in's NOTIFY and outlives an outage."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

import aiohttp

from models.deployments import CheckinCreate
from models.keys import Role
from relief import db, deployments, overdue, summary
from tests.conftest import STAFF, Api, _key
from tests.pledge_world import ok, problem
from tests.test_deployments import DISPATCHER, build_field, check_in, check_out, later
from tests.test_serve import Served

GRACE = 1.0


async def alarms(conn) -> list[dict]:
    return [dict(r) for r in await conn.fetch("select * from events where type = 'deployment.overdue' order by id")]


async def first_alarm(conn, *, within: float) -> None:
    """Poll the event log through the test's own connection (no request reaches the app)."""
    for _ in range(int(within * 10)):
        if await alarms(conn):
            return
        await asyncio.sleep(0.1)


async def test_an_overdue_member_raises_exactly_one_alarm_with_two_processes_and_no_request(database_url, conn):
    # Two replicas on one database; upkeep would not run for an hour: the alarm must not wait for it.
    env = {"RELIEF_DEPLOYMENT_OVERDUE_GRACE": str(GRACE), "RELIEF_MAINTENANCE_INTERVAL": "3600",
           "RELIEF_WORKER_IN_PROCESS": "false"}
    replicas = [Served(database_url, **env), Served(database_url, **env)]
    try:
        await asyncio.gather(*(r.start() for r in replicas))
        await asyncio.gather(*(r.wait_ready() for r in replicas))
        # The world is set up through the first replica's API, as a client would.
        async with aiohttp.ClientSession(base_url=replicas[0].base) as session:
            dispatcher = Api(session, await _key(conn, Role.dispatcher), STAFF)  # type: ignore[arg-type]
            f = await build_field(dispatcher, conn, size=2, tasks=1)
            made = await ok(await f.a.org.api.post(f"/v1/tasks/{f.tasks[0]}/checkins", json={
                "members": f.a.members[:1], "expected_back_at": later(seconds=2)}), 201)
        # From here on nobody calls either process: only their watches can raise the alarm.
        stint = made["items"][0]
        await first_alarm(conn, within=30)
        await asyncio.sleep(2 * GRACE + 1)  # time for a second alarm, if one were coming
        raised = await alarms(conn)
        assert len(raised) == 1, raised
        alarm = raised[0]
        assert (str(alarm["entity_id"]), alarm["after"]["member_id"], str(alarm["organization_id"])) == (
            stint["id"], f.a.members[0], f.a.org.id)
        assert alarm["actor_role"] == "system" and alarm["after"]["grace_seconds"] == 1
        due = await conn.fetchval("select expected_back_at + interval '1 second' from deployments")
        assert timedelta(0) <= alarm["created_at"] - due < timedelta(seconds=5)  # the issue allows 30 s
        logged = [sum('"deployment_overdue"' in line for line in r.lines) for r in replicas]
        assert sorted(logged) == [0, 1]  # one of the two raised it
    finally:
        await asyncio.gather(*(r.kill() for r in replicas))


async def _stint(dispatcher, conn):
    f = await build_field(dispatcher, conn, size=2, tasks=1)
    made = await ok(await check_in(f.a.org.api, f.tasks[0], f.a.members[:1]), 201)  # due back in 4 h
    return f, made["items"][0]


async def test_checking_out_clears_the_alarm(dispatcher, viewer, conn):
    f, stint = await _stint(dispatcher, conn)
    now = await conn.fetchval("select now()")
    assert await overdue.raise_due(conn, grace=900, now=now + timedelta(hours=4, minutes=14)) == []
    raised = await overdue.raise_due(conn, grace=900, now=now + timedelta(hours=4, minutes=16))
    assert [str(r["id"]) for r in raised] == [stint["id"]]
    assert await overdue.raise_due(conn, grace=900, now=now + timedelta(hours=5)) == []  # once per crossing
    assert len(await alarms(conn)) == 1
    shown = await ok(await viewer.get(f"/v1/incidents/{f.incident}/field"))
    assert shown["tasks"][0]["teams"][0]["members"][0]["alarm_raised_at"] is not None

    back = await ok(await check_out(f.a.org.api, f.tasks[0], f.a.members[:1]))
    assert back["items"][0]["checked_out_at"] is not None
    out = await conn.fetchrow("select * from events where type = 'deployment.checked_out'")
    assert out["after"]["alarms_cleared"] == f.a.members[:1] and out["actor_organization_id"] == uuid.UUID(f.a.org.id)
    assert (await ok(await viewer.get(f"/v1/incidents/{f.incident}/field")))["on_site"] == 0
    assert await overdue.raise_due(conn, grace=900, now=now + timedelta(days=1)) == []
    assert len(await alarms(conn)) == 1


async def test_extending_moves_the_deadline_and_arms_the_alarm_again(dispatcher, conn):
    f, stint = await _stint(dispatcher, conn)
    now = await conn.fetchval("select now()")
    assert len(await overdue.raise_due(conn, grace=0, now=now + timedelta(hours=4, seconds=1))) == 1
    response = await f.a.org.api.post(f"/v1/tasks/{f.tasks[0]}/extensions", json={
        "members": f.a.members[:1], "expected_back_at": later(hours=6)})
    extended = (await ok(response))["items"][0]
    assert extended["overdue_raised_at"] is None and extended["expected_back_at"] > stint["expected_back_at"]
    event = await conn.fetchrow("select * from events where type = 'deployment.extended'")
    assert event["after"]["alarms_cleared"] == f.a.members[:1]
    previous = {m: datetime.fromisoformat(t) for m, t in event["after"]["previous"].items()}
    assert previous == {f.a.members[0]: datetime.fromisoformat(stint["expected_back_at"])}
    assert (event["actor_role"], str(event["actor_organization_id"])) == ("organization", f.a.org.id)
    assert await conn.fetchval("select extended_by from deployments") == event["actor_key_id"]
    # The old deadline no longer alarms; the new one does, once: a second crossing, a second alarm.
    assert await overdue.raise_due(conn, grace=0, now=now + timedelta(hours=5)) == []
    assert len(await overdue.raise_due(conn, grace=0, now=now + timedelta(hours=6, seconds=1))) == 1
    assert len(await alarms(conn)) == 2
    await problem(await f.a.org.api.post(f"/v1/tasks/{f.tasks[0]}/extensions", json={
        "members": f.a.members[1:], "expected_back_at": later(hours=6)}), 409)  # not on site
    assert await summary.reconcile(conn, incident_id=uuid.UUID(f.incident)) == []


async def test_the_watch_wakes_on_a_check_in_and_raises_at_the_deadline(dispatcher, conn, database_url):
    f = await build_field(dispatcher, conn, size=2, tasks=1)
    pool = await db.create_pool(database_url, min_size=0, max_size=2, timeout=5)
    # It would otherwise sleep an hour: only the check-in's NOTIFY can make it look in time.
    watch = overdue.OverdueWatch(pool, database_url, grace=0, poll_seconds=3600)
    task = asyncio.create_task(watch.run())
    try:
        for _ in range(50):
            await asyncio.sleep(0.05)
            if watch.listener is not None and not watch.wake.is_set():
                break
        await asyncio.sleep(0.2)  # into its hour-long sleep
        await deployments.check_in(conn, actor=DISPATCHER, task_id=uuid.UUID(f.tasks[0]), data=CheckinCreate(
            members=[uuid.UUID(f.a.members[0])], expected_back_at=await conn.fetchval(
                "select now() + interval '1.5 seconds'")))
        await first_alarm(conn, within=10)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await pool.close()
    assert watch.listener is None  # its own connection, closed on the way out


async def test_the_watch_waits_out_an_unreachable_database(caplog):
    nowhere = "postgresql://nobody@127.0.0.1:9/none"  # the discard port: nothing answers
    pool = await db.create_pool(nowhere, min_size=0, max_size=1, timeout=0.5)
    watch = overdue.OverdueWatch(pool, nowhere, grace=0, poll_seconds=0.1)
    task = asyncio.create_task(watch.run())
    await asyncio.sleep(0.6)
    assert not task.done()  # still watching, round after round
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await pool.close()
    levels = {r.levelname for r in caplog.records if r.name == "relief.overdue"}
    assert levels == {"WARNING"}, caplog.text  # an outage is a warning, never an error

