"""Shelters: creation, PATCH, close/reopen, exact occupancy under a surge, and threshold events."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import pytest

from models.residents import resident_id_check_character
from relief import shelters
from tests.conftest import incident_body


async def new_incident(dispatcher, **overrides: Any) -> str:
    body = incident_body(code=f"T-{uuid.uuid4().hex[:10]}", **overrides)
    response = await dispatcher.post("/v1/incidents", json=body)
    assert response.status == 201, await response.text()
    return (await response.json())["id"]


async def new_shelter(dispatcher, incident_id: str, **overrides: Any) -> dict[str, Any]:
    body = {"name": "东山中学体育馆", "address": "苏州市吴中区东山镇", "capacity": 300, **overrides}
    response = await dispatcher.post(f"/v1/incidents/{incident_id}/shelters", json=body)
    assert response.status == 201, await response.text()
    return await response.json()


async def event_types(conn, entity_id: str) -> list[str]:
    rows = await conn.fetch("select type from events where entity_id = $1 order by id", uuid.UUID(entity_id))
    return [r["type"] for r in rows]


def resident_id(index: int) -> str:
    """A valid 18-character resident ID (GB 11643 check character), distinct per index."""
    first17 = f"320505{19800101 + index // 1000:08d}{index % 1000:03d}"
    return first17 + resident_id_check_character(first17)


def resident_body(index: int = 0, **overrides: Any) -> dict[str, Any]:
    return {"name": f"李秀英{index}", "id_type": "resident_id", "id_number": resident_id(index),
            "phone": f"139{index:08d}", "origin_region": "320506", **overrides}


async def register(dispatcher, incident_id: str, index: int = 0, **overrides: Any) -> dict[str, Any]:
    response = await dispatcher.post(f"/v1/incidents/{incident_id}/residents", json=resident_body(index, **overrides))
    assert response.status == 201, await response.text()
    return await response.json()


async def shelter_now(dispatcher, shelter_id: str) -> dict[str, Any]:
    response = await dispatcher.get(f"/v1/shelters/{shelter_id}")
    assert response.status == 200
    return await response.json()


async def test_create_read_and_list(dispatcher, viewer, conn):
    incident_id = await new_incident(dispatcher)
    response = await dispatcher.post(f"/v1/incidents/{incident_id}/shelters", json={
        "name": "东山中学体育馆", "address": "苏州市吴中区东山镇", "capacity": 300,
        "location": {"lat": 31.3, "lon": 120.6}})
    assert response.status == 201
    shelter = await response.json()
    assert response.headers["Location"] == f"/v1/shelters/{shelter['id']}"
    assert response.headers["ETag"] == '"1"'
    assert {k: shelter[k] for k in ("capacity", "occupancy", "available", "status", "location", "version")} == {
        "capacity": 300, "occupancy": 0, "available": 300, "status": "open", "location": {"lat": 31.3, "lon": 120.6},
        "version": 1}
    assert await event_types(conn, shelter["id"]) == ["shelter.opened"]
    assert await (await viewer.get(f"/v1/shelters/{shelter['id']}")).json() == shelter

    other = await new_shelter(dispatcher, incident_id, name="东山宾馆", capacity=40)
    assert other["location"] is None
    await new_shelter(dispatcher, await new_incident(dispatcher), name="elsewhere")
    page = await (await viewer.get(f"/v1/incidents/{incident_id}/shelters?limit=1")).json()
    assert [s["name"] for s in page["items"]] == ["东山宾馆"] and page["next_cursor"]
    rest = await (await viewer.get(f"/v1/incidents/{incident_id}/shelters?cursor={page['next_cursor']}")).json()
    assert [s["name"] for s in rest["items"]] == ["东山中学体育馆"] and rest["next_cursor"] is None
    await dispatcher.post(f"/v1/shelters/{other['id']}/close")
    closed = await (await viewer.get(f"/v1/incidents/{incident_id}/shelters?status=closed")).json()
    assert [s["id"] for s in closed["items"]] == [other["id"]]
    assert (await viewer.get(f"/v1/incidents/{uuid.uuid4()}/shelters")).status == 404
    assert (await viewer.get(f"/v1/shelters/{uuid.uuid4()}")).status == 404


@pytest.mark.parametrize(("body", "pointer"), [
    pytest.param({"address": "x", "capacity": 10}, "/name", id="no-name"),
    pytest.param({"name": "x", "address": "x", "capacity": 0}, "/capacity", id="capacity-zero"),
    pytest.param({"name": "x", "address": "x", "capacity": True}, "/capacity", id="capacity-true"),
    pytest.param({"name": "x", "address": "x", "capacity": 2.5}, "/capacity", id="capacity-fraction"),
    pytest.param({"name": "x", "address": "x", "capacity": 9, "location": {"lat": 31.3}}, "/location/lon",
                 id="lat-without-lon"),
    pytest.param({"name": "x", "address": "x", "capacity": 9, "location": {"lat": 91, "lon": 0}}, "/location/lat",
                 id="lat-out-of-range"),
])
async def test_invalid_bodies_are_refused(dispatcher, conn, body, pointer):
    incident_id = await new_incident(dispatcher)
    response = await dispatcher.post(f"/v1/incidents/{incident_id}/shelters", json=body)
    assert response.status == 422
    assert [e["pointer"] for e in (await response.json())["errors"]] == [pointer]
    assert await conn.fetchval("select count(*) from shelters") == 0


async def test_roles(dispatcher, viewer, organization):
    incident_id = await new_incident(dispatcher)
    shelter = await new_shelter(dispatcher, incident_id)
    body = {"name": "x", "address": "y", "capacity": 5}
    for api in (viewer, organization.api):
        assert (await api.post(f"/v1/incidents/{incident_id}/shelters", json=body)).status == 403
        assert (await api.patch(f"/v1/shelters/{shelter['id']}", json={"name": "z"},
                                headers={"If-Match": '"1"'})).status == 403
        assert (await api.post(f"/v1/shelters/{shelter['id']}/close")).status == 403
    assert (await organization.api.get(f"/v1/incidents/{incident_id}/shelters")).status == 403
    assert (await organization.api.get(f"/v1/shelters/{shelter['id']}")).status == 403
    assert (await shelter_now(dispatcher, shelter["id"]))["status"] == "open"


async def test_closed_incident_refuses_new_shelters(dispatcher, conn):
    incident_id = await new_incident(dispatcher)
    assert (await dispatcher.post(f"/v1/incidents/{incident_id}/close")).status == 200
    response = await dispatcher.post(f"/v1/incidents/{incident_id}/shelters",
                                     json={"name": "x", "address": "y", "capacity": 5})
    assert response.status == 409 and (await response.json())["state"] == "closed"
    response = await dispatcher.post(f"/v1/incidents/{uuid.uuid4()}/shelters",
                                     json={"name": "x", "address": "y", "capacity": 5})
    assert response.status == 404
    assert await conn.fetchval("select count(*) from shelters") == 0


async def test_patch_needs_if_match_and_keeps_capacity_above_occupancy(dispatcher, conn):
    incident_id = await new_incident(dispatcher)
    shelter = await new_shelter(dispatcher, incident_id, capacity=5, location={"lat": 31.3, "lon": 120.6})
    path = f"/v1/shelters/{shelter['id']}"
    assert (await dispatcher.patch(path, json={"name": "新名"})).status == 428
    assert (await dispatcher.patch(path, json={"name": "新名"}, headers={"If-Match": '"7"'})).status == 412

    response = await dispatcher.patch(path, json={"name": "东山小学", "location": None}, headers={"If-Match": '"1"'})
    assert response.status == 200 and response.headers["ETag"] == '"2"'
    updated = await response.json()
    assert (updated["name"], updated["location"], updated["version"]) == ("东山小学", None, 2)
    row = await conn.fetchrow("select before, after from events where type = 'shelter.updated'")
    assert (row["before"]["name"], row["after"]["name"]) == ("东山中学体育馆", "东山小学")
    same = await dispatcher.patch(path, json={"name": "东山小学"}, headers={"If-Match": '"2"'})
    assert (await same.json())["version"] == 2  # a no-op changes nothing and emits nothing

    for index in range(3):
        resident = await register(dispatcher, incident_id, index)
        assert (await dispatcher.post(f"/v1/residents/{resident['id']}/checkin",
                                      json={"shelter_id": shelter["id"]})).status == 200
    response = await dispatcher.patch(path, json={"capacity": 2}, headers={"If-Match": "*"})
    assert response.status == 409
    problem = await response.json()
    assert problem["occupancy"] == 3 and "3" in problem["detail"]
    assert (await shelter_now(dispatcher, shelter["id"]))["capacity"] == 5

    # Down to the occupancy: full at once, with its events; back up: open again.
    response = await dispatcher.patch(path, json={"capacity": 3}, headers={"If-Match": "*"})
    assert response.status == 200
    assert {k: (await response.json())[k] for k in ("status", "occupancy", "available")} == {
        "status": "full", "occupancy": 3, "available": 0}
    response = await dispatcher.patch(path, json={"capacity": 30}, headers={"If-Match": "*"})
    assert (await response.json())["status"] == "open"
    assert await event_types(conn, shelter["id"]) == [
        "shelter.opened", "shelter.updated", "shelter.updated", "shelter.near_capacity", "shelter.full",
        "shelter.updated"]


async def test_close_and_reopen(dispatcher, conn):
    incident_id = await new_incident(dispatcher)
    shelter = await new_shelter(dispatcher, incident_id, capacity=5)
    path = f"/v1/shelters/{shelter['id']}"
    resident = await register(dispatcher, incident_id)
    await dispatcher.post(f"/v1/residents/{resident['id']}/checkin", json={"shelter_id": shelter["id"]})

    response = await dispatcher.post(f"{path}/close")
    assert response.status == 409
    problem = await response.json()
    assert problem["occupancy"] == 1 and "holds 1" in problem["detail"]
    await dispatcher.post(f"/v1/residents/{resident['id']}/return")

    response = await dispatcher.post(f"{path}/close")
    assert response.status == 200
    closed = await response.json()
    assert closed["status"] == "closed" and closed["closed_at"] is not None
    assert (await (await dispatcher.post(f"{path}/close")).json())["state"] == "closed"
    newcomer = await register(dispatcher, incident_id, 1)
    response = await dispatcher.post(f"/v1/residents/{newcomer['id']}/checkin", json={"shelter_id": shelter["id"]})
    assert response.status == 409 and (await response.json())["state"] == "closed"

    response = await dispatcher.post(f"{path}/reopen")
    assert response.status == 200
    assert (await response.json())["status"] == "open" and (await response.json())["closed_at"] is None
    assert (await (await dispatcher.post(f"{path}/reopen")).json())["state"] == "open"
    await dispatcher.post(f"{path}/close")
    await dispatcher.post(f"/v1/incidents/{incident_id}/close")
    response = await dispatcher.post(f"{path}/reopen")
    assert response.status == 409 and (await response.json())["state"] == "closed"
    assert await event_types(conn, shelter["id"]) == [
        "shelter.opened", "shelter.closed", "shelter.reopened", "shelter.closed"]
    assert (await dispatcher.post(f"/v1/shelters/{uuid.uuid4()}/close")).status == 404


async def test_threshold_events_once_per_crossing(dispatcher, conn):
    incident_id = await new_incident(dispatcher)
    shelter = await new_shelter(dispatcher, incident_id, capacity=10)
    people = [await register(dispatcher, incident_id, i) for i in range(13)]

    async def checkin(resident: dict) -> int:
        response = await dispatcher.post(f"/v1/residents/{resident['id']}/checkin", json={"shelter_id": shelter["id"]})
        return response.status

    async def thresholds() -> list[str]:
        return [t for t in await event_types(conn, shelter["id"]) if t in ("shelter.near_capacity", "shelter.full")]

    for resident in people[:8]:
        assert await checkin(resident) == 200
    assert await thresholds() == []
    assert await checkin(people[8]) == 200  # 9 of 10: 90 %
    assert await thresholds() == ["shelter.near_capacity"]
    assert await checkin(people[9]) == 200
    current = await shelter_now(dispatcher, shelter["id"])
    assert (current["occupancy"], current["status"]) == (10, "full")
    assert await thresholds() == ["shelter.near_capacity", "shelter.full"]

    response = await dispatcher.post(f"/v1/residents/{people[10]['id']}/checkin", json={"shelter_id": shelter["id"]})
    assert response.status == 409
    problem = await response.json()
    assert (problem["state"], problem["available"]) == ("full", 0)
    assert (await (await dispatcher.get(f"/v1/residents/{people[10]['id']}")).json())["status"] == "registered"

    # Down to 9 (still above 90 %) and back to full: a second crossing of 100 %, none of 90 %.
    await dispatcher.post(f"/v1/residents/{people[0]['id']}/return")
    assert (await shelter_now(dispatcher, shelter["id"]))["status"] == "open"
    assert await checkin(people[10]) == 200
    assert await thresholds() == ["shelter.near_capacity", "shelter.full", "shelter.full"]
    # Down to 8, then up to 9: 90 % crossed again.
    for resident in people[1:3]:
        await dispatcher.post(f"/v1/residents/{resident['id']}/return")
    assert await checkin(people[11]) == 200
    assert await thresholds() == ["shelter.near_capacity", "shelter.full", "shelter.full", "shelter.near_capacity"]
    row = await conn.fetchrow("select after from events where type = 'shelter.near_capacity' order by id desc")
    assert (row["after"]["occupancy"], row["after"]["capacity"]) == (9, 10)


async def test_30_concurrent_checkins_fill_10_places_exactly(dispatcher, conn):
    incident_id = await new_incident(dispatcher)
    shelter = await new_shelter(dispatcher, incident_id, capacity=10)
    people = [await register(dispatcher, incident_id, i) for i in range(30)]
    responses = await asyncio.gather(*(
        dispatcher.post(f"/v1/residents/{r['id']}/checkin", json={"shelter_id": shelter["id"]}) for r in people))
    assert Counter(r.status for r in responses) == {200: 10, 409: 20}

    current = await shelter_now(dispatcher, shelter["id"])
    assert (current["occupancy"], current["status"], current["available"]) == (10, "full", 0)
    sheltered = await conn.fetchval(
        "select count(*) from residents where shelter_id = $1 and status = 'sheltered'", uuid.UUID(shelter["id"]))
    assert sheltered == 10
    types = Counter(await event_types(conn, shelter["id"]))
    assert (types["shelter.full"], types["shelter.near_capacity"]) == (1, 1)
    assert await conn.fetchval("select count(*) from events where type = 'resident.sheltered'") == 10
    assert await shelters.occupancy_differences(conn, uuid.UUID(incident_id)) == []


async def test_the_database_refuses_more_people_than_places(dispatcher, conn):
    """The check constraints are the last line: a bug in the guarded update could not slip past them."""
    import asyncpg

    incident_id = await new_incident(dispatcher)
    shelter = await new_shelter(dispatcher, incident_id, capacity=2)
    with pytest.raises(asyncpg.CheckViolationError):
        await conn.execute("update shelters set occupancy = 3 where id = $1", uuid.UUID(shelter["id"]))
    with pytest.raises(asyncpg.CheckViolationError):  # status must follow occupancy
        await conn.execute("update shelters set occupancy = 2 where id = $1", uuid.UUID(shelter["id"]))


async def test_occupancy_differences_detect_a_tampered_shelter(dispatcher, conn):
    incident_id = await new_incident(dispatcher)
    first = await new_shelter(dispatcher, incident_id, capacity=10)
    second = await new_shelter(dispatcher, incident_id, name="东山宾馆", capacity=50)
    people = [await register(dispatcher, incident_id, i) for i in range(4)]
    for resident in people[:3]:
        await dispatcher.post(f"/v1/residents/{resident['id']}/checkin", json={"shelter_id": first["id"]})
    await dispatcher.post(f"/v1/residents/{people[0]['id']}/move", json={"shelter_id": second["id"]})
    await dispatcher.post(f"/v1/residents/{people[1]['id']}/return")
    await dispatcher.post(f"/v1/incidents/{incident_id}/evacuations", json={
        "count": 20, "from_region": "320506", "placement": "centralized", "shelter_id": second["id"]})
    assert [(await shelter_now(dispatcher, s["id"]))["occupancy"] for s in (first, second)] == [1, 21]
    assert await shelters.occupancy_differences(conn, uuid.UUID(incident_id)) == []

    await conn.execute("update shelters set occupancy = occupancy + 1 where id = $1", uuid.UUID(first["id"]))
    assert await shelters.occupancy_differences(conn, uuid.UUID(incident_id)) == [
        {"shelter_id": uuid.UUID(first["id"]), "name": first["name"], "stored": 2, "expected": 1}]
