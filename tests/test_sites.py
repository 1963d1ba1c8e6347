"""Sites: where goods are held; goods received land at one (the intake site when none is named)."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from relief import events, masking
from tests.conftest import Api, incident_body

PHONE = "13912345678"


async def new_incident(dispatcher: Api, **overrides: Any) -> str:
    body = incident_body(code=f"T-{uuid.uuid4().hex[:10]}", **overrides)
    response = await dispatcher.post("/v1/incidents", json=body)
    assert response.status == 201, await response.text()
    return (await response.json())["id"]


def site_body(**overrides: Any) -> dict[str, Any]:
    return {"kind": "warehouse", "name": "吴中区救灾物资仓库", "address": "苏州市吴中区东吴南路 1 号",
            "location": {"lat": 31.26, "lon": 120.63}, "manager": {"name": "陈主任", "phone": PHONE}, **overrides}


async def new_site(dispatcher: Api, incident_id: str, **overrides: Any) -> dict[str, Any]:
    response = await dispatcher.post(f"/v1/incidents/{incident_id}/sites", json=site_body(**overrides))
    assert response.status == 201, await response.text()
    return await response.json()


async def new_shelter(dispatcher: Api, incident_id: str, **overrides: Any) -> dict[str, Any]:
    body = {"name": "东山中学体育馆", "address": "苏州市吴中区东山镇", "capacity": 300, **overrides}
    response = await dispatcher.post(f"/v1/incidents/{incident_id}/shelters", json=body)
    assert response.status == 201, await response.text()
    return await response.json()


def donate(api: Api, incident_id: str, body: dict[str, Any]):
    return api.post(f"/v1/incidents/{incident_id}/donations", json=body,
                    headers={"Idempotency-Key": str(uuid.uuid4())})


WATER = {"kind": "goods", "item": "drinking_water", "unit": "box", "quantity": "200"}


async def level(dispatcher: Api, incident_id: str, **where: str) -> list[dict[str, Any]]:
    query = "&".join(f"{k}={v}" for k, v in where.items())
    response = await dispatcher.get(f"/v1/incidents/{incident_id}/stock?{query}")
    assert response.status == 200, await response.text()
    return (await response.json())["levels"]


async def test_create_read_list_and_patch(dispatcher, conn):
    incident = await new_incident(dispatcher)
    response = await dispatcher.post(f"/v1/incidents/{incident}/sites", json=site_body())
    assert response.status == 201, await response.text()
    site = await response.json()
    assert response.headers["Location"] == f"/v1/sites/{site['id']}"
    assert response.headers["ETag"] == '"1"'
    assert (site["kind"], site["manager"], site["location"], site["intake"]) == (
        "warehouse", {"name": "陈主任", "phone": PHONE}, {"lat": 31.26, "lon": 120.63}, False)
    point = await new_site(dispatcher, incident, kind="distribution_point", name="东山发放点", location=None,
                           manager=None, address="")
    listing = await (await dispatcher.get(f"/v1/incidents/{incident}/sites")).json()
    assert [s["name"] for s in listing["items"]] == ["东山发放点", "吴中区救灾物资仓库"]
    only = await (await dispatcher.get(f"/v1/incidents/{incident}/sites?kind=distribution_point")).json()
    assert [s["id"] for s in only["items"]] == [point["id"]]

    path = f"/v1/sites/{site['id']}"
    assert (await dispatcher.patch(path, json={"name": "新仓库"})).status == 428
    assert (await dispatcher.patch(path, json={"name": "新仓库"}, headers={"If-Match": '"7"'})).status == 412
    response = await dispatcher.patch(path, json={"name": "新仓库", "manager": None}, headers={"If-Match": '"1"'})
    assert response.status == 200, await response.text()
    changed = await response.json()
    assert (changed["name"], changed["manager"], changed["version"]) == ("新仓库", None, 2)
    assert response.headers["ETag"] == '"2"'
    response = await dispatcher.patch(path, json={"name": "东山发放点"}, headers={"If-Match": '"2"'})
    assert response.status == 409  # the other site's name
    response = await dispatcher.patch(path, json={"kind": None}, headers={"If-Match": '"2"'})
    assert response.status == 422 and (await response.json())["errors"][0]["pointer"] == "/kind"
    types = [r["type"] for r in await conn.fetch(
        "select type from events where entity_id = $1 order by id", uuid.UUID(site["id"]))]
    assert types == ["site.opened", "site.updated"]


async def test_names_are_unique_per_incident_and_bodies_are_checked(dispatcher):
    first, second = await new_incident(dispatcher), await new_incident(dispatcher)
    await new_site(dispatcher, first)
    response = await dispatcher.post(f"/v1/incidents/{first}/sites", json=site_body())
    assert response.status == 409 and (await response.json())["name"] == "吴中区救灾物资仓库"
    await new_site(dispatcher, second)  # another incident may use the name
    for body, pointer in (({"kind": "depot"}, "/kind"), ({"location": {"lat": 91, "lon": 0}}, "/location/lat"),
                          ({"manager": {"name": "陈", "phone": "call me"}}, "/manager/phone"),
                          ({"name": " "}, "/name")):
        response = await dispatcher.post(f"/v1/incidents/{first}/sites", json=site_body(**body))
        assert response.status == 422, body
        assert (await response.json())["errors"][0]["pointer"] == pointer


async def test_sites_open_only_under_an_open_incident(dispatcher):
    incident = await new_incident(dispatcher)
    assert (await dispatcher.post(f"/v1/incidents/{incident}/close")).status == 200
    response = await dispatcher.post(f"/v1/incidents/{incident}/sites", json=site_body())
    assert response.status == 409 and (await response.json())["state"] == "closed"
    assert (await dispatcher.post(f"/v1/incidents/{uuid.uuid4()}/sites", json=site_body())).status == 404


async def test_viewers_read_with_the_managers_phone_masked_organizations_are_refused(
    dispatcher, viewer, organization, conn
):
    incident = await new_incident(dispatcher)
    site = await new_site(dispatcher, incident)
    seen = await (await viewer.get(f"/v1/sites/{site['id']}")).json()
    assert seen["manager"] == {"name": "陈主任", "phone": "139****5678"}
    listed = await (await viewer.get(f"/v1/incidents/{incident}/sites")).json()
    assert listed["items"][0]["manager"]["phone"] == "139****5678"
    assert (await (await dispatcher.get(f"/v1/sites/{site['id']}")).json())["manager"]["phone"] == PHONE
    assert (await viewer.post(f"/v1/incidents/{incident}/sites", json=site_body(name="x"))).status == 403
    assert (await viewer.patch(f"/v1/sites/{site['id']}", json={"name": "x"}, headers={"If-Match": "*"})).status == 403
    for path in (f"/v1/incidents/{incident}/sites", f"/v1/sites/{site['id']}", f"/v1/incidents/{incident}/stock",
                 f"/v1/incidents/{incident}/stock-movements"):
        assert (await organization.api.get(path)).status == 403, path
    assert (await organization.api.post(f"/v1/incidents/{incident}/sites", json=site_body(name="y"))).status == 403
    # The event trail follows the same rule: whole for dispatchers, masked for anyone outside the bureau.
    trail = await (await dispatcher.get(f"/v1/incidents/{incident}/events?type=site.opened")).json()
    assert trail["items"][0]["after"]["manager"]["phone"] == PHONE
    outside = await events.list_events(conn, audience=masking.OUTSIDE, limit=5, type="site.opened")
    assert outside.items[0].after["manager"]["phone"] == "139****5678"


async def test_goods_named_at_no_location_land_at_the_intake_site(dispatcher, conn):
    incident = await new_incident(dispatcher)
    assert (await (await dispatcher.get(f"/v1/incidents/{incident}/sites")).json())["items"] == []
    first = await (await donate(dispatcher, incident, WATER)).json()
    again = await (await donate(dispatcher, incident, {**WATER, "quantity": "50"})).json()
    [intake] = (await (await dispatcher.get(f"/v1/incidents/{incident}/sites")).json())["items"]
    assert intake["intake"] is True and intake["kind"] == "collection_point"
    assert first["site_id"] == again["site_id"] == intake["id"] and first["shelter_id"] is None
    [row] = await level(dispatcher, incident)
    assert row["location"] == {"site_id": intake["id"], "shelter_id": None, "name": intake["name"]}
    assert (row["received"], row["on_hand"]) == ("250", "250")
    money = await (await donate(dispatcher, incident, {"kind": "money", "amount": "10.00"})).json()
    assert money["site_id"] is None and len(await level(dispatcher, incident)) == 1


async def test_the_intake_site_finds_a_name_when_a_dispatcher_took_its_usual_one(dispatcher):
    incident = await new_incident(dispatcher)
    mine = await new_site(dispatcher, incident, name="接收点 Intake")
    donation = await (await donate(dispatcher, incident, WATER)).json()
    assert donation["site_id"] != mine["id"]
    intake = await (await dispatcher.get(f"/v1/sites/{donation['site_id']}")).json()
    assert intake["intake"] is True and intake["name"] != "接收点 Intake"


async def test_goods_received_at_a_named_site_or_shelter(dispatcher):
    incident, other = await new_incident(dispatcher), await new_incident(dispatcher)
    site, shelter = await new_site(dispatcher, incident), await new_shelter(dispatcher, incident)
    foreign = await new_site(dispatcher, other)
    at_site = await donate(dispatcher, incident, {**WATER, "site_id": site["id"]})
    assert at_site.status == 201, await at_site.text()
    assert (await at_site.json())["site_id"] == site["id"]
    at_shelter = await (await donate(dispatcher, incident,
                                     {**WATER, "quantity": "7", "shelter_id": shelter["id"]})).json()
    assert (at_shelter["site_id"], at_shelter["shelter_id"]) == (None, shelter["id"])
    assert [r["on_hand"] for r in await level(dispatcher, incident, site_id=site["id"])] == ["200"]
    assert [r["on_hand"] for r in await level(dispatcher, incident, shelter_id=shelter["id"])] == ["7"]
    for body, pointer in (({"site_id": foreign["id"]}, "/site_id"), ({"shelter_id": str(uuid.uuid4())}, "/shelter_id"),
                          ({"site_id": site["id"], "shelter_id": shelter["id"]}, "/shelter_id")):
        response = await donate(dispatcher, incident, {**WATER, **body})
        assert response.status == 422, body
        assert (await response.json())["errors"][0]["pointer"] == pointer
    response = await donate(dispatcher, incident, {"kind": "money", "amount": "1.00", "site_id": site["id"]})
    assert response.status == 422  # money is not held at a site


async def test_a_goods_pledge_delivered_at_a_site_goes_into_its_stock(dispatcher, organization):
    incident = await new_incident(dispatcher)
    site = await new_site(dispatcher, incident)

    async def accepted(call: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        response = await dispatcher.post(f"/v1/incidents/{incident}/calls", json={"title": "需求", "status": "open",
                                                                                 **call})
        call_id = (await response.json())["id"]
        response = await organization.api.post(f"/v1/calls/{call_id}/pledges", json=body,
                                                headers={"Idempotency-Key": str(uuid.uuid4())})
        pledge = await response.json()
        assert (await dispatcher.post(f"/v1/pledges/{pledge['id']}/accept")).status == 200
        return pledge

    goods = await accepted({"kind": "goods", "item": "life_jacket", "unit": "piece", "quantity": "100"},
                           {"quantity": "80"})
    response = await dispatcher.post(f"/v1/pledges/{goods['id']}/deliver",
                                     json={"quantity": "60", "site_id": str(uuid.uuid4())})
    assert response.status == 422 and (await response.json())["errors"][0]["pointer"] == "/site_id"
    response = await dispatcher.post(f"/v1/pledges/{goods['id']}/deliver",
                                     json={"quantity": "60", "site_id": site["id"]})
    assert response.status == 200, await response.text()
    [row] = await level(dispatcher, incident, site_id=site["id"])
    assert (row["item"], row["received"], row["on_hand"]) == ("life_jacket", "60", "60")
    money = await accepted({"kind": "money", "amount": "1000.00"}, {"amount": "100.00"})
    response = await dispatcher.post(f"/v1/pledges/{money['id']}/deliver", json={"site_id": site["id"]})
    assert response.status == 422 and (await response.json())["errors"][0]["pointer"] == "/site_id"
    donations = await (await dispatcher.get(f"/v1/incidents/{incident}/donations?kind=goods")).json()
    assert [(d["site_id"], Decimal(d["quantity"])) for d in donations["items"]] == [(site["id"], 60)]
