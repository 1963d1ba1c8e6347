"""Invariant 7: a subscription gets what its owner may read through the API and matches its filters, and
nothing from before it existed."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.conftest import Api, incident_body, make_organization
from tests.pledge_world import act, goods_call, new_call, ok, personnel_call, pledge
from tests.test_shelters import new_shelter, register
from tests.webhook_world import Receiver, subscribe, verify

ALERT = {
    "headline": "台风杜苏芮：东山镇沿湖村庄立即转移", "description": "太湖水位持续上涨。",
    "instruction": "听从现场指挥。",
    "category": "Met", "urgency": "Immediate", "severity": "Severe", "certainty": "Observed",
    "response_type": "Evacuate",
    "area": {"description": "吴中区东山镇沿湖村庄", "polygon": "31.30,120.50 31.40,120.60 31.20,120.70 31.30,120.50"},
}


async def open_incident(dispatcher: Api, **overrides: Any) -> str:
    body = incident_body(code=f"T-{uuid.uuid4().hex[:10]}", **overrides)
    return (await ok(await dispatcher.post("/v1/incidents", json=body), 201))["id"]


def got(receiver: Receiver, path: str, secret: str) -> list[dict[str, Any]]:
    """The events a path received, each verified with its subscription's secret, in sending order."""
    return [verify(secret, r) for r in receiver.at(path)]


def types(events: list[dict[str, Any]]) -> list[str]:
    return sorted(e["type"] for e in events)


async def test_an_organization_gets_its_own_pledges_and_none_of_anothers(world, receiver, worker):
    """ACCEPTANCE: pledge.* brings an organization its own pledge.created and pledge.accepted only."""
    mine = await subscribe(world.owner.api, receiver.url("/owner"), event_types=["pledge.*"])
    theirs = await subscribe(world.other.api, receiver.url("/other"), event_types=["pledge.*"])
    own = await ok(await pledge(world.owner.api, world.call_id), 201)
    other = await ok(await pledge(world.other.api, world.call_id), 201)
    await ok(await act(world.dispatcher, own["id"], "accept"))
    await ok(await act(world.dispatcher, other["id"], "reject"))
    await worker.tick()

    received = got(receiver, "/owner", mine["secret"])
    assert [(e["type"], e["data"]["id"]) for e in received] == [
        ("pledge.created", own["id"]), ("pledge.accepted", own["id"])]
    assert {e["data"]["organization_id"] for e in received} == {world.owner.id}
    assert received[1]["data"]["status"] == "accepted" and received[1]["incident_id"] == world.incident_id
    received = got(receiver, "/other", theirs["secret"])
    assert [(e["type"], e["data"]["id"]) for e in received] == [
        ("pledge.created", other["id"]), ("pledge.rejected", other["id"])]
    assert own["id"] not in json.dumps([r.body for r in receiver.at("/other")])


async def test_everything_an_organization_gets_is_public_or_its_own(world, receiver, worker, conn):
    hook = await subscribe(world.owner.api, receiver.url("/all"), event_types=["*"])
    dispatcher, owner, other = world.dispatcher, world.owner, world.other
    incident_id = await open_incident(dispatcher)  # incident.opened
    draft = await new_call(dispatcher, incident_id, goods_call(status="draft", title="草稿"))  # call.created
    response = await dispatcher.patch(f"/v1/calls/{draft['id']}", json={"title": "仍是草稿"},
                                      headers={"If-Match": '"1"'})
    await ok(response)  # call.updated, still a draft
    published = await new_call(dispatcher, incident_id, goods_call(status="draft", title="待发布"))
    await ok(await dispatcher.post(f"/v1/calls/{published['id']}/publish"))  # call.published
    offer = {"kind": "goods", "item": "life_jacket", "unit": "piece", "quantity": "200", "region": "320505"}
    own_offer = await ok(await owner.api.post(f"/v1/incidents/{incident_id}/offers", json=offer), 201)
    await ok(await other.api.post(f"/v1/incidents/{incident_id}/offers", json=offer), 201)
    own_pledge = await ok(await pledge(owner.api, world.call_id), 201)
    await ok(await pledge(other.api, world.call_id), 201)
    for donor in (owner.id, other.id):
        body = {"kind": "money", "amount": "5000.00", "channel": "bank_transfer", "donor": {"organization_id": donor}}
        response = await dispatcher.post(f"/v1/incidents/{incident_id}/donations", json=body,
                                         headers={"Idempotency-Key": str(uuid.uuid4())})
        await ok(response, 201)
    shelter = await new_shelter(dispatcher, incident_id)  # shelter.opened
    resident = await register(dispatcher, incident_id, 1, assisted_by=owner.id)  # resident.registered
    await ok(await dispatcher.post(f"/v1/residents/{resident['id']}/checkin", json={"shelter_id": shelter["id"]}))
    await ok(await dispatcher.post(f"/v1/incidents/{incident_id}/evacuations", json={
        "count": 120, "from_region": "320505", "placement": "dispersed", "assisted_by": owner.id}), 201)
    await ok(await dispatcher.post(f"/v1/incidents/{incident_id}/alerts", json=ALERT), 201)  # alert.broadcast
    await subscribe(other.api, receiver.url("/theirs"), event_types=["call.*"])  # webhook.created, theirs
    await make_organization(dispatcher, conn, 2)  # organization.created and .approved, someone else's
    await worker.tick()

    received = got(receiver, "/all", hook["secret"])
    assert types(received) == sorted([
        "webhook.created", "incident.opened", "call.published", "offer.created", "pledge.created",
        "donation.recorded", "alert.broadcast"])
    by_type = {e["type"]: e for e in received}
    assert by_type["webhook.created"]["data"]["id"] == hook["id"]
    assert by_type["call.published"]["data"]["id"] == published["id"]
    assert by_type["offer.created"]["data"]["id"] == own_offer["id"]
    assert by_type["pledge.created"]["data"]["id"] == own_pledge["id"]
    assert by_type["donation.recorded"]["data"]["donor"]["organization_id"] == owner.id
    text = json.dumps(received, ensure_ascii=False)
    assert other.id not in text and draft["id"] not in text and resident["id"] not in text
    assert not [e for e in received if e["type"].split(".")[0] in ("resident", "shelter", "evacuation")]


async def test_the_bureau_gets_resident_events_without_personal_details(dispatcher, receiver, worker):
    hook = await subscribe(dispatcher, receiver.url("/bureau"), event_types=["resident.*"])
    incident_id = await open_incident(dispatcher)
    shelter = await new_shelter(dispatcher, incident_id)
    resident = await register(dispatcher, incident_id, 3, household_size=4, origin_address="吴中区东山镇陆巷村 12 号")
    await ok(await dispatcher.post(f"/v1/residents/{resident['id']}/checkin", json={"shelter_id": shelter["id"]}))
    await worker.tick()

    received = got(receiver, "/bureau", hook["secret"])
    assert [e["type"] for e in received] == ["resident.registered", "resident.sheltered"]
    for event in received:
        data = event["data"]
        assert data["id"] == resident["id"] and data["household_size"] == 4 and data["origin_region"] == "320506"
        for field in ("name", "phone", "id_number", "id_number_masked", "origin_address", "household_id"):
            assert field not in data, field
    assert received[1]["data"]["shelter_id"] == shelter["id"]
    bodies = " ".join(r.body for r in receiver.at("/bureau"))
    for value in (resident["name"], resident["phone"], resident["id_number_masked"], "陆巷村", "****"):
        assert value not in bodies, value


async def test_incident_and_region_filters(dispatcher, receiver, worker):
    a = await open_incident(dispatcher, regions=["320505"])
    b = await open_incident(dispatcher, regions=["320500"])
    only_a = await subscribe(dispatcher, receiver.url("/a"), event_types=["incident.*", "call.*"], incidents=[a])
    suzhou = await subscribe(dispatcher, receiver.url("/suzhou"), event_types=["incident.*"], regions=["3205"])
    for incident_id in (a, b):
        await new_call(dispatcher, incident_id, goods_call())
        await ok(await dispatcher.post(f"/v1/incidents/{incident_id}/close"))
    c = await open_incident(dispatcher, regions=["320506", "110000"])
    d = await open_incident(dispatcher, regions=["110000"])
    e = await open_incident(dispatcher, regions=["320000"])  # the province: not under Suzhou
    await worker.tick()

    received = got(receiver, "/a", only_a["secret"])
    assert types(received) == ["call.closed", "call.published", "incident.closed"]
    assert {event["incident_id"] for event in received} == {a}
    received = got(receiver, "/suzhou", suzhou["secret"])
    assert sorted((event["type"], event["incident_id"]) for event in received) == sorted([
        ("incident.closed", a), ("incident.closed", b), ("incident.opened", c)])
    assert d not in str(received) and e not in str(received)


async def test_skill_filter_concerns_personnel_calls_only(dispatcher, receiver, worker):
    incident_id = await open_incident(dispatcher)
    boats = await subscribe(dispatcher, receiver.url("/boats"), event_types=["call.*"], skills=["boat_rescue"])
    boat = await new_call(dispatcher, incident_id, personnel_call())
    medics = await new_call(dispatcher, incident_id, personnel_call(skill="medical", title="医疗队"))
    goods = await new_call(dispatcher, incident_id, goods_call())
    await ok(await dispatcher.post(f"/v1/calls/{medics['id']}/close"))
    await worker.tick()

    received = got(receiver, "/boats", boats["secret"])
    assert sorted(e["data"]["id"] for e in received) == sorted([boat["id"], goods["id"]])
    assert types(received) == ["call.published", "call.published"]


async def test_event_type_patterns(dispatcher, receiver, worker):
    incident_id = await open_incident(dispatcher)
    family = await subscribe(dispatcher, receiver.url("/family"), event_types=["call.*"])
    exact = await subscribe(dispatcher, receiver.url("/exact"), event_types=["call.published"])
    two = await subscribe(dispatcher, receiver.url("/two"), event_types=["call.closed", "incident.closed"])
    call = await new_call(dispatcher, incident_id, goods_call(status="draft"))
    await ok(await dispatcher.post(f"/v1/calls/{call['id']}/publish"))
    await ok(await dispatcher.post(f"/v1/incidents/{incident_id}/close"))  # closes the call too
    await worker.tick()

    assert types(got(receiver, "/family", family["secret"])) == ["call.closed", "call.created", "call.published"]
    assert types(got(receiver, "/exact", exact["secret"])) == ["call.published"]
    assert types(got(receiver, "/two", two["secret"])) == ["call.closed", "incident.closed"]


async def test_a_subscription_does_not_get_events_from_before_it_existed(dispatcher, organization, receiver, worker):
    first = await open_incident(dispatcher)  # committed, not yet fanned out
    hook = await subscribe(organization.api, receiver.url(), event_types=["incident.*"])
    await ok(await dispatcher.post(f"/v1/incidents/{first}/close"))
    await worker.tick()
    received = got(receiver, "/hook", hook["secret"])
    assert [(e["type"], e["incident_id"]) for e in received] == [("incident.closed", first)]


async def test_an_organization_gets_its_own_alert_acknowledgements(dispatcher, organization, conn, receiver, worker):
    """fanout.py says an organization's subscriptions get its own acknowledgements; another's never."""
    other = await make_organization(dispatcher, conn, 1)
    hook = await subscribe(organization.api, receiver.url("/mine"), event_types=["alert.*"])
    theirs = await subscribe(other.api, receiver.url("/theirs"), event_types=["alert.*"])
    incident_id = await open_incident(dispatcher)
    alert = await ok(await dispatcher.post(f"/v1/incidents/{incident_id}/alerts", json=ALERT), 201)
    for api in (organization.api, other.api):
        await ok(await api.post(f"/v1/alerts/{alert['id']}/acks", json={"status": "responding"}))
    await worker.tick()

    mine = got(receiver, "/mine", hook["secret"])
    assert types(mine) == ["alert.acknowledged", "alert.broadcast"]
    assert [e["data"]["organization_id"] for e in mine if e["type"] == "alert.acknowledged"] == [organization.id]
    assert types(got(receiver, "/theirs", theirs["secret"])) == ["alert.acknowledged", "alert.broadcast"]
    assert organization.id not in " ".join(r.body for r in receiver.at("/theirs"))
