"""Check-in and check-out: who may, which members, one task at a time (decided by the index under
concurrency), all or nothing, states, counters and events; hours exact from the rows; the muster's
order and masking; the HXL export; reconcile after a storm."""

from __future__ import annotations

import asyncio
import io
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import hxl
import hxl.validation
import pytest

from models.deployments import CheckinCreate, CheckoutCreate
from models.keys import Role
from relief import deployments, summary
from relief.auth import Principal
from tests.conftest import Api, Org, make_organization
from tests.pledge_world import ok, open_incident, personnel_call, personnel_pledge, pledge, problem
from tests.test_exports import HXL_CORE

SHANGHAI = ZoneInfo("Asia/Shanghai")
DISPATCHER = Principal(role=Role.dispatcher)


@dataclass
class Team:
    org: Org
    pledge: str
    members: list[str]  # roster member ids, in roster order
    phones: list[str]


@dataclass
class Field:
    dispatcher: Api
    incident: str
    a: Team
    b: Team
    tasks: list[str] = field(default_factory=list)  # both teams accepted each


def later(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


async def make_team(dispatcher: Api, org: Org, call: str, size: int, serial: int) -> Team:
    made = await ok(await pledge(org.api, call, personnel_pledge(headcount=size)), 201)
    await ok(await dispatcher.post(f"/v1/pledges/{made['id']}/accept"))
    phones = [f"137{serial:04d}{i:04d}" for i in range(size)]
    people = [{"name": f"队员{serial}-{i}", "phone": phone, "role": "lead" if i == 0 else "member"}
              for i, phone in enumerate(phones)]
    roster = await ok(await org.api.put(f"/v1/pledges/{made['id']}/roster", headers={"If-Match": '"0"'},
                                        json={"members": people}))
    return Team(org, made["id"], [m["id"] for m in roster["members"]], phones)


async def new_task(f: Field, *teams: Team, title: str = "东山镇沿湖村庄搜救") -> str:
    """A task with the given teams assigned, each having accepted (through its own key)."""
    body = {"title": title, "skill": "boat_rescue", "headcount": 8,
            "area": {"description": "吴中区东山镇", "point": "31.07,120.36", "region": "320506"}}
    task = (await ok(await f.dispatcher.post(f"/v1/incidents/{f.incident}/tasks", json=body), 201))["id"]
    for team in teams:
        assignment = await ok(await f.dispatcher.post(f"/v1/tasks/{task}/assignments",
                                                      json={"pledge_id": team.pledge}), 201)
        await ok(await team.org.api.post(f"/v1/assignments/{assignment['id']}/accept"))
    return task


async def build_field(dispatcher: Api, conn, *, size: int = 4, tasks: int = 2) -> Field:
    incident = await open_incident(dispatcher)
    call = (await ok(await dispatcher.post(f"/v1/incidents/{incident}/calls",
                                           json=personnel_call(headcount=100)), 201))["id"]
    a_org, b_org = await make_organization(dispatcher, conn, 0), await make_organization(dispatcher, conn, 1)
    f = Field(dispatcher, incident, await make_team(dispatcher, a_org, call, size, 1),
              await make_team(dispatcher, b_org, call, size, 2))
    f.tasks = [await new_task(f, f.a, f.b, title=f"搜救 {i}") for i in range(tasks)]
    return f


@pytest.fixture
async def team_field(dispatcher, conn) -> Field:
    return await build_field(dispatcher, conn)


def check_in(api: Api, task: str, members: list[str], **extra: Any):
    return api.post(f"/v1/tasks/{task}/checkins", json={"members": members, "expected_back_at": later(hours=4),
                                                         **extra})


def check_out(api: Api, task: str, members: list[str]):
    return api.post(f"/v1/tasks/{task}/checkouts", json={"members": members})


async def states(api: Api, team: Team) -> list[str]:
    roster = await ok(await api.get(f"/v1/pledges/{team.pledge}/roster"))
    return [m["state"] for m in roster["members"]]


async def field_events(conn, type_: str) -> list[dict[str, Any]]:
    rows = await conn.fetch("select * from events where type = $1 order by id", type_)
    return [dict(r) for r in rows]


async def test_check_in_and_out_move_states_counters_and_events(team_field, viewer, conn):
    f = team_field
    a, task = f.a, f.tasks[0]
    response = await check_in(a.org.api, task, a.members[:2], location={"lat": 31.07, "lon": 120.36})
    made = await ok(response, 201)
    assert response.headers["Location"] == f"/v1/incidents/{f.incident}/field?task_id={task}"
    assert sorted(d["member_id"] for d in made["items"]) == sorted(a.members[:2])
    assert {(d["task_id"], d["organization_id"], d["checked_out_at"], d["hours"]) for d in made["items"]} == {
        (task, a.org.id, None, None)}
    assert made["items"][0]["location"] == {"lat": 31.07, "lon": 120.36}
    assert await states(f.dispatcher, a) == ["on_site", "on_site", "standby", "standby"]
    assert (await ok(await f.dispatcher.get(f"/v1/tasks/{task}")))["status"] == "in_progress"
    figures = await ok(await viewer.get(f"/v1/incidents/{f.incident}/summary"))
    assert figures["field"]["on_site"] == "2" and figures["field"]["person_hours_completed"] == "0"

    back = await ok(await check_out(f.dispatcher, task, a.members[:1]))
    assert back["items"][0]["checked_out_at"] is not None and back["items"][0]["hours"] == "0"
    assert await states(a.org.api, a) == ["back", "on_site", "standby", "standby"]
    # Back, then on site again for a next task; one still on site cannot be sent elsewhere.
    await ok(await check_in(a.org.api, f.tasks[1], a.members[:1]), 201)
    refused = await problem(await check_in(a.org.api, f.tasks[1], a.members[1:2]), 409)
    assert refused["members"] == [a.members[1]]
    assert await states(a.org.api, a) == ["on_site", "on_site", "standby", "standby"]

    ins, outs = await field_events(conn, "deployment.checked_in"), await field_events(conn, "deployment.checked_out")
    assert [(e["after"]["count"], e["organization_id"], e["entity_type"]) for e in ins] == [
        (2, uuid.UUID(a.org.id), "task"), (1, uuid.UUID(a.org.id), "task")]
    assert sorted(ins[0]["after"]["members"]) == sorted(a.members[:2])
    assert outs[0]["after"]["members"] == a.members[:1] and outs[0]["actor_role"] == "dispatcher"
    assert not any(phone in str(e) for e in ins + outs for phone in a.phones)
    # The team's organization gets its own deployment events; another organization none of them.
    visible = await conn.fetch("select event_visible_to(e, $1) as a, event_visible_to(e, $2) as b from events e "
                               "where type like 'deployment.%'", uuid.UUID(a.org.id), uuid.UUID(f.b.org.id))
    assert [(r["a"], r["b"]) for r in visible] == [(True, False)] * 3
    assert (await ok(await viewer.get(f"/v1/incidents/{f.incident}/summary")))["field"]["on_site"] == "2"
    assert await summary.reconcile(conn, incident_id=uuid.UUID(f.incident)) == []


async def test_one_member_checked_in_to_two_tasks_at_once_gets_one_201_and_one_409(team_field, conn):
    f = team_field
    member = f.a.members[0]
    for _ in range(5):  # the race each round: which wins differs, that only one does does not
        responses = await asyncio.gather(check_in(f.a.org.api, f.tasks[0], [member]),
                                         check_in(f.dispatcher, f.tasks[1], [member, f.a.members[1]]))
        assert sorted(r.status for r in responses) == [201, 409]
        loser = next(r for r in responses if r.status == 409)
        assert (await loser.json())["members"] == [member]
        open_ = await conn.fetch("select task_id, member_id from deployments where checked_out_at is null")
        assert [r["member_id"] for r in open_ if r["member_id"] == uuid.UUID(member)] == [uuid.UUID(member)]
        # All or nothing: the loser's second member was not checked in either.
        assert len(open_) == (2 if responses[1].status == 201 else 1)
        task = str(next(r["task_id"] for r in open_ if r["member_id"] == uuid.UUID(member)))
        await ok(await check_out(f.dispatcher, task, [str(r["member_id"]) for r in open_]))
    assert await summary.reconcile(conn, incident_id=uuid.UUID(f.incident)) == []


async def test_members_not_on_a_team_that_accepted_the_task_are_422_and_nothing_moves(team_field, dispatcher, conn):
    f = team_field
    unknown = str(uuid.uuid4())
    refused = await problem(await check_in(f.a.org.api, f.tasks[0], [f.a.members[0], f.b.members[0], unknown]), 422)
    # To A's key, B's member is as unknown as a made-up id: another organization's people are not told.
    assert [e["pointer"] for e in refused["errors"]] == ["/members/1", "/members/2"]
    assert refused["errors"][0]["detail"] == refused["errors"][1]["detail"]
    pending = await ok(await dispatcher.post(f"/v1/incidents/{f.incident}/tasks", json={
        "title": "转移群众", "headcount": 4, "area": {"description": "东山镇", "point": "31.07,120.36"}}), 201)
    await ok(await dispatcher.post(f"/v1/tasks/{pending['id']}/assignments", json={"pledge_id": f.b.pledge}), 201)
    refused = await problem(await check_in(dispatcher, pending["id"], f.b.members[:1]), 422)  # not yet accepted
    assert refused["errors"] == [{"pointer": "/members/0", "code": "invalid",
                                  "detail": "the member's team has not accepted this task"}]
    body = await problem(await check_in(dispatcher, f.tasks[0], [f.a.members[0], unknown]), 422)
    assert [e["pointer"] for e in body["errors"]] == ["/members/1"]
    for bad, pointer in [({"members": []}, "/members"), ({"members": [f.a.members[0]] * 2}, "/members"),
                         ({"members": f.a.members[:1], "expected_back_at": later(hours=-1)}, "/expected_back_at"),
                         ({"members": f.a.members[:1], "expected_back_at": later(days=8)}, "/expected_back_at")]:
        bad.setdefault("expected_back_at", later(hours=2))
        body = await problem(await dispatcher.post(f"/v1/tasks/{f.tasks[0]}/checkins", json=bad), 422)
        assert [e["pointer"] for e in body["errors"]] == [pointer], bad
    assert await conn.fetchval("select count(*) from deployments") == 0
    assert await conn.fetchval("select count(*) from events where type like 'deployment.%'") == 0


async def test_who_may_check_in_and_out(team_field, viewer, dispatcher, conn):
    f = team_field
    only_b = await new_task(f, f.b)
    await problem(await check_in(viewer, f.tasks[0], f.a.members[:1]), 403)
    await problem(await check_in(f.a.org.api, only_b, f.a.members[:1]), 404)  # not a task of A's teams
    await problem(await check_in(f.a.org.api, str(uuid.uuid4()), f.a.members[:1]), 404)
    await ok(await check_in(f.b.org.api, only_b, f.b.members[:1]), 201)
    await problem(await check_out(f.a.org.api, only_b, f.b.members[:1]), 404)
    await problem(await check_out(f.a.org.api, f.tasks[0], f.b.members[:1]), 422)  # B's member, A's key
    not_here = await problem(await check_out(f.b.org.api, f.tasks[0], f.b.members[:2]), 409)
    assert not_here["states"] == {f.b.members[0]: "on_site", f.b.members[1]: "standby"}
    # A suspended organization still brings its people back, but sends no one out.
    await ok(await dispatcher.post(f"/v1/organizations/{f.b.org.id}/suspend"))
    await problem(await check_in(f.b.org.api, only_b, f.b.members[1:2]), 403)
    await ok(await check_out(f.b.org.api, only_b, f.b.members[:1]))
    # Done while nobody is on site; then nobody checks in to it.
    await ok(await dispatcher.post(f"/v1/tasks/{only_b}/done", json={"people_rescued": 3, "people_transferred": 12}))
    assert (await problem(await check_in(dispatcher, only_b, f.b.members[:1]), 409))["state"] == "done"
    assert await summary.reconcile(conn, incident_id=uuid.UUID(f.incident)) == []


async def test_a_retried_check_in_with_its_key_is_replayed(team_field, conn):
    f = team_field
    body = {"members": f.a.members[:2], "expected_back_at": later(hours=3)}
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    first = await f.a.org.api.post(f"/v1/tasks/{f.tasks[0]}/checkins", json=body, headers=headers)
    again = await f.a.org.api.post(f"/v1/tasks/{f.tasks[0]}/checkins", json=body, headers=headers)
    assert (first.status, again.status, again.headers.get("Idempotent-Replayed")) == (201, 201, "true")
    assert await first.json() == await again.json()
    assert await conn.fetchval("select count(*) from deployments") == 2


async def test_hours_of_a_member_in_at_nine_and_out_at_half_past_five_read_eight_and_a_half(team_field, viewer, conn):
    f = team_field
    day = datetime(2023, 7, 31, tzinfo=SHANGHAI)
    task = uuid.UUID(f.tasks[0])

    async def stint(members: list[str], start: timedelta, end: timedelta) -> None:
        ids = [uuid.UUID(m) for m in members]
        await deployments.check_in(conn, actor=DISPATCHER, task_id=task, at=day + start,
                                   data=CheckinCreate(members=ids, expected_back_at=day + end + timedelta(hours=1)))
        await deployments.check_out(conn, actor=DISPATCHER, task_id=task, at=day + end,
                                    data=CheckoutCreate(members=ids))

    await stint(f.a.members[:1], timedelta(hours=9), timedelta(hours=17, minutes=30))
    first = await ok(await viewer.get(f"/v1/incidents/{f.incident}/hours"))
    assert [(m["member_id"], m["hours"]) for m in first["organizations"][0]["members"]] == [(f.a.members[0], "8.5")]
    await stint(f.a.members[1:2], timedelta(hours=9), timedelta(hours=10, seconds=18))  # 1.005 h
    await stint(f.a.members[:1], timedelta(hours=19), timedelta(hours=20, minutes=15))
    worked = await ok(await viewer.get(f"/v1/incidents/{f.incident}/hours"))
    team = worked["organizations"][0]
    members = {m["member_id"]: m for m in team["members"]}
    assert (members[f.a.members[0]]["hours"], members[f.a.members[0]]["stints"]) == ("9.75", 2)
    assert members[f.a.members[1]]["hours"] == "1"  # 3,618 s = 1.005 h, to the hundredth (half to even)
    # The organization's hours come from the exact seconds (38,718 s = 10.755 h), not from its members'
    # rounded hours (9.75 + 1).
    assert (team["hours"], worked["hours"], worked["on_site_hours"]) == ("10.76", "10.76", "0")
    single = await ok(await f.a.org.api.get(f"/v1/incidents/{f.incident}/hours"))
    assert [o["organization_id"] for o in single["organizations"]] == [f.a.org.id]
    assert (await ok(await f.b.org.api.get(f"/v1/incidents/{f.incident}/hours")))["organizations"] == []
    row = await conn.fetchrow("select * from deployments where member_id = $1 order by checked_in_at",
                              uuid.UUID(f.a.members[0]))
    assert deployments.to_model(row).hours == Decimal("8.5")
    figures = await ok(await viewer.get(f"/v1/incidents/{f.incident}/summary"))
    assert figures["field"]["person_hours_completed"] == figures["field"]["person_hours"] == "10.76"
    assert await summary.reconcile(conn, incident_id=uuid.UUID(f.incident)) == []


async def test_the_muster_puts_overdue_members_first_and_masks_phones_for_viewers(team_field, viewer, conn):
    f = team_field
    now = await conn.fetchval("select now()")
    await ok(await check_in(f.a.org.api, f.tasks[0], f.a.members[:2]), 201)
    await ok(await check_in(f.b.org.api, f.tasks[0], f.b.members[:1]), 201)
    # B's other member went in three hours ago, due back an hour ago: past the 15-minute grace.
    await deployments.check_in(conn, actor=DISPATCHER, task_id=uuid.UUID(f.tasks[1]), at=now - timedelta(hours=3),
                               data=CheckinCreate(members=[uuid.UUID(f.b.members[1])],
                                                  expected_back_at=now - timedelta(hours=1)))
    seen = await ok(await f.dispatcher.get(f"/v1/incidents/{f.incident}/field"))
    assert (seen["on_site"], seen["overdue"], seen["grace_seconds"]) == (4, 1, 900)
    assert [m["member_id"] for m in seen["alarms"]] == [f.b.members[1]]
    assert seen["alarms"][0]["overdue"] and seen["alarms"][0]["phone"] == f.b.phones[1]
    assert [(t["task_id"], t["on_site"], t["overdue"]) for t in seen["tasks"]] == [(f.tasks[1], 1, 1),
                                                                                 (f.tasks[0], 3, 0)]
    calm = seen["tasks"][1]["teams"]
    assert sorted((t["organization_id"], t["on_site"]) for t in calm) == sorted([(f.a.org.id, 2), (f.b.org.id, 1)])

    masked = await ok(await viewer.get(f"/v1/incidents/{f.incident}/field"))
    phones = [m["phone"] for t in masked["tasks"] for team in t["teams"] for m in team["members"]]
    assert len(phones) == 4 and all("****" in p for p in phones)
    own = await ok(await f.a.org.api.get(f"/v1/incidents/{f.incident}/field"))
    assert (own["on_site"], own["overdue"], own["alarms"]) == (2, 0, [])
    assert {m["phone"] for m in own["tasks"][0]["teams"][0]["members"]} == set(f.a.phones[:2])
    one_task = await ok(await f.dispatcher.get(f"/v1/incidents/{f.incident}/field?task_id={f.tasks[1]}"))
    assert [t["task_id"] for t in one_task["tasks"]] == [f.tasks[1]]
    await problem(await viewer.get(f"/v1/incidents/{uuid.uuid4()}/field"), 404)


async def test_the_deployments_export_parses_as_hxl_and_carries_no_phone(team_field, viewer, dispatcher, conn):
    f = team_field
    await ok(await check_in(f.a.org.api, f.tasks[0], f.a.members[:3]), 201)
    await ok(await check_out(f.a.org.api, f.tasks[0], f.a.members[:2]))
    response = await viewer.get(f"/v1/incidents/{f.incident}/exports/deployments.csv")
    assert response.status == 200 and response.headers["Content-Type"] == "text/csv; charset=utf-8"
    raw = await response.read()
    dataset = hxl.data(io.BytesIO(raw))
    assert {c.tag for c in dataset.columns} <= HXL_CORE
    assert hxl.validation.schema().validate(hxl.data(io.BytesIO(raw)))
    rows = list(dataset)
    assert sorted(r.get("#status") for r in rows) == ["back", "back", "on_site"]
    assert {r.get("#org+name") for r in rows} == {f.a.org.body["name"]}
    seconds = sum(Decimal(r.get("#meta+seconds")) for r in rows if r.get("#meta+seconds"))
    stored = await conn.fetchval("select value from incident_counters where name = 'person_seconds'")
    assert seconds == stored
    text = raw.decode()
    assert not any(p in text for team in (f.a, f.b) for p in team.phones)
    await problem(await f.a.org.api.get(f"/v1/incidents/{f.incident}/exports/deployments.csv"), 403)


@pytest.mark.parametrize("settings", [{"rate_limit_burst": 10_000}], indirect=True)
async def test_reconcile_is_clean_after_two_hundred_random_concurrent_check_ins_and_outs(dispatcher, conn, settings):
    f = await build_field(dispatcher, conn, size=8, tasks=3)
    rng = random.Random(20230731)
    teams = [f.a, f.b]
    done = {"in": 0, "out": 0}
    seen_on_site: dict[str, str] = {}  # member → task, as the responses told (racy on purpose)

    async def operation() -> None:
        team = rng.choice(teams)
        api = rng.choice([team.org.api, dispatcher])
        if seen_on_site and rng.random() < 0.45:  # most check-outs name people the storm sent out
            member = rng.choice(sorted(seen_on_site))
            response = await check_out(api if member in team.members else dispatcher, seen_on_site[member], [member])
            if response.status == 200:
                done["out"] += 1
                seen_on_site.pop(member, None)
        elif rng.random() < 0.2:
            response = await check_out(api, rng.choice(f.tasks), rng.sample(team.members, rng.randint(1, 2)))
            done["out"] += response.status == 200
        else:
            task, members = rng.choice(f.tasks), rng.sample(team.members, rng.randint(1, 2))
            response = await check_in(api, task, members)
            if response.status == 201:
                done["in"] += 1
                seen_on_site.update(dict.fromkeys(members, task))
        assert response.status in (200, 201, 409), await response.text()

    for _ in range(4):  # four waves of 50 at once: each wave meets what the last one left
        await asyncio.gather(*(operation() for _ in range(50)))
    assert done["in"] > 20 and done["out"] > 15, done  # the storm did real work
    assert await summary.reconcile(conn, incident_id=uuid.UUID(f.incident)) == []
    on_site = await conn.fetchval("select count(*) from deployments where checked_out_at is null")
    figures = await ok(await dispatcher.get(f"/v1/incidents/{f.incident}/summary"))
    assert figures["field"]["on_site"] == str(on_site)
