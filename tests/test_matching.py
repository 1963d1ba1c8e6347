"""Offers of capacity, and matching: who could fill a call, in what order, and why."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from models.codes import credit_code_check_character
from models.keys import Role
from relief import keys
from relief.auth import SYSTEM
from relief.matching import UNKNOWN, WEIGHTS
from tests.conftest import Api, Org, incident_body, make_organization, organization_body


def credit_code(n: int) -> str:
    first17 = f"91320500{n:09d}"
    return first17 + credit_code_check_character(first17)


async def register(dispatcher: Api, conn, n: int, *, region: str = "320500", skills: Sequence[str] = (),
                   goods: Sequence[str] = (), status: str = "approved") -> Org:
    """An organization with the region and capabilities a test needs, in `status`, with its own key."""
    body = organization_body(name=f"组织 {n}", credit_code=credit_code(n), region=region,
                             capabilities={"skills": list(skills), "goods": list(goods)})
    response = await dispatcher.post("/v1/organizations", json=body)
    assert response.status == 201, await response.text()
    org = await response.json()
    for action in {"pending": [], "approved": ["approve"], "suspended": ["approve", "suspend"]}[status]:
        response = await dispatcher.post(f"/v1/organizations/{org['id']}/{action}")
        assert response.status == 200, await response.text()
        org = await response.json()
    created = await keys.create(conn, actor=SYSTEM, name=f"key {n}", role=Role.organization,
                                organization_id=uuid.UUID(org["id"]))
    return Org(org["id"], Api(dispatcher.client, created.key), org)


async def new_incident(dispatcher: Api, **overrides: Any) -> str:
    response = await dispatcher.post("/v1/incidents", json=incident_body(**overrides))
    assert response.status == 201, await response.text()
    return (await response.json())["id"]


async def new_call(dispatcher: Api, incident_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await dispatcher.post(f"/v1/incidents/{incident_id}/calls", json={"status": "open", **body})
    assert response.status == 201, await response.text()
    return await response.json()


async def pledge(org: Org, call_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await org.api.post(f"/v1/calls/{call_id}/pledges", json=body,
                                  headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status == 201, await response.text()
    return await response.json()


async def act(api: Api, pledge_id: str, action: str) -> None:
    response = await api.post(f"/v1/pledges/{pledge_id}/{action}")
    assert response.status == 200, await response.text()


BOATS = {"kind": "personnel", "title": "冲锋舟救援", "skill": "boat_rescue", "headcount": 20}
JACKETS = {"kind": "goods", "title": "救生衣", "item": "life_jacket", "unit": "piece", "quantity": "500"}
LEAD = {"name": "李", "phone": "13800000000"}


def offer_body(**overrides: Any) -> dict[str, Any]:
    body = {"kind": "goods", "item": "life_jacket", "unit": "piece", "quantity": "200", "region": "320505",
            "available_from": "2023-07-29T00:00:00Z", "available_until": "2199-08-10T00:00:00Z", "note": "仓库现货"}
    body.update(overrides)
    return body


# --- offers -------------------------------------------------------------------------------------------


async def test_an_approved_organization_offers_capacity(dispatcher, organization, conn):
    incident_id = await new_incident(dispatcher)
    path = f"/v1/incidents/{incident_id}/offers"
    response = await organization.api.post(path, json=offer_body())
    assert response.status == 201, await response.text()
    offer = await response.json()
    assert (offer["kind"], offer["item"], offer["unit"], offer["quantity"], offer["region"]) == (
        "goods", "life_jacket", "piece", "200", "320505")
    assert (offer["organization_id"], offer["incident_id"], offer["status"]) == (organization.id, incident_id, "open")
    assert offer["organization_name"] == organization.body["name"] and offer["note"] == "仓库现货"
    row = await conn.fetchrow("select * from events where entity_id = $1", uuid.UUID(offer["id"]))
    assert (row["type"], row["entity_type"], str(row["incident_id"])) == ("offer.created", "offer", incident_id)
    assert str(row["organization_id"]) == organization.id and row["actor_role"] == "organization"
    assert row["after"]["quantity"] == "200"

    people = await (await organization.api.post(path, json=offer_body(
        kind="personnel", item=None, unit=None, skill="boat_rescue", quantity=12))).json()
    assert (people["kind"], people["skill"], people["quantity"], people["item"]) == ("personnel", "boat_rescue", "12",
                                                                                    None)
    cash = await (await organization.api.post(path, json={"kind": "money", "quantity": "50000.00",
                                                          "region": "320500"})).json()
    assert (cash["kind"], cash["currency"], cash["quantity"]) == ("money", "CNY", "50000.00")
    assert await conn.fetchval("select count(*) from offers") == 3
    assert await conn.fetchval("select count(*) from events where type = 'offer.created'") == 3


@pytest.mark.parametrize("body", [
    pytest.param(offer_body(item=None), id="goods-without-item"),
    pytest.param(offer_body(kind="personnel", item=None), id="personnel-without-skill"),
    pytest.param(offer_body(kind="personnel", skill="juggling"), id="skill-not-in-catalogue"),
    pytest.param(offer_body(quantity="0"), id="zero-quantity"),
    pytest.param(offer_body(region="990000"), id="bad-region"),
    pytest.param(offer_body(available_until="2023-07-28T00:00:00Z"), id="ends-before-it-starts"),
])
async def test_an_offer_must_say_what_it_is(dispatcher, organization, conn, body):
    incident_id = await new_incident(dispatcher)
    response = await organization.api.post(f"/v1/incidents/{incident_id}/offers", json=body)
    assert response.status == 422
    assert (await response.json())["errors"]
    assert await conn.fetchval("select count(*) from offers") == 0


async def test_only_approved_organizations_offer_and_only_to_open_incidents(dispatcher, admin, viewer, conn):
    incident_id = await new_incident(dispatcher)
    path = f"/v1/incidents/{incident_id}/offers"
    pending = await register(dispatcher, conn, 11, status="pending")
    suspended = await register(dispatcher, conn, 12, status="suspended")
    for api in (pending.api, suspended.api, dispatcher, admin, viewer):
        response = await api.post(path, json=offer_body())
        assert response.status == 403
    assert await conn.fetchval("select count(*) from offers") == 0

    approved = await register(dispatcher, conn, 13)
    assert (await approved.api.post(f"/v1/incidents/{uuid.uuid4()}/offers", json=offer_body())).status == 404
    assert (await dispatcher.post(f"/v1/incidents/{incident_id}/close")).status == 200
    response = await approved.api.post(path, json=offer_body())
    assert response.status == 409
    assert (await response.json())["state"] == "closed"
    assert await conn.fetchval("select count(*) from offers") == 0


async def test_dispatchers_list_every_offer_and_organizations_their_own(dispatcher, viewer, organization, conn):
    incident_id = await new_incident(dispatcher)
    path = f"/v1/incidents/{incident_id}/offers"
    other = await register(dispatcher, conn, 21)
    mine = await (await organization.api.post(path, json=offer_body())).json()
    theirs = await (await other.api.post(path, json=offer_body(item="tent", quantity="40"))).json()

    for staff in (dispatcher, viewer):
        listed = await (await staff.get(path)).json()
        assert [o["id"] for o in listed["items"]] == [theirs["id"], mine["id"]]
        listed = await (await staff.get(f"{path}?organization_id={other.id}")).json()
        assert [o["id"] for o in listed["items"]] == [theirs["id"]]
    listed = await (await organization.api.get(path)).json()
    assert [o["id"] for o in listed["items"]] == [mine["id"]]
    listed = await (await organization.api.get(f"{path}?organization_id={other.id}")).json()
    assert [o["id"] for o in listed["items"]] == [mine["id"]]
    listed = await (await other.api.get(path)).json()
    assert [o["id"] for o in listed["items"]] == [theirs["id"]]
    listed = await (await dispatcher.get(f"{path}?limit=1")).json()
    assert len(listed["items"]) == 1 and listed["next_cursor"]
    listed = await (await dispatcher.get(f"{path}?limit=1&cursor={listed['next_cursor']}")).json()
    assert [o["id"] for o in listed["items"]] == [mine["id"]] and listed["next_cursor"] is None


# --- matching -----------------------------------------------------------------------------------------


def score(**factors: float) -> float:
    return round(sum(WEIGHTS[name] * value for name, value in factors.items()), 4)


async def test_ranking_follows_skill_region_and_delivery_record(dispatcher, viewer, conn):
    incident_id = await new_incident(dispatcher, regions=["320500"])
    a = await register(dispatcher, conn, 1, region="320505", skills=["boat_rescue", "medical"])  # 姑苏区
    b = await register(dispatcher, conn, 2, region="320500", skills=["boat_rescue"])
    c = await register(dispatcher, conn, 3, region="110105", skills=["boat_rescue"])  # 北京朝阳
    d = await register(dispatcher, conn, 4, region="320505", skills=["medical"], goods=["life_jacket"])
    e = await register(dispatcher, conn, 5, region="320505", skills=["boat_rescue"], status="pending")
    # Records, made on another call: A delivered what it pledged, B withdrew, C has pledged nothing.
    logistics = await new_call(dispatcher, incident_id, {**BOATS, "skill": "logistics", "title": "物资搬运"})
    delivered = await pledge(a, logistics["id"], {"headcount": 5, "lead": LEAD})
    await act(dispatcher, delivered["id"], "accept")
    await act(dispatcher, delivered["id"], "deliver")
    withdrawn = await pledge(b, logistics["id"], {"headcount": 5, "lead": LEAD})
    await act(b.api, withdrawn["id"], "withdraw")
    call = await new_call(dispatcher, incident_id, BOATS)

    response = await dispatcher.get(f"/v1/calls/{call['id']}/matches")
    assert response.status == 200, await response.text()
    found = await response.json()
    assert found["call_id"] == call["id"] and found["weights"] == WEIGHTS
    items = found["items"]
    assert [(m["organization_id"], m["rank"]) for m in items] == [(a.id, 1), (b.id, 2), (c.id, 3)]
    assert d.id not in {m["organization_id"] for m in items} and e.id not in {m["organization_id"] for m in items}

    expected = {
        a.id: {"fit": 1.0, "region": 1.0, "capacity": UNKNOWN, "record": 1.0},
        b.id: {"fit": 1.0, "region": 1.0, "capacity": UNKNOWN, "record": 0.0},
        c.id: {"fit": 1.0, "region": 0.0, "capacity": UNKNOWN, "record": UNKNOWN},
    }
    scores = [score(**expected[m["organization_id"]]) for m in items]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == 3  # the facts alone imply the order
    for match in items:
        assert match["factors"] == expected[match["organization_id"]]
        assert match["score"] == pytest.approx(score(**match["factors"]))
        assert (match["source"], match["offer_id"], match["capacity"]) == ("organization", None, None)
    assert [m["organization_name"] for m in items] == ["组织 1", "组织 2", "组织 3"]

    reasons = {m["organization_id"]: " | ".join(m["reasons"]) for m in items}
    for org_id in (a.id, b.id, c.id):
        assert "boat_rescue" in reasons[org_id]
    assert "affected city (320505)" in reasons[a.id] and "delivered 1 of 1" in reasons[a.id]
    assert "affected city (320500)" in reasons[b.id] and "delivered 0 of 1" in reasons[b.id]
    assert "outside the affected province (110105)" in reasons[c.id] and "no finished pledges" in reasons[c.id]

    assert (await viewer.get(f"/v1/calls/{call['id']}/matches")).status == 200
    assert (await a.api.get(f"/v1/calls/{call['id']}/matches")).status == 403
    assert (await dispatcher.get(f"/v1/calls/{uuid.uuid4()}/matches")).status == 404
    limited = await (await dispatcher.get(f"/v1/calls/{call['id']}/matches?limit=2")).json()
    assert [m["organization_id"] for m in limited["items"]] == [a.id, b.id]


async def test_same_province_ranks_between_same_city_and_elsewhere(dispatcher, conn):
    incident_id = await new_incident(dispatcher, regions=["320500"])
    city = await register(dispatcher, conn, 31, region="320506", goods=["life_jacket"])
    province = await register(dispatcher, conn, 32, region="320200", goods=["life_jacket"])  # 无锡
    far = await register(dispatcher, conn, 33, region="440300", goods=["life_jacket"])  # 深圳
    await register(dispatcher, conn, 34, region="320500", goods=["tent"])
    call = await new_call(dispatcher, incident_id, JACKETS)
    items = (await (await dispatcher.get(f"/v1/calls/{call['id']}/matches")).json())["items"]
    assert [m["organization_id"] for m in items] == [city.id, province.id, far.id]
    assert [m["factors"]["region"] for m in items] == [1.0, 0.5, 0.0]
    assert "affected province (320200)" in " ".join(items[1]["reasons"])
    assert "supplies life_jacket" in " ".join(items[0]["reasons"])


async def test_an_offer_appears_among_a_fitting_calls_matches(dispatcher, organization, conn):
    incident_id = await new_incident(dispatcher, regions=["320500"])
    other = await register(dispatcher, conn, 41, region="320500")  # no stated capabilities
    path = f"/v1/incidents/{incident_id}/offers"
    fitting = await (await other.api.post(path, json=offer_body(quantity="200"))).json()
    tents = await (await other.api.post(path, json=offer_body(item="tent", quantity="900"))).json()
    boats = await (await other.api.post(path, json=offer_body(
        kind="personnel", item=None, unit=None, skill="boat_rescue", quantity="8"))).json()
    medics = await (await other.api.post(path, json=offer_body(
        kind="personnel", item=None, unit=None, skill="medical", quantity="50"))).json()

    jackets = await new_call(dispatcher, incident_id, JACKETS)
    items = (await (await dispatcher.get(f"/v1/calls/{jackets['id']}/matches")).json())["items"]
    offers = [m for m in items if m["source"] == "offer"]
    assert [m["offer_id"] for m in offers] == [fitting["id"]]
    match = offers[0]
    assert (match["organization_id"], match["capacity"]) == (other.id, "200")
    assert match["factors"] == {"fit": 1.0, "region": 1.0, "capacity": 0.4, "record": UNKNOWN}
    assert match["score"] == pytest.approx(score(fit=1.0, region=1.0, capacity=0.4, record=UNKNOWN))
    assert "200 of the 500" in " ".join(match["reasons"])
    assert tents["id"] not in {m["offer_id"] for m in items}
    # The organization itself (capabilities: life_jacket) is a match too; the offer-only one is not.
    assert [m["organization_id"] for m in items if m["source"] == "organization"] == [organization.id]

    boat_call = await new_call(dispatcher, incident_id, BOATS)
    items = (await (await dispatcher.get(f"/v1/calls/{boat_call['id']}/matches")).json())["items"]
    offered = {m["offer_id"]: m for m in items if m["source"] == "offer"}
    assert set(offered) == {boats["id"]}
    assert offered[boats["id"]]["capacity"] == "8" and offered[boats["id"]]["factors"]["capacity"] == 0.4
    assert medics["id"] not in offered

    # An offer to another incident, or of a suspended organization, is not a match.
    elsewhere = await new_incident(dispatcher, code="2023-DOKSURI-BJ")
    await other.api.post(f"/v1/incidents/{elsewhere}/offers", json=offer_body())
    assert (await dispatcher.post(f"/v1/organizations/{other.id}/suspend")).status == 200
    items = (await (await dispatcher.get(f"/v1/calls/{jackets['id']}/matches")).json())["items"]
    assert [m["source"] for m in items] == ["organization"]


async def test_fixture_organization_is_a_match_for_money_by_kind(dispatcher, conn):
    incident_id = await new_incident(dispatcher)
    team = await make_organization(dispatcher, conn, 0)  # volunteer_team: may give money, not its trade
    foundation = await register(dispatcher, conn, 51)
    response = await dispatcher.patch(f"/v1/organizations/{foundation.id}", json={"kind": "foundation"},
                                      headers={"If-Match": f'"{foundation.body["version"]}"'})
    assert response.status == 200, await response.text()
    call = await new_call(dispatcher, incident_id, {"kind": "money", "title": "资金", "amount": "10000.00"})
    items = (await (await dispatcher.get(f"/v1/calls/{call['id']}/matches")).json())["items"]
    assert [m["organization_id"] for m in items] == [foundation.id, team.id]
    assert [m["factors"]["fit"] for m in items] == [1.0, 0.4]


async def test_an_organization_that_fits_and_offered_is_listed_once(dispatcher, organization, conn):
    incident_id = await new_incident(dispatcher, regions=["320500"])
    path = f"/v1/incidents/{incident_id}/offers"
    # The fixture organization states it supplies life jackets, and offers them twice besides.
    small = await (await organization.api.post(path, json=offer_body(quantity="100"))).json()
    large = await (await organization.api.post(path, json=offer_body(quantity="150"))).json()
    other = await register(dispatcher, conn, 61, region="320500", goods=["life_jacket"])
    call = await new_call(dispatcher, incident_id, JACKETS)

    items = (await (await dispatcher.get(f"/v1/calls/{call['id']}/matches")).json())["items"]
    assert sorted(m["organization_id"] for m in items) == sorted([organization.id, other.id])
    mine = next(m for m in items if m["organization_id"] == organization.id)
    assert (mine["source"], mine["offer_id"], mine["capacity"]) == ("offer", large["id"], "250")
    assert mine["factors"]["capacity"] == 0.5 and "250 of the 500" in " ".join(mine["reasons"])
    assert "2 open offers" in " ".join(mine["reasons"]) and small["id"] != mine["offer_id"]
    assert [m["rank"] for m in items] == [1, 2]
