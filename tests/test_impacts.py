"""Impact figures: observations per region, figure and source; current values; append-only."""

from __future__ import annotations

import uuid

import asyncpg
import pytest

from tests.conftest import Api, incident_body, make_organization


async def open_incident(dispatcher: Api) -> str:
    response = await dispatcher.post("/v1/incidents", json=incident_body())
    assert response.status == 201, await response.text()
    return (await response.json())["id"]


async def record(api: Api, incident_id: str, status: int = 201, **body):
    response = await api.post(f"/v1/incidents/{incident_id}/impacts", json=body)
    assert response.status == status, await response.text()
    return await response.json()


def affected(value: str, as_of: str, source: str = "government", organization_id: str | None = None) -> dict:
    body = {"region": "320506", "figure": "affected", "value": value, "source": source, "as_of": as_of}
    if organization_id:
        body["organization_id"] = organization_id
    return body


async def current(api: Api, incident_id: str, query: str = "") -> list[dict]:
    response = await api.get(f"/v1/incidents/{incident_id}/impacts/current{query}")
    assert response.status == 200, await response.text()
    return (await response.json())["items"]


async def test_two_organizations_and_the_government_each_keep_their_current_value(dispatcher, viewer, conn):
    incident = await open_incident(dispatcher)
    a = await make_organization(dispatcher, conn, 0)
    b = await make_organization(dispatcher, conn, 1)
    await record(dispatcher, incident, **affected("12000", "2023-07-30T08:00:00+08:00"))
    await record(dispatcher, incident, **affected("9500", "2023-07-30T09:00:00+08:00", "organization", a.id))
    made = await record(dispatcher, incident, **affected("14000", "2023-07-30T10:00:00+08:00", "organization", b.id))
    assert made["unit"] == "people" and made["value"] == "14000" and made["organization_id"] == b.id

    items = await current(viewer, incident, "?figure=affected")
    assert {(i["source"], i["organization_id"], i["value"]) for i in items} == {
        ("government", None, "12000"), ("organization", a.id, "9500"), ("organization", b.id, "14000")}
    history = await (await viewer.get(f"/v1/incidents/{incident}/impacts")).json()
    assert [i["value"] for i in history["items"]] == ["14000", "9500", "12000"]  # newest first

    one = await dispatcher.get(f"/v1/impacts/{made['id']}")
    assert one.status == 200 and (await one.json())["organization_name"] == b.body["name"]
    event = await conn.fetchrow("select * from events where type = 'impact.recorded' and entity_id = $1",
                                uuid.UUID(made["id"]))
    assert str(event["organization_id"]) == b.id and str(event["incident_id"]) == incident


async def test_the_current_value_is_the_latest_by_as_of_not_the_latest_recorded(dispatcher, viewer):
    incident = await open_incident(dispatcher)
    await record(dispatcher, incident, **affected("12000", "2023-07-30T10:00:00+08:00"))
    await record(dispatcher, incident, **affected("8000", "2023-07-30T06:00:00+08:00"))  # older, recorded later
    [value] = await current(viewer, incident, "?source=government")
    assert value["value"] == "12000" and value["as_of"].startswith("2023-07-30T02:00:00")
    await record(dispatcher, incident, **affected("15000", "2023-07-30T12:00:00+08:00"))
    [value] = await current(viewer, incident, "?source=government")
    assert value["value"] == "15000"
    history = await (await viewer.get(f"/v1/incidents/{incident}/impacts?limit=2")).json()
    assert len(history["items"]) == 2 and history["next_cursor"]
    rest = await (await viewer.get(f"/v1/incidents/{incident}/impacts?limit=2&cursor={history['next_cursor']}")).json()
    assert [i["value"] for i in rest["items"]] == ["12000"] and rest["next_cursor"] is None


async def test_each_figure_fixes_its_unit_and_its_decimals(dispatcher, organization):
    incident = await open_incident(dispatcher)
    base = {"region": "320506", "source": "government"}
    made = await record(dispatcher, incident, **base, figure="crops_affected_ha", value="1520.25")
    assert made["unit"] == "ha"
    made = await record(dispatcher, incident, **base, figure="direct_loss", value="350000000.50", unit="CNY")
    assert made["unit"] == "CNY"
    made = await record(dispatcher, incident, **base, figure="houses_collapsed", value="35")
    assert made["unit"] == "houses"

    async def refused(body: dict, pointer: str) -> None:
        problem = await record(dispatcher, incident, 422, **body)
        assert pointer in [e.get("pointer") for e in problem["errors"]], problem

    await refused({**base, "figure": "affected", "value": "10", "unit": "houses"}, "/unit")
    await refused({**base, "figure": "dead", "value": "1.5"}, "/value")
    await refused({**base, "figure": "direct_loss", "value": "10.123"}, "/value")
    await refused({**base, "figure": "affected", "value": "-1"}, "/value")
    await refused({**base, "figure": "rain_mm", "value": "1"}, "/figure")
    await refused({**base, "figure": "affected", "value": "1", "region": "3205"}, "/region")
    await refused({"region": "320506", "figure": "affected", "value": "1", "source": "relief"}, "/source")
    await refused({"region": "320506", "figure": "affected", "value": "1", "source": "organization"},
                  "/organization_id")
    await refused({**base, "figure": "affected", "value": "1", "organization_id": organization.id},
                  "/organization_id")
    problem = await record(dispatcher, incident, 422, region="320506", figure="affected", value="1",
                           source="organization", organization_id=str(uuid.uuid4()))
    assert problem["errors"][0]["pointer"] == "/organization_id"


async def test_the_database_refuses_to_change_or_delete_an_observation(dispatcher, conn):
    incident = await open_incident(dispatcher)
    made = await record(dispatcher, incident, **affected("12000", "2023-07-30T08:00:00+08:00"))
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await conn.execute("update impacts set value = 1 where id = $1", uuid.UUID(made["id"]))
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await conn.execute("delete from impacts where id = $1", uuid.UUID(made["id"]))
    assert await conn.fetchval("select value from impacts where id = $1", uuid.UUID(made["id"])) == 12000


async def test_relief_counts_emergency_relocated_from_its_own_evacuations(dispatcher, viewer):
    incident = await open_incident(dispatcher)
    for region, count in (("320506", 40), ("320506", 25), ("320505", 7)):
        response = await dispatcher.post(f"/v1/incidents/{incident}/evacuations", json={
            "count": count, "from_region": region, "placement": "dispersed"})
        assert response.status == 201, await response.text()
    await record(dispatcher, incident, region="320506", figure="emergency_relocated", value="80",
                 source="government")
    items = await current(viewer, incident, "?figure=emergency_relocated")
    assert [(i["region"], i["source"], i["value"]) for i in items] == [
        ("320505", "relief", "7"), ("320506", "government", "80"), ("320506", "relief", "65")]
    assert all(i["unit"] == "people" and i["as_of"] for i in items)
    assert [i["value"] for i in await current(viewer, incident, "?source=relief&region=320505")] == ["7"]
    assert await current(viewer, incident, "?figure=affected") == []


async def test_dispatchers_record_viewers_read_organizations_neither(dispatcher, viewer, organization):
    incident = await open_incident(dispatcher)
    body = affected("100", "2023-07-30T08:00:00+08:00")
    await record(viewer, incident, 403, **body)
    await record(organization.api, incident, 403, **body)
    key = str(uuid.uuid4())
    first = await dispatcher.post(f"/v1/incidents/{incident}/impacts", json=body, headers={"Idempotency-Key": key})
    again = await dispatcher.post(f"/v1/incidents/{incident}/impacts", json=body, headers={"Idempotency-Key": key})
    assert first.status == again.status == 201
    assert (await first.json())["id"] == (await again.json())["id"]
    for path in ("impacts", "impacts/current"):
        assert (await viewer.get(f"/v1/incidents/{incident}/{path}")).status == 200
        assert (await organization.api.get(f"/v1/incidents/{incident}/{path}")).status == 403
    missing = await dispatcher.post(f"/v1/incidents/{uuid.uuid4()}/impacts", json=body)
    assert missing.status == 404
