"""Every mutation writes exactly one event row, readable through the events endpoints."""

from __future__ import annotations

from collections import Counter

from tests.conftest import incident_body, make_organization


async def test_each_mutation_is_one_event_with_actor_and_states(dispatcher, admin, conn):
    before = await conn.fetchval("select count(*) from events")
    org = await make_organization(dispatcher, conn, 1)  # created, approved, key.created
    incident = await (await dispatcher.post("/v1/incidents", json=incident_body())).json()
    path = f"/v1/incidents/{incident['id']}"
    await dispatcher.patch(path, json={"title": "新标题"}, headers={"If-Match": '"1"'})
    await dispatcher.post(f"{path}/close")
    await dispatcher.post(f"{path}/reopen")
    await dispatcher.post(f"/v1/organizations/{org.id}/suspend")
    created = await (await admin.post("/v1/keys", json={"name": "ops", "role": "viewer"})).json()
    await admin.delete(f"/v1/keys/{created['id']}")

    rows = await conn.fetch("select * from events order by id")
    rows = rows[before:]
    assert Counter(r["type"] for r in rows) == Counter(
        {
            "organization.created": 1,
            "organization.approved": 1,
            "key.created": 2,
            "incident.opened": 1,
            "incident.updated": 1,
            "incident.closed": 1,
            "incident.reopened": 1,
            "organization.suspended": 1,
            "key.revoked": 1,
        }
    )
    updated = next(r for r in rows if r["type"] == "incident.updated")
    assert updated["before"]["title"] == "台风杜苏芮 苏州响应"
    assert updated["after"]["title"] == "新标题"
    assert updated["actor_role"] == "dispatcher"
    assert updated["actor_key_id"] is not None
    assert str(updated["incident_id"]) == incident["id"]
    revoked = next(r for r in rows if r["type"] == "key.revoked")
    assert revoked["before"]["revoked_at"] is None and revoked["after"]["revoked_at"] is not None
    assert "key" not in revoked["after"]  # the secret is never in the log


async def test_failed_mutations_write_no_event(dispatcher, organization, conn):
    before = await conn.fetchval("select count(*) from events")
    await dispatcher.post("/v1/incidents", json=incident_body(regions=["990000"]))
    await organization.api.post("/v1/incidents", json=incident_body())
    await dispatcher.post(f"/v1/organizations/{organization.id}/approve")  # already approved: 409
    assert await conn.fetchval("select count(*) from events") == before


async def test_incident_trail_and_global_log(dispatcher, organization, viewer):
    incident = await (await dispatcher.post("/v1/incidents", json=incident_body())).json()
    other = await (await dispatcher.post("/v1/incidents", json=incident_body(code="OTHER"))).json()
    path = f"/v1/incidents/{incident['id']}"
    await dispatcher.post(f"{path}/close")

    response = await dispatcher.get(f"{path}/events")
    assert response.status == 200
    trail = (await response.json())["items"]
    assert [e["type"] for e in trail] == ["incident.closed", "incident.opened"]  # newest first
    closed = trail[0]
    assert closed["entity"] == {"type": "incident", "id": incident["id"]}
    assert closed["actor"]["role"] == "dispatcher" and closed["actor"]["key_id"]
    assert closed["before"]["status"] == "open" and closed["after"]["status"] == "closed"
    assert set(closed) >= {"id", "type", "entity", "incident_id", "actor", "before", "after", "created_at"}

    everything = await (await dispatcher.get("/v1/events?limit=200")).json()
    assert {e["incident_id"] for e in everything["items"]} >= {incident["id"], other["id"]}
    families = await (await dispatcher.get("/v1/events?type=incident.*")).json()
    assert {e["type"] for e in families["items"]} == {"incident.opened", "incident.closed"}
    by_entity = await (await dispatcher.get(f"/v1/events?entity_type=organization&entity_id={organization.id}")).json()
    assert [e["type"] for e in by_entity["items"]] == ["organization.approved", "organization.created"]

    page = await (await dispatcher.get("/v1/events?limit=2")).json()
    rest = await (await dispatcher.get(f"/v1/events?limit=200&cursor={page['next_cursor']}")).json()
    ids = [e["id"] for e in page["items"] + rest["items"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == len(set(ids)) == len(everything["items"])

    assert (await organization.api.get("/v1/events")).status == 403
    assert (await organization.api.get(f"{path}/events")).status == 403
    assert (await viewer.get("/v1/events")).status == 403


async def test_event_log_is_append_only(dispatcher, conn):
    await dispatcher.post("/v1/incidents", json=incident_body())
    import asyncpg
    import pytest

    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await conn.execute("update events set type = 'x'")
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await conn.execute("delete from events")
