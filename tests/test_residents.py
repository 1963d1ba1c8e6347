"""Residents and aggregate evacuations: registration once per person, lifecycle, counters, privacy."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import uuid
from collections import Counter
from decimal import Decimal

import pytest

from relief import counters, residents
from tests.test_shelters import (
    event_types,
    new_incident,
    new_shelter,
    register,
    resident_body,
    resident_id,
    shelter_now,
)


async def counters_of(conn, incident_id: str) -> dict[tuple[str, str], Decimal]:
    return await counters.read(conn, uuid.UUID(incident_id))  # counters never moved have no row


async def test_register_stores_only_a_keyed_hash_and_shows_masks(dispatcher, settings, conn):
    incident_id = await new_incident(dispatcher)
    body = resident_body(7, phone="13912345678", household_id="H-12", household_size=3,
                         origin_address="吴中区东山镇", vulnerabilities=["elderly", "child", "elderly"])
    response = await dispatcher.post(f"/v1/incidents/{incident_id}/residents", json=body)
    assert response.status == 201
    resident = await response.json()
    assert response.headers["Location"] == f"/v1/residents/{resident['id']}"
    expected_mask = "****" + body["id_number"][-4:]
    assert {k: resident[k] for k in ("name", "id_number_masked", "phone", "status", "duplicate", "household_size",
                                      "vulnerabilities", "shelter_id", "version")} == {
        "name": "李秀英7", "id_number_masked": expected_mask, "phone": "139****5678", "status": "registered",
        "duplicate": False, "household_size": 3, "vulnerabilities": ["child", "elderly"], "shelter_id": None,
        "version": 1}
    assert "id_number" not in resident

    row = await conn.fetchrow("select * from residents where id = $1", uuid.UUID(resident["id"]))
    key = settings.secret_key.get_secret_value().encode()
    assert bytes(row["id_hash"]) == hmac.new(key, body["id_number"].encode(), hashlib.sha256).digest()
    assert row["id_last4"] == body["id_number"][-4:]
    event = await conn.fetchrow("select * from events where entity_id = $1", uuid.UUID(resident["id"]))
    assert (event["type"], event["entity_type"], event["organization_id"]) == ("resident.registered", "resident", None)
    assert (event["after"]["id_number_masked"], event["after"]["phone"]) == (expected_mask, "139****5678")
    assert await counters_of(conn, incident_id) == {("evacuated", "individual"): 1}


async def test_the_same_person_twice_is_one_resident(dispatcher, conn):
    incident_id = await new_incident(dispatcher)
    first = await register(dispatcher, incident_id, 0, id_number="11010519491231002X")
    # The same number, written another way (lower-case x, spaces), with other details.
    again = resident_body(0, name="李秀英 (重复)", id_number=" 11010519491231002x ", phone="13700000000")
    response = await dispatcher.post(f"/v1/incidents/{incident_id}/residents", json=again)
    assert response.status == 200
    duplicate = await response.json()
    assert duplicate["duplicate"] is True and duplicate["id"] == first["id"]
    assert (duplicate["name"], duplicate["phone"]) == ("李秀英0", first["phone"])  # the existing resident
    assert await conn.fetchval("select count(*) from residents") == 1
    assert await event_types(conn, first["id"]) == ["resident.registered"]
    assert await counters_of(conn, incident_id) == {("evacuated", "individual"): 1}

    other_incident = await new_incident(dispatcher)
    elsewhere = await register(dispatcher, other_incident, 0, id_number="11010519491231002X")
    assert elsewhere["id"] != first["id"] and elsewhere["duplicate"] is False


async def test_concurrent_registrations_of_one_person_make_one_resident(dispatcher, conn):
    incident_id = await new_incident(dispatcher)
    responses = await asyncio.gather(*(
        dispatcher.post(f"/v1/incidents/{incident_id}/residents", json=resident_body(3)) for _ in range(10)))
    assert Counter(r.status for r in responses) == {201: 1, 200: 9}
    assert len({(await r.json())["id"] for r in responses}) == 1
    assert await conn.fetchval("select count(*) from events where type = 'resident.registered'") == 1
    assert await counters_of(conn, incident_id) == {("evacuated", "individual"): 1}


@pytest.mark.parametrize(("overrides", "pointer"), [
    pytest.param({"id_number": resident_id(1)[:17] + ("0" if resident_id(1)[17] != "0" else "1")}, "/id_number",
                 id="wrong-check-character"),
    pytest.param({"id_number": "3205051980010100"}, "/id_number", id="too-short"),
    pytest.param({"id_number": "32050519800101001A"}, "/id_number", id="letter-not-X"),
    pytest.param({"id_type": "driving_licence"}, "/id_type", id="unknown-id-type"),
    pytest.param({"origin_region": "990000"}, "/origin_region", id="bad-region"),
    pytest.param({"vulnerabilities": ["tall"]}, "/vulnerabilities/0", id="unknown-vulnerability"),
    pytest.param({"household_size": 0}, "/household_size", id="household-zero"),
    pytest.param({"phone": "call me"}, "/phone", id="bad-phone"),
    pytest.param({"assisted_by": str(uuid.uuid4())}, "/assisted_by", id="unknown-organization"),
])
async def test_invalid_registrations_name_the_field(dispatcher, conn, overrides, pointer):
    incident_id = await new_incident(dispatcher)
    body = resident_body(1, **overrides)
    response = await dispatcher.post(f"/v1/incidents/{incident_id}/residents", json=body)
    assert response.status == 422
    text = await response.text()
    assert [e["pointer"] for e in (await response.json())["errors"]] == [pointer]
    assert body["id_number"] not in text and body["phone"] not in text
    assert await conn.fetchval("select count(*) from residents") == 0


async def test_passports_and_other_ids_are_taken_as_given(dispatcher):
    incident_id = await new_incident(dispatcher)
    passport = await register(dispatcher, incident_id, 1, id_type="passport", id_number="E12345678")
    assert passport["id_number_masked"] == "****5678"
    other = await register(dispatcher, incident_id, 2, id_type="other", id_number="gat-2023-0099")
    assert other["id_number_masked"] == "****0099"


async def test_roles_and_viewers_without_names(dispatcher, viewer, organization):
    incident_id = await new_incident(dispatcher)
    resident = await register(dispatcher, incident_id, 5, name="王建国")
    shelter = await new_shelter(dispatcher, incident_id)
    path = f"/v1/incidents/{incident_id}/residents"
    for api in (viewer, organization.api):
        assert (await api.post(path, json=resident_body(6))).status == 403
        checkin = {"shelter_id": shelter["id"]}
        assert (await api.post(f"/v1/residents/{resident['id']}/checkin", json=checkin)).status == 403
        assert (await api.post(f"/v1/residents/{resident['id']}/return")).status == 403
        assert (await api.post(f"/v1/incidents/{incident_id}/evacuations", json={
            "count": 5, "from_region": "320506", "placement": "dispersed"})).status == 403
    for where in (path, f"/v1/residents/{resident['id']}", f"/v1/incidents/{incident_id}/evacuations"):
        assert (await organization.api.get(where)).status == 403

    seen = await (await viewer.get(f"/v1/residents/{resident['id']}")).json()
    assert (seen["name"], seen["id_number_masked"]) == (None, resident["id_number_masked"])
    assert (await (await dispatcher.get(f"/v1/residents/{resident['id']}")).json())["name"] == "王建国"
    last4 = resident["id_number_masked"][-4:]
    found = await (await viewer.get(f"{path}?q={last4}")).json()
    assert [(r["id"], r["name"]) for r in found["items"]] == [(resident["id"], None)]
    assert (await (await viewer.get(f"{path}?q=建国")).json())["items"] == []  # viewers cannot probe names
    assert [r["name"] for r in (await (await dispatcher.get(f"{path}?q=建国")).json())["items"]] == ["王建国"]


async def test_lists_filter_and_paginate(dispatcher, viewer):
    incident_id = await new_incident(dispatcher)
    shelter = await new_shelter(dispatcher, incident_id)
    people = [await register(dispatcher, incident_id, i) for i in range(3)]
    await dispatcher.post(f"/v1/residents/{people[1]['id']}/checkin", json={"shelter_id": shelter["id"]})
    path = f"/v1/incidents/{incident_id}/residents"
    page = await (await viewer.get(f"{path}?limit=2")).json()
    rest = await (await viewer.get(f"{path}?limit=2&cursor={page['next_cursor']}")).json()
    assert [r["id"] for r in page["items"] + rest["items"]] == [p["id"] for p in reversed(people)]
    assert rest["next_cursor"] is None
    for query in ("status=sheltered", f"shelter_id={shelter['id']}"):
        assert [r["id"] for r in (await (await viewer.get(f"{path}?{query}")).json())["items"]] == [people[1]["id"]]
    assert (await viewer.get(f"{path}?status=lost")).status == 422
    assert (await viewer.get(f"/v1/incidents/{uuid.uuid4()}/residents")).status == 404


async def test_lifecycle_checkin_move_return(dispatcher, conn):
    incident_id = await new_incident(dispatcher)
    gym = await new_shelter(dispatcher, incident_id, capacity=10)
    hotel = await new_shelter(dispatcher, incident_id, name="东山宾馆", capacity=1)
    resident = await register(dispatcher, incident_id, 1)
    path = f"/v1/residents/{resident['id']}"

    response = await dispatcher.post(f"{path}/checkin", json={"shelter_id": gym["id"]})
    assert response.status == 200
    assert {k: (await response.json())[k] for k in ("status", "shelter_id", "version")} == {
        "status": "sheltered", "shelter_id": gym["id"], "version": 2}
    assert (await shelter_now(dispatcher, gym["id"]))["occupancy"] == 1
    response = await dispatcher.post(f"{path}/checkin", json={"shelter_id": hotel["id"]})
    assert response.status == 409 and (await response.json())["state"] == "sheltered"

    response = await dispatcher.post(f"{path}/move", json={"shelter_id": gym["id"]})
    assert response.status == 422 and (await response.json())["errors"][0]["pointer"] == "/shelter_id"
    response = await dispatcher.post(f"{path}/move", json={"shelter_id": hotel["id"]})
    assert response.status == 200 and (await response.json())["shelter_id"] == hotel["id"]
    assert [(await shelter_now(dispatcher, s["id"]))["occupancy"] for s in (gym, hotel)] == [0, 1]
    assert (await shelter_now(dispatcher, hotel["id"]))["status"] == "full"

    # A full target refuses the move, and nothing changes.
    other = await register(dispatcher, incident_id, 2)
    await dispatcher.post(f"/v1/residents/{other['id']}/checkin", json={"shelter_id": gym["id"]})
    response = await dispatcher.post(f"/v1/residents/{other['id']}/move", json={"shelter_id": hotel["id"]})
    assert response.status == 409 and (await response.json())["state"] == "full"
    assert (await (await dispatcher.get(f"/v1/residents/{other['id']}")).json())["shelter_id"] == gym["id"]
    assert [(await shelter_now(dispatcher, s["id"]))["occupancy"] for s in (gym, hotel)] == [1, 1]

    response = await dispatcher.post(f"{path}/return")
    assert response.status == 200
    returned = await response.json()
    assert (returned["status"], returned["shelter_id"]) == ("returned", None) and returned["returned_at"]
    assert (await shelter_now(dispatcher, hotel["id"]))["occupancy"] == 0
    for action, body in (("return", None), ("checkin", {"shelter_id": gym["id"]}), ("move", {"shelter_id": gym["id"]})):
        response = await dispatcher.post(f"{path}/{action}", json=body)
        assert response.status == 409 and (await response.json())["state"] == "returned", action
    assert await event_types(conn, resident["id"]) == [
        "resident.registered", "resident.sheltered", "resident.moved", "resident.returned"]
    moved = await conn.fetchrow("select before, after from events where type = 'resident.moved'")
    assert (moved["before"]["shelter_id"], moved["after"]["shelter_id"]) == (gym["id"], hotel["id"])

    never_sheltered = await register(dispatcher, incident_id, 3)
    response = await dispatcher.post(f"/v1/residents/{never_sheltered['id']}/move", json={"shelter_id": gym["id"]})
    assert response.status == 409 and (await response.json())["state"] == "registered"
    assert (await dispatcher.post(f"/v1/residents/{never_sheltered['id']}/return")).status == 200
    elsewhere = await new_shelter(dispatcher, await new_incident(dispatcher))
    response = await dispatcher.post(f"/v1/residents/{other['id']}/move", json={"shelter_id": elsewhere["id"]})
    assert response.status == 422 and (await response.json())["errors"][0]["pointer"] == "/shelter_id"
    assert (await dispatcher.post(f"/v1/residents/{uuid.uuid4()}/return")).status == 404

    assert await counters_of(conn, incident_id) == {
        ("evacuated", "individual"): 3, ("placement", "centralized"): 2, ("sheltered", ""): 1, ("returned", ""): 2}


async def test_evacuations_fill_shelters_and_count(dispatcher, viewer, organization, conn):
    incident_id = await new_incident(dispatcher)
    shelter = await new_shelter(dispatcher, incident_id, capacity=100)
    path = f"/v1/incidents/{incident_id}/evacuations"
    body = {"count": 95, "from_region": "320506", "placement": "centralized", "shelter_id": shelter["id"],
            "assisted_by": organization.id, "occurred_at": "2023-07-29T02:00:00Z", "note": "东山镇转移"}
    response = await dispatcher.post(path, json=body)
    assert response.status == 201
    centralized = await response.json()
    assert (centralized["count"], centralized["placement"], centralized["shelter_id"]) == (95, "centralized",
                                                                                         shelter["id"])
    assert centralized["occurred_at"].startswith("2023-07-29T02:00:00")
    current = await shelter_now(dispatcher, shelter["id"])
    assert (current["occupancy"], current["status"]) == (95, "open")
    assert await event_types(conn, shelter["id"]) == ["shelter.opened", "shelter.near_capacity"]
    assert await event_types(conn, centralized["id"]) == ["evacuation.recorded"]

    response = await dispatcher.post(path, json={**body, "count": 6})
    assert response.status == 409
    assert (await response.json())["available"] == 5
    assert (await shelter_now(dispatcher, shelter["id"]))["occupancy"] == 95

    dispersed = {"count": 1200, "from_region": "320506", "placement": "dispersed"}
    response = await dispatcher.post(path, json=dispersed, headers={"Idempotency-Key": "evac-1"})
    assert response.status == 201
    replay = await dispatcher.post(path, json=dispersed, headers={"Idempotency-Key": "evac-1"})
    assert replay.status == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert (await replay.json())["id"] == (await response.json())["id"]

    assert await counters_of(conn, incident_id) == {
        ("evacuated", "aggregate"): 1295, ("placement", "centralized"): 95, ("placement", "dispersed"): 1200,
        ("sheltered", ""): 95, ("participants", ""): 1}
    listed = await (await viewer.get(path)).json()
    assert [e["count"] for e in listed["items"]] == [1200, 95]
    for query in ("placement=centralized", f"shelter_id={shelter['id']}"):
        assert [e["count"] for e in (await (await viewer.get(f"{path}?{query}")).json())["items"]] == [95]


@pytest.mark.parametrize(("body", "pointer"), [
    pytest.param({"count": 5, "from_region": "320506", "placement": "centralized"}, "/shelter_id",
                 id="centralized-without-shelter"),
    pytest.param({"count": 5, "from_region": "320506", "placement": "dispersed", "shelter_id": str(uuid.uuid4())},
                 "/shelter_id", id="dispersed-with-shelter"),
    pytest.param({"count": 5, "from_region": "320506", "placement": "centralized", "shelter_id": str(uuid.uuid4())},
                 "/shelter_id", id="unknown-shelter"),
    pytest.param({"count": 0, "from_region": "320506", "placement": "dispersed"}, "/count", id="count-zero"),
    pytest.param({"count": True, "from_region": "320506", "placement": "dispersed"}, "/count", id="count-true"),
    pytest.param({"count": 5, "from_region": "32050", "placement": "dispersed"}, "/from_region", id="bad-region"),
    pytest.param({"count": 5, "from_region": "320506", "placement": "dispersed", "assisted_by": str(uuid.uuid4())},
                 "/assisted_by", id="unknown-organization"),
])
async def test_invalid_evacuations_name_the_field(dispatcher, conn, body, pointer):
    incident_id = await new_incident(dispatcher)
    response = await dispatcher.post(f"/v1/incidents/{incident_id}/evacuations", json=body)
    assert response.status == 422
    assert [e["pointer"] for e in (await response.json())["errors"]] == [pointer]
    assert await conn.fetchval("select count(*) from evacuations") == 0


async def test_closed_incident_refuses_registrations_and_evacuations(dispatcher, conn):
    incident_id = await new_incident(dispatcher)
    shelter = await new_shelter(dispatcher, incident_id)
    resident = await register(dispatcher, incident_id, 1)
    await dispatcher.post(f"/v1/incidents/{incident_id}/close")
    response = await dispatcher.post(f"/v1/incidents/{incident_id}/residents", json=resident_body(2))
    assert response.status == 409 and (await response.json())["state"] == "closed"
    response = await dispatcher.post(f"/v1/incidents/{incident_id}/evacuations",
                                     json={"count": 5, "from_region": "320506", "placement": "dispersed"})
    assert response.status == 409 and (await response.json())["state"] == "closed"
    assert (await conn.fetchval("select count(*) from residents"), await conn.fetchval(
        "select count(*) from evacuations")) == (1, 0)
    # Residents stay trackable after the incident closes: they still go home.
    assert (await dispatcher.post(f"/v1/residents/{resident['id']}/checkin",
                                  json={"shelter_id": shelter["id"]})).status == 200
    assert (await dispatcher.post(f"/v1/residents/{resident['id']}/return")).status == 200


async def test_register_with_idempotency_key_replays(dispatcher, conn):
    incident_id = await new_incident(dispatcher)
    path = f"/v1/incidents/{incident_id}/residents"
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    first = await dispatcher.post(path, json=resident_body(4), headers=headers)
    again = await dispatcher.post(path, json=resident_body(4), headers=headers)
    assert (first.status, again.status) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true" and await again.json() == await first.json()
    response = await dispatcher.post(path, json=resident_body(5), headers=headers)
    assert response.status == 422  # the same key with another person
    assert await conn.fetchval("select count(*) from residents") == 1


async def test_expected_counters_agree_and_detect_tampering(dispatcher, organization, conn):
    incident_id = await new_incident(dispatcher)
    incident = uuid.UUID(incident_id)
    gym = await new_shelter(dispatcher, incident_id, capacity=50)
    hotel = await new_shelter(dispatcher, incident_id, name="东山宾馆", capacity=50)
    people = [await register(dispatcher, incident_id, i, assisted_by=organization.id) for i in range(5)]
    for resident in people[:4]:
        await dispatcher.post(f"/v1/residents/{resident['id']}/checkin", json={"shelter_id": gym["id"]})
    await dispatcher.post(f"/v1/residents/{people[0]['id']}/move", json={"shelter_id": hotel["id"]})
    await dispatcher.post(f"/v1/residents/{people[1]['id']}/return")
    await dispatcher.post(f"/v1/residents/{people[4]['id']}/return")
    evacuations = f"/v1/incidents/{incident_id}/evacuations"
    await dispatcher.post(evacuations, json={"count": 30, "from_region": "320506", "placement": "centralized",
                                             "shelter_id": hotel["id"]})
    await dispatcher.post(evacuations, json={"count": 700, "from_region": "320506", "placement": "dispersed"})

    expected = await residents.expected_counters(conn, incident)
    assert expected == {
        ("evacuated", "individual"): 5, ("evacuated", "aggregate"): 730, ("placement", "centralized"): 34,
        ("placement", "dispersed"): 700, ("sheltered", ""): 33, ("returned", ""): 2}
    stored = await counters.read(conn, incident)
    assert {k: stored.get(k, 0) for k in expected} == expected
    assert stored[("participants", "")] == 1

    await conn.execute("update incident_counters set value = value + 1 where incident_id = $1 and name = 'returned'",
                       incident)
    stored = await counters.read(conn, incident)
    assert [k for k in expected if stored.get(k, 0) != expected[k]] == [("returned", "")]


async def test_full_id_numbers_and_phones_never_leave(dispatcher, viewer, conn, caplog):
    caplog.set_level(logging.DEBUG)
    incident_id = await new_incident(dispatcher)
    shelter = await new_shelter(dispatcher, incident_id)
    secrets, texts = [], []
    for index in range(3):
        body = resident_body(100 + index)
        secrets += [body["id_number"], body["phone"]]
        response = await dispatcher.post(f"/v1/incidents/{incident_id}/residents", json=body,
                                         headers={"Idempotency-Key": f"k-{index}"})
        texts.append(await response.text())
        texts.append(await (await dispatcher.post(f"/v1/incidents/{incident_id}/residents", json=body)).text())
    bad = resident_body(200, id_number=resident_id(200)[:17] + "Y")
    secrets += [bad["id_number"], bad["phone"]]
    texts.append(await (await dispatcher.post(f"/v1/incidents/{incident_id}/residents", json=bad)).text())
    first = (await (await dispatcher.get(f"/v1/incidents/{incident_id}/residents")).json())["items"][-1]
    for method, path, body in (
        ("POST", f"/v1/residents/{first['id']}/checkin", {"shelter_id": shelter["id"]}),
        ("GET", f"/v1/residents/{first['id']}", None),
        ("POST", f"/v1/residents/{first['id']}/return", None),
    ):
        texts.append(await (await dispatcher.call(method, path, json=body)).text())
    texts.append(await (await viewer.get(f"/v1/incidents/{incident_id}/residents")).text())
    texts.append(await (await dispatcher.get(f"/v1/events?incident_id={incident_id}&limit=200")).text())

    events = await conn.fetchval("select json_agg(e)::text from events e")
    stored_answers = await conn.fetchval("select string_agg(encode(body, 'escape'), ' ') from idempotency_keys")
    rows = await conn.fetchval("select json_agg(r)::text from residents r")
    everything = "\n".join([*texts, events, stored_answers, caplog.text])
    assert "resident.returned" in events and "****" in stored_answers and first["id"] in caplog.text
    full_ids = [s for s in secrets if len(s) == 18]
    assert [s for s in secrets if s in everything] == []
    assert [s for s in full_ids if s in rows] == []  # the table keeps the phone, never the ID number


async def test_short_ids_are_refused_so_masks_never_show_most_of_one(dispatcher):
    incident_id = await new_incident(dispatcher)
    response = await dispatcher.post(f"/v1/incidents/{incident_id}/residents",
                                     json={**resident_body(7), "id_type": "other", "id_number": "A123"})
    assert response.status == 422
    assert (await response.json())["errors"][0]["pointer"] == "/id_number"


def test_short_phone_numbers_show_their_last_four_at_most():
    from relief.masking import mask_phone

    assert mask_phone("13912345678") == "139****5678"
    assert mask_phone("65123456") == "****3456"
    assert mask_phone("1234567") == "****"
