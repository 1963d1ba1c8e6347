"""Tasks and assignments: create, list and PATCH under If-Match, the CAP area's rules, which team may be
assigned, accept and decline, done and cancel with their outcome (never while anyone is on site), what
organizations see, the events and who gets them, and reconcile."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from models.keys import Role
from relief import summary, tasks
from relief.auth import Principal
from tests.conftest import Api, Org, make_organization
from tests.pledge_world import goods_call, ok, open_incident, personnel_call, personnel_pledge, pledge, problem
from tests.webhook_world import subscribe, verify

POLYGON = "31.30,120.50 31.40,120.60 31.20,120.70 31.30,120.50"


def task_body(**overrides: Any) -> dict[str, Any]:
    body = {"title": "东山镇沿湖村庄搜救", "skill": "boat_rescue", "headcount": 8, "priority": "high",
            "expected_minutes": 240, "area": {"description": "吴中区东山镇陆巷村", "point": "31.07,120.36",
                                              "region": "320506"}}
    return {**body, **overrides}


@dataclass
class Field:
    dispatcher: Api
    incident: str
    call: str  # a personnel call
    a: Org
    b: Org
    pledge_a: str  # accepted personnel pledges of A and B
    pledge_b: str


async def team(field_dispatcher: Api, org: Org, call: str, *, accept: bool = True) -> str:
    made = await ok(await pledge(org.api, call, personnel_pledge()), 201)
    if accept:
        await ok(await field_dispatcher.post(f"/v1/pledges/{made['id']}/accept"))
    return made["id"]


@pytest.fixture
async def field(dispatcher, conn) -> Field:
    incident = await open_incident(dispatcher)
    call = (await ok(await dispatcher.post(f"/v1/incidents/{incident}/calls", json=personnel_call()), 201))["id"]
    a, b = await make_organization(dispatcher, conn, 0), await make_organization(dispatcher, conn, 1)
    return Field(dispatcher, incident, call, a, b, await team(dispatcher, a, call), await team(dispatcher, b, call))


async def new_task(f: Field, **overrides: Any) -> dict[str, Any]:
    return await ok(await f.dispatcher.post(f"/v1/incidents/{f.incident}/tasks", json=task_body(**overrides)), 201)


async def assign(f: Field, task: dict[str, Any], pledge_id: str) -> dict[str, Any]:
    return await ok(await f.dispatcher.post(f"/v1/tasks/{task['id']}/assignments", json={"pledge_id": pledge_id}), 201)


async def start(conn, task: dict[str, Any], assignment: dict[str, Any] | None = None) -> dict[str, Any]:
    # The first check-in calls this (relief/deployments.py); here it is called as check-ins do.
    started = await tasks.started(conn, task_id=uuid.UUID(task["id"]), actor=Principal(role=Role.dispatcher),
                                  assignment_id=uuid.UUID(assignment["id"]) if assignment else None)
    return started.model_dump(mode="json")


async def on_site(org: Org, pledge_id: str, task: dict[str, Any]) -> str:
    """A member of the team set on its roster and checked in to the task (relief/deployments.py, which
    starts the task); the member's id."""
    roster = await ok(await org.api.put(f"/v1/pledges/{pledge_id}/roster", headers={"If-Match": "*"}, json={
        "members": [{"name": "张三", "phone": "13911112222", "role": "lead"}]}))
    member = roster["members"][0]["id"]
    back = (datetime.now(UTC) + timedelta(hours=4)).isoformat()
    await ok(await org.api.post(f"/v1/tasks/{task['id']}/checkins", json={"members": [member],
                                                                          "expected_back_at": back}), 201)
    return member


async def types(conn, entity_id: str) -> list[str]:
    rows = await conn.fetch("select type from events where entity_id = $1 and type like 'task.%' order by id",
                            uuid.UUID(entity_id))
    return [r["type"] for r in rows]


async def test_create_read_list_and_patch_under_if_match(field, viewer, conn):
    f = field
    response = await f.dispatcher.post(f"/v1/incidents/{f.incident}/tasks", json=task_body(priority=None) | {
        "area": {"description": "太湖大堤", "polygon": POLYGON}})
    assert response.status == 422  # priority null is not "normal": leave it out for the default
    created = await new_task(f)
    assert (created["status"], created["priority"], created["headcount"], created["version"]) == (
        "open", "high", 8, 1)
    assert created["area"] == {"description": "吴中区东山镇陆巷村", "point": "31.07,120.36", "circle": None,
                               "polygon": None, "region": "320506", "region_name": "吴中区"}
    assert created["outcome"] is None and created["started_at"] is None
    plain = await new_task(f, priority="low", skill=None, expected_minutes=None,
                           area={"description": "太湖大堤", "polygon": POLYGON})
    assert (await ok(await viewer.get(f"/v1/tasks/{created['id']}"))) == created

    listed = await ok(await viewer.get(f"/v1/incidents/{f.incident}/tasks"))
    assert [t["id"] for t in listed["items"]] == [plain["id"], created["id"]]
    low = await ok(await viewer.get(f"/v1/incidents/{f.incident}/tasks?priority=low"))
    assert [t["id"] for t in low["items"]] == [plain["id"]]
    page = await ok(await viewer.get(f"/v1/incidents/{f.incident}/tasks?limit=1"))
    rest = await ok(await viewer.get(f"/v1/incidents/{f.incident}/tasks?limit=1&cursor={page['next_cursor']}"))
    assert [t["id"] for t in page["items"] + rest["items"]] == [plain["id"], created["id"]]

    path = f"/v1/tasks/{created['id']}"
    assert (await f.dispatcher.patch(path, json={"headcount": 12})).status == 428
    changed = await ok(await f.dispatcher.patch(path, json={"headcount": 12, "expected_minutes": None, "area": {
        "description": "东山镇", "circle": "31.07,120.36 3"}}, headers={"If-Match": '"1"'}))
    assert (changed["headcount"], changed["expected_minutes"], changed["version"]) == (12, None, 2)
    assert changed["area"]["circle"] == "31.07,120.36 3" and changed["area"]["point"] is None
    await problem(await f.dispatcher.patch(path, json={"headcount": 3}, headers={"If-Match": '"1"'}), 412)
    await problem(await viewer.patch(path, json={"headcount": 3}, headers={"If-Match": "*"}), 403)
    await problem(await f.dispatcher.patch(path, json={"title": None}, headers={"If-Match": "*"}), 422)
    assert await types(conn, created["id"]) == ["task.created", "task.updated"]
    assert await summary.reconcile(conn, incident_id=uuid.UUID(f.incident)) == []


AREAS = [
    pytest.param({"description": "东山"}, "/area", id="no-shape"),
    pytest.param({"description": "东山", "point": "31.07,120.36", "circle": "31.07,120.36 3"}, "/area", id="two"),
    pytest.param({"description": "东山", "point": "95,120.36"}, "/area/point", id="latitude-beyond-90"),
    pytest.param({"description": "东山", "point": "31.07 120.36"}, "/area/point", id="point-not-lat-comma-lon"),
    pytest.param({"description": "东山", "circle": "31.07,120.36"}, "/area/circle", id="circle-without-radius"),
    pytest.param({"description": "东山", "polygon": "31.3,120.5 31.4,120.6 31.2,120.7 31.3,120.6"},
                 "/area/polygon", id="polygon-not-closed"),
    pytest.param({"description": "", "point": "31.07,120.36"}, "/area/description", id="no-description"),
    pytest.param({"description": "东山", "point": "31.07,120.36", "region": "990000"}, "/area/region",
                 id="region-no-province"),
    pytest.param({"description": "东山", "point": "31.07,120.36", "geocodes": []}, "/area/geocodes",
                 id="unknown-field"),
]


@pytest.mark.parametrize(("area", "pointer"), AREAS)
async def test_the_area_follows_the_alerts_cap_rules(dispatcher, conn, area, pointer):
    incident = await open_incident(dispatcher)
    response = await dispatcher.post(f"/v1/incidents/{incident}/tasks", json=task_body(area=area))
    body = await problem(response, 422)
    assert [e["pointer"] for e in body["errors"]] == [pointer]
    assert await conn.fetchval("select count(*) from tasks") == 0


async def test_other_fields_and_a_closed_incident_are_refused(field):
    f = field
    refused = [(task_body(headcount=0), "/headcount"), (task_body(priority="medium"), "/priority"),
               (task_body(skill="juggling"), "/skill"), (task_body(expected_minutes=0), "/expected_minutes")]
    for body, pointer in refused:
        response = await f.dispatcher.post(f"/v1/incidents/{f.incident}/tasks", json=body)
        assert [e["pointer"] for e in (await problem(response, 422))["errors"]] == [pointer]
    await ok(await f.dispatcher.post(f"/v1/incidents/{f.incident}/close"))
    response = await f.dispatcher.post(f"/v1/incidents/{f.incident}/tasks", json=task_body())
    assert (await problem(response, 409))["state"] == "closed"


async def test_which_teams_may_be_assigned(field, dispatcher, conn):
    f = field
    task = await new_task(f)
    path = f"/v1/tasks/{task['id']}/assignments"
    goods = (await ok(await dispatcher.post(f"/v1/incidents/{f.incident}/calls", json=goods_call()), 201))["id"]
    boxes = await ok(await pledge(f.a.api, goods, {"quantity": "10"}), 201)
    elsewhere = await open_incident(dispatcher, code="2023-DOKSURI-ZZ")
    far_call = (await ok(await dispatcher.post(f"/v1/incidents/{elsewhere}/calls", json=personnel_call()), 201))["id"]
    far = await team(dispatcher, f.a, far_call)
    for pledge_id in (boxes["id"], far, str(uuid.uuid4())):
        body = await problem(await dispatcher.post(path, json={"pledge_id": pledge_id}), 422)
        assert [e["pointer"] for e in body["errors"]] == ["/pledge_id"]
    waiting = await team(dispatcher, f.a, f.call, accept=False)
    assert (await problem(await dispatcher.post(path, json={"pledge_id": waiting}), 409))["state"] == "pledged"
    await ok(await f.a.api.post(f"/v1/pledges/{waiting}/withdraw"))
    assert (await problem(await dispatcher.post(path, json={"pledge_id": waiting}), 409))["state"] == "withdrawn"
    await ok(await dispatcher.post(f"/v1/organizations/{f.b.id}/suspend"))
    assert (await problem(await dispatcher.post(path, json={"pledge_id": f.pledge_b}), 409))["state"] == "suspended"
    assert (await ok(await f.dispatcher.get(f"/v1/tasks/{task['id']}")))["status"] == "open"

    first = await assign(f, task, f.pledge_a)
    assert (first["status"], first["task_status"], first["organization_id"], first["headcount"]) == (
        "pending", "assigned", f.a.id, 10)
    again = await problem(await dispatcher.post(path, json={"pledge_id": f.pledge_a}), 409)
    assert again["assignment_id"] == first["id"]
    assert (await ok(await dispatcher.get(f"/v1/assignments/{first['id']}"))) == first
    await ok(await f.dispatcher.post(f"/v1/tasks/{task['id']}/cancel", json={"reason": "水位回落"}))
    later = await team(dispatcher, f.a, f.call)
    assert (await problem(await dispatcher.post(path, json={"pledge_id": later}), 409))["state"] == "cancelled"
    assert await summary.reconcile(conn, incident_id=uuid.UUID(f.incident)) == []


async def test_teams_accept_or_decline_and_a_task_all_declined_is_open_again(field, viewer, conn):
    f = field
    task = await new_task(f)
    a, b = await assign(f, task, f.pledge_a), await assign(f, task, f.pledge_b)
    await problem(await f.b.api.post(f"/v1/assignments/{a['id']}/accept"), 404)  # B's key on A's assignment
    await problem(await viewer.post(f"/v1/assignments/{a['id']}/accept"), 403)
    declined = await ok(await f.a.api.post(f"/v1/assignments/{a['id']}/decline"))
    assert (declined["status"], declined["task_status"], declined["version"]) == ("declined", "assigned", 2)
    assert declined["decided_at"] is not None
    assert (await problem(await f.a.api.post(f"/v1/assignments/{a['id']}/accept"), 409))["state"] == "declined"
    # The dispatcher records B's answer, given by phone: no team is left, so the task is open again.
    last = await ok(await f.dispatcher.post(f"/v1/assignments/{b['id']}/decline"))
    assert last["task_status"] == "open"
    assert (await ok(await viewer.get(f"/v1/tasks/{task['id']}")))["status"] == "open"

    asked_again = await assign(f, task, f.pledge_a)  # the same assignment, pending once more
    assert (asked_again["id"], asked_again["status"], asked_again["decided_at"]) == (a["id"], "pending", None)
    accepted = await ok(await f.a.api.post(f"/v1/assignments/{a['id']}/accept"))
    assert (accepted["status"], accepted["task_status"]) == ("accepted", "assigned")
    listed = await ok(await viewer.get(f"/v1/tasks/{task['id']}/assignments?status=accepted"))
    assert [x["id"] for x in listed["items"]] == [a["id"]]
    assert await types(conn, a["id"]) == ["task.assigned", "task.declined", "task.assigned", "task.accepted"]
    assert await summary.reconcile(conn, incident_id=uuid.UUID(f.incident)) == []


async def test_a_suspended_organization_may_decline_but_not_accept(field):
    f = field
    task = await new_task(f)
    a = await assign(f, task, f.pledge_a)
    await ok(await f.dispatcher.post(f"/v1/organizations/{f.a.id}/suspend"))
    await problem(await f.a.api.post(f"/v1/assignments/{a['id']}/accept"), 403)
    assert (await ok(await f.a.api.post(f"/v1/assignments/{a['id']}/decline")))["task_status"] == "open"


async def test_the_first_check_in_starts_it_once_and_done_waits_for_everyone_back(field, conn):
    f = field
    task = await new_task(f)
    path = f"/v1/tasks/{task['id']}"
    outcome = {"people_rescued": 14, "people_transferred": 37, "note": "陆巷村 14 人获救"}
    assert (await problem(await f.dispatcher.post(f"{path}/done", json=outcome), 409))["state"] == "open"
    a = await assign(f, task, f.pledge_a)
    await ok(await f.a.api.post(f"/v1/assignments/{a['id']}/accept"))
    assert (await problem(await f.dispatcher.post(f"{path}/done", json=outcome), 409))["state"] == "assigned"
    member = await on_site(f.a, f.pledge_a, task)
    first = await ok(await f.dispatcher.get(path))
    assert (first["status"], first["version"]) == ("in_progress", 3) and first["started_at"]
    assert await start(conn, task, a) == first  # later check-ins change nothing
    refused = await problem(await f.dispatcher.post(f"{path}/done", json=outcome), 409)
    assert refused["on_site"] == 1 and "on site" in refused["detail"]
    await problem(await f.dispatcher.post(f"{path}/cancel", json={"reason": "撤回"}), 409)
    await ok(await f.a.api.post(f"/v1/tasks/{task['id']}/checkouts", json={"members": [member]}))

    await problem(await f.dispatcher.post(f"{path}/done", json={"people_rescued": 14}), 422)
    done = await ok(await f.dispatcher.post(f"{path}/done", json=outcome))
    assert (done["status"], done["outcome"]) == ("done", {"people_rescued": 14, "people_transferred": 37,
                                                          "note": "陆巷村 14 人获救"})
    assert done["ended_at"] is not None
    assert (await problem(await f.dispatcher.post(f"{path}/cancel", json={"reason": "x"}), 409))["state"] == "done"
    await problem(await f.dispatcher.patch(path, json={"headcount": 3}, headers={"If-Match": "*"}), 409)
    counted = await conn.fetch("select name, key, value from incident_counters where incident_id = $1 and "
                               "name in ('tasks', 'people_rescued', 'people_transferred') and value <> 0",
                               uuid.UUID(f.incident))
    assert {(r["name"], r["key"]): int(r["value"]) for r in counted} == {
        ("tasks", "done"): 1, ("people_rescued", ""): 14, ("people_transferred", ""): 37}
    figures = (await ok(await f.dispatcher.get(f"/v1/incidents/{f.incident}/summary")))["tasks"]
    assert figures == {"by_status": {"open": 0, "assigned": 0, "in_progress": 0, "done": 1, "cancelled": 0},
                       "people_rescued": "14", "people_transferred": "37"}
    assert await types(conn, task["id"]) == ["task.created", "task.started", "task.done"]
    assert await summary.reconcile(conn, incident_id=uuid.UUID(f.incident)) == []


async def test_cancel_keeps_its_reason(field, conn):
    f = field
    task = await new_task(f)
    await problem(await f.dispatcher.post(f"/v1/tasks/{task['id']}/cancel", json={}), 422)
    cancelled = await ok(await f.dispatcher.post(f"/v1/tasks/{task['id']}/cancel", json={"reason": "水位回落"}))
    assert (cancelled["status"], cancelled["cancel_reason"], cancelled["outcome"]) == ("cancelled", "水位回落", None)
    assert (await problem(await f.dispatcher.post(f"/v1/tasks/{task['id']}/cancel", json={"reason": "x"}), 409))[
        "state"] == "cancelled"
    assert await summary.reconcile(conn, incident_id=uuid.UUID(f.incident)) == []


async def test_organizations_see_only_the_tasks_their_teams_are_asked_to_do(field, conn):
    f = field
    ours, theirs, nobodys = await new_task(f), await new_task(f, title="B 的任务"), await new_task(f, title="未指派")
    mine = await assign(f, ours, f.pledge_a)
    other = await assign(f, theirs, f.pledge_b)
    await assign(f, ours, f.pledge_b)  # both teams on one task: each sees only its own assignment
    listed = await ok(await f.a.api.get(f"/v1/incidents/{f.incident}/tasks"))
    assert [t["id"] for t in listed["items"]] == [ours["id"]]
    assert (await ok(await f.a.api.get(f"/v1/tasks/{ours['id']}")))["id"] == ours["id"]
    for path in (f"/v1/tasks/{theirs['id']}", f"/v1/tasks/{nobodys['id']}", f"/v1/tasks/{theirs['id']}/assignments",
                 f"/v1/assignments/{other['id']}"):
        await problem(await f.a.api.get(path), 404)
    shown = await ok(await f.a.api.get(f"/v1/tasks/{ours['id']}/assignments"))
    assert [x["id"] for x in shown["items"]] == [mine["id"]]
    assert len((await ok(await f.dispatcher.get(f"/v1/tasks/{ours['id']}/assignments")))["items"]) == 2
    # Declining keeps the task readable to the team that was asked (its own answer is there).
    await ok(await f.a.api.post(f"/v1/assignments/{mine['id']}/decline"))
    assert (await f.a.api.get(f"/v1/tasks/{ours['id']}")).status == 200


async def test_organizations_get_the_task_events_that_name_them(field, conn, receiver, worker):
    f = field
    hooks = {o.id: await subscribe(o.api, receiver.url(f"/{o.id}"), event_types=["task.*"]) for o in (f.a, f.b)}
    task, theirs = await new_task(f), await new_task(f, title="B 的任务")
    a = await assign(f, task, f.pledge_a)
    b = await assign(f, theirs, f.pledge_b)
    await ok(await f.a.api.post(f"/v1/assignments/{a['id']}/accept"))
    await on_site(f.a, f.pledge_a, task)  # A's check-in starts the task
    await ok(await f.b.api.post(f"/v1/assignments/{b['id']}/decline"))
    await worker.tick()

    got_a = [verify(hooks[f.a.id]["secret"], r) for r in receiver.at(f"/{f.a.id}")]
    assert [(e["type"], e["data"]["id"]) for e in got_a] == [
        ("task.assigned", a["id"]), ("task.accepted", a["id"]), ("task.started", task["id"])]
    assert (got_a[0]["data"]["task_id"], got_a[0]["data"]["status"], got_a[0]["data"]["task_status"]) == (
        task["id"], "pending", "assigned")
    got_b = [verify(hooks[f.b.id]["secret"], r) for r in receiver.at(f"/{f.b.id}")]
    assert [(e["type"], e["data"]["id"]) for e in got_b] == [("task.assigned", b["id"]), ("task.declined", b["id"])]
    assert task["id"] not in json.dumps(got_b) and theirs["id"] not in json.dumps(got_a)
    # The bureau's own task events (created, updated, done…) name no organization: no team gets them.
    assert await conn.fetchval("select count(*) from events e where type = 'task.created' "
                               "and event_visible_to(e, $1)", uuid.UUID(f.a.id)) == 0


async def test_concurrent_answers_and_assignments_are_decided_under_the_tasks_lock(field, conn):
    f = field
    for _ in range(5):
        task = await new_task(f)
        a, b = await assign(f, task, f.pledge_a), await assign(f, task, f.pledge_b)
        # Each decline counts the others under the task's lock: the last one sees none left.
        answers = await asyncio.gather(f.a.api.post(f"/v1/assignments/{a['id']}/decline"),
                                       f.b.api.post(f"/v1/assignments/{b['id']}/decline"))
        assert [r.status for r in answers] == [200, 200]
        assert (await ok(await f.dispatcher.get(f"/v1/tasks/{task['id']}")))["status"] == "open"
        tries = await asyncio.gather(*(f.dispatcher.post(f"/v1/tasks/{task['id']}/assignments",
                                                         json={"pledge_id": f.pledge_a}) for _ in range(3)))
        assert sorted(r.status for r in tries) == [201, 409, 409]
    assert await summary.reconcile(conn, incident_id=uuid.UUID(f.incident)) == []
