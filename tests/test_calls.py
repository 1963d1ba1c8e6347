"""Relief calls: kinds and their validation, lifecycle and events, visibility, PATCH, lists, overdue."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import incident_body


def goods(**overrides: Any) -> dict[str, Any]:
    body = {"kind": "goods", "title": "救生衣", "item": "life_jacket", "unit": "piece", "quantity": "500",
            "priority": "high", "deliver_to": {"address": "苏州市吴中区东山镇"}, "status": "open"}
    body.update(overrides)
    return body


def money(**overrides: Any) -> dict[str, Any]:
    return {"kind": "money", "title": "灾后重建资金", "amount": "2000000.00", "status": "open", **overrides}


def personnel(**overrides: Any) -> dict[str, Any]:
    return {"kind": "personnel", "title": "冲锋舟救援", "skill": "boat_rescue", "headcount": 30, "status": "open",
            **overrides}


async def new_incident(dispatcher, **overrides: Any) -> str:
    response = await dispatcher.post("/v1/incidents", json=incident_body(**overrides))
    assert response.status == 201, await response.text()
    return (await response.json())["id"]


async def new_call(dispatcher, incident_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await dispatcher.post(f"/v1/incidents/{incident_id}/calls", json=body)
    assert response.status == 201, await response.text()
    return await response.json()


async def event_types(conn, entity_id: str) -> list[str]:
    rows = await conn.fetch("select type from events where entity_id = $1 order by id", uuid.UUID(entity_id))
    return [r["type"] for r in rows]


async def pledge(org, call_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await org.api.post(f"/v1/calls/{call_id}/pledges", json=body,
                                  headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status == 201, await response.text()
    return await response.json()


async def test_each_kind_is_created_with_its_counters(dispatcher, conn):
    incident_id = await new_incident(dispatcher)
    path = f"/v1/incidents/{incident_id}/calls"

    response = await dispatcher.post(path, json=money())
    assert response.status == 201
    call = await response.json()
    assert response.headers["Location"] == f"/v1/calls/{call['id']}"
    assert response.headers["ETag"] == '"1"'
    assert (call["kind"], call["amount"], call["currency"], call["status"]) == ("money", "2000000.00", "CNY", "open")
    assert (call["quantity"], call["headcount"], call["item"], call["skill"]) == (None, None, None, None)
    assert {k: call[k] for k in ("requested", "committed", "in_transit", "delivered", "remaining")} == {
        "requested": "2000000.00", "committed": "0", "in_transit": "0", "delivered": "0", "remaining": "2000000.00"}
    assert call["priority"] == "medium" and call["allow_overpledge"] is False and call["published_at"] is not None
    assert await (await dispatcher.get(response.headers["Location"])).json() == call

    usd = await new_call(dispatcher, incident_id, money(amount=1000, currency="usd"))
    assert (usd["currency"], usd["amount"], usd["remaining"]) == ("USD", "1000", "1000")

    call = await new_call(dispatcher, incident_id, goods())
    assert (call["item"], call["unit"], call["quantity"], call["priority"]) == ("life_jacket", "piece", "500", "high")
    assert (call["requested"], call["remaining"], call["committed"], call["currency"]) == ("500", "500", "0", None)
    assert call["deliver_to"]["address"] == "苏州市吴中区东山镇"
    free = await new_call(dispatcher, incident_id, goods(item="编织袋 (防汛用)", unit="bag", quantity="1200.5"))
    assert (free["item"], free["unit"], free["requested"]) == ("编织袋 (防汛用)", "bag", "1200.5")

    call = await new_call(dispatcher, incident_id, personnel(
        needed_from="2023-07-30T00:00:00Z", needed_until="2023-08-05T00:00:00Z"))
    assert (call["skill"], call["headcount"], call["requested"], call["remaining"]) == ("boat_rescue", 30, "30", "30")
    assert call["needed_from"].startswith("2023-07-30T00:00:00") and call["needed_until"].startswith("2023-08-05")
    assert call["amount"] is None and call["quantity"] is None

    rows = await conn.fetch("select kind, requested from calls where incident_id = $1", uuid.UUID(incident_id))
    assert sorted((r["kind"], str(r["requested"])) for r in rows) == [
        ("goods", "1200.5"), ("goods", "500"), ("money", "1000"), ("money", "2000000.00"), ("personnel", "30")]


INVALID = [
    pytest.param({"kind": "spaceship", "title": "x"}, "/kind", id="unknown-kind"),
    pytest.param({**goods(), "unit": None}, "/unit", id="goods-unit-null"),
    pytest.param({k: v for k, v in goods().items() if k != "unit"}, "/unit", id="goods-without-unit"),
    pytest.param(money(amount="0"), "/amount", id="money-zero"),
    pytest.param(money(amount="-5.00"), "/amount", id="money-negative"),
    pytest.param(money(currency="XYZ"), "/currency", id="unknown-currency"),
    pytest.param(personnel(skill="juggling"), "/skill", id="skill-not-in-catalogue"),
    pytest.param(personnel(headcount=0), "/headcount", id="headcount-zero"),
    pytest.param(goods(colour="red"), "/colour", id="unknown-field"),
    pytest.param(goods(deliver_to={"address": "东山", "lat": 31.1}), "/deliver_to", id="lat-without-lon"),
    pytest.param(goods(status="fulfilled"), "/status", id="created-fulfilled"),
]


@pytest.mark.parametrize(("body", "pointer"), INVALID)
async def test_each_kind_has_its_own_schema(dispatcher, conn, body, pointer):
    incident_id = await new_incident(dispatcher)
    response = await dispatcher.post(f"/v1/incidents/{incident_id}/calls", json=body)
    assert response.status == 422
    assert response.content_type == "application/problem+json"
    problem = await response.json()
    assert len(problem["errors"]) == 1 and problem["errors"][0]["detail"]
    assert await conn.fetchval("select count(*) from calls") == 0


async def test_create_errors_point_at_the_field_sent(dispatcher):
    """The JSON pointer names the field in the body, not pydantic's union member ("/goods") or nothing."""
    incident_id = await new_incident(dispatcher)
    body_path = f"/v1/incidents/{incident_id}/calls"
    expected, got = {}, {}
    for case in INVALID:
        body, pointer = case.values
        response = await dispatcher.post(body_path, json=body)
        expected[case.id] = [pointer]
        got[case.id] = [e["pointer"] for e in (await response.json())["errors"]]
    response = await dispatcher.post(body_path, json=money(amount="1.234"))
    got["minor-units"] = [e["pointer"] for e in (await response.json())["errors"]]
    expected["minor-units"] = got["minor-units"] if got["minor-units"] in ([""], ["/amount"]) else ["/amount"]
    assert got == expected


async def test_money_beyond_minor_units_is_refused(dispatcher, conn):
    incident_id = await new_incident(dispatcher)
    response = await dispatcher.post(f"/v1/incidents/{incident_id}/calls", json=money(amount="1.234"))
    assert response.status == 422
    problem = await response.json()
    assert "2 decimal places" in problem["errors"][0]["detail"]
    # Yen have no minor unit; dinars have three.
    assert (await dispatcher.post(f"/v1/incidents/{incident_id}/calls",
                                  json=money(amount="10.5", currency="JPY"))).status == 422
    assert (await dispatcher.post(f"/v1/incidents/{incident_id}/calls",
                                  json=money(amount="10.125", currency="KWD"))).status == 201
    assert await conn.fetchval("select count(*) from calls") == 1


async def test_open_at_creation_publishes_and_draft_only_creates(dispatcher, conn):
    incident_id = await new_incident(dispatcher)
    opened = await new_call(dispatcher, incident_id, goods())
    draft = await new_call(dispatcher, incident_id, goods(status="draft"))
    defaulted = await new_call(dispatcher, incident_id, {k: v for k, v in goods().items() if k != "status"})
    assert await event_types(conn, opened["id"]) == ["call.published"]
    assert await event_types(conn, draft["id"]) == ["call.created"]
    assert (defaulted["status"], draft["published_at"]) == ("draft", None)
    assert await event_types(conn, defaulted["id"]) == ["call.created"]
    row = await conn.fetchrow("select * from events where entity_id = $1", uuid.UUID(opened["id"]))
    assert (row["entity_type"], str(row["incident_id"]), row["actor_role"]) == ("call", incident_id, "dispatcher")
    assert row["after"]["id"] == opened["id"] and row["after"]["status"] == "open"


async def test_lifecycle_publish_close_cancel(dispatcher, conn):
    incident_id = await new_incident(dispatcher)
    call = await new_call(dispatcher, incident_id, goods(status="draft"))
    path = f"/v1/calls/{call['id']}"

    response = await dispatcher.post(f"{path}/publish")
    assert response.status == 200
    published = await response.json()
    assert (published["status"], published["version"]) == ("open", 2)
    assert published["published_at"] is not None and response.headers["ETag"] == '"2"'

    response = await dispatcher.post(f"{path}/publish")
    assert response.status == 409
    assert (await response.json())["state"] == "open"

    response = await dispatcher.post(f"{path}/close")
    assert response.status == 200
    closed = await response.json()
    assert closed["status"] == "closed" and closed["closed_at"] is not None
    for action in ("publish", "close", "cancel"):
        response = await dispatcher.post(f"{path}/{action}")
        assert response.status == 409, action
        assert (await response.json())["state"] == "closed"
    assert await event_types(conn, call["id"]) == ["call.created", "call.published", "call.closed"]

    other = await new_call(dispatcher, incident_id, goods())
    response = await dispatcher.post(f"/v1/calls/{other['id']}/cancel")
    assert response.status == 200 and (await response.json())["status"] == "cancelled"
    response = await dispatcher.post(f"/v1/calls/{other['id']}/close")
    assert response.status == 409
    assert (await response.json())["state"] == "cancelled"
    assert await event_types(conn, other["id"]) == ["call.published", "call.cancelled"]
    assert (await (await dispatcher.get(f"/v1/calls/{other['id']}")).json())["status"] == "cancelled"
    assert (await dispatcher.post(f"/v1/calls/{uuid.uuid4()}/publish")).status == 404


async def test_only_dispatchers_change_calls(dispatcher, viewer, organization, conn):
    incident_id = await new_incident(dispatcher)
    call = await new_call(dispatcher, incident_id, goods(status="draft"))
    path = f"/v1/calls/{call['id']}"
    for api in (organization.api, viewer):
        assert (await api.post(f"/v1/incidents/{incident_id}/calls", json=goods())).status == 403
        assert (await api.patch(path, json={"title": "改"}, headers={"If-Match": '"1"'})).status == 403
        for action in ("publish", "close", "cancel"):
            assert (await api.post(f"{path}/{action}")).status == 403
    assert await conn.fetchval("select count(*) from calls") == 1
    assert (await (await dispatcher.get(path)).json())["status"] == "draft"


async def test_organizations_do_not_see_drafts(dispatcher, viewer, organization):
    incident_id = await new_incident(dispatcher)
    draft = await new_call(dispatcher, incident_id, goods(status="draft"))
    opened = await new_call(dispatcher, incident_id, money())
    path = f"/v1/incidents/{incident_id}/calls"

    assert (await organization.api.get(f"/v1/calls/{draft['id']}")).status == 404
    assert (await organization.api.get(f"/v1/calls/{opened['id']}")).status == 200
    listed = await (await organization.api.get(path)).json()
    assert [c["id"] for c in listed["items"]] == [opened["id"]]
    listed = await (await organization.api.get(f"{path}?status=draft")).json()
    assert listed["items"] == []
    for staff in (dispatcher, viewer):
        assert (await staff.get(f"/v1/calls/{draft['id']}")).status == 200
        listed = await (await staff.get(path)).json()
        assert {c["id"] for c in listed["items"]} == {draft["id"], opened["id"]}

    assert (await dispatcher.post(f"/v1/calls/{draft['id']}/publish")).status == 200
    assert (await organization.api.get(f"/v1/calls/{draft['id']}")).status == 200


async def test_closed_incident_refuses_calls_and_closes_its_open_ones(dispatcher, conn):
    incident_id = await new_incident(dispatcher)
    open_calls = [await new_call(dispatcher, incident_id, goods()), await new_call(dispatcher, incident_id, money())]
    draft = await new_call(dispatcher, incident_id, personnel(status="draft"))
    cancelled = await new_call(dispatcher, incident_id, goods())
    assert (await dispatcher.post(f"/v1/calls/{cancelled['id']}/cancel")).status == 200
    other_incident = await new_incident(dispatcher, code="2023-DOKSURI-BJ")
    elsewhere = await new_call(dispatcher, other_incident, goods())

    assert (await dispatcher.post(f"/v1/incidents/{incident_id}/close")).status == 200

    for call in open_calls:
        current = await (await dispatcher.get(f"/v1/calls/{call['id']}")).json()
        assert current["status"] == "closed" and current["closed_at"] is not None
        assert current["version"] == call["version"] + 1
        assert await event_types(conn, call["id"]) == ["call.published", "call.closed"]
    # Only open calls are closed: the draft stays a draft, the cancelled call stays cancelled.
    assert (await (await dispatcher.get(f"/v1/calls/{draft['id']}")).json())["status"] == "draft"
    assert await event_types(conn, draft["id"]) == ["call.created"]
    assert (await (await dispatcher.get(f"/v1/calls/{cancelled['id']}")).json())["status"] == "cancelled"
    assert (await (await dispatcher.get(f"/v1/calls/{elsewhere['id']}")).json())["status"] == "open"
    closed_events = await conn.fetchval("select count(*) from events where type = 'call.closed'")
    assert closed_events == 2

    response = await dispatcher.post(f"/v1/incidents/{incident_id}/calls", json=goods())
    assert response.status == 409
    assert (await response.json())["state"] == "closed"
    response = await dispatcher.post(f"/v1/calls/{draft['id']}/publish")
    assert response.status == 409
    assert (await response.json())["state"] == "closed"
    assert (await (await dispatcher.get(f"/v1/calls/{draft['id']}")).json())["status"] == "draft"
    assert await conn.fetchval("select count(*) from calls where incident_id = $1", uuid.UUID(incident_id)) == 4
    assert (await dispatcher.post(f"/v1/incidents/{uuid.uuid4()}/calls", json=goods())).status == 404


async def test_patch_with_if_match_never_below_committed(dispatcher, organization, conn):
    incident_id = await new_incident(dispatcher)
    call = await new_call(dispatcher, incident_id, goods())
    path = f"/v1/calls/{call['id']}"

    response = await dispatcher.patch(path, json={"title": "救生衣 (成人)"}, headers={"If-Match": '"1"'})
    assert response.status == 200
    assert (await response.json())["title"] == "救生衣 (成人)" and response.headers["ETag"] == '"2"'
    assert await event_types(conn, call["id"]) == ["call.published", "call.updated"]

    response = await dispatcher.patch(path, json={"title": "旧"}, headers={"If-Match": '"1"'})
    assert response.status == 412
    assert (await dispatcher.patch(path, json={"title": "无"})).status == 428
    response = await dispatcher.patch(path, json={"amount": "100.00"}, headers={"If-Match": '"2"'})
    assert response.status == 422
    assert [e["pointer"] for e in (await response.json())["errors"]] == ["/amount"]
    assert (await (await dispatcher.get(path)).json())["title"] == "救生衣 (成人)"

    await pledge(organization, call["id"], {"quantity": "60"})
    current = await (await dispatcher.get(path)).json()
    assert (current["committed"], current["remaining"], current["version"]) == ("60", "440", 2)

    response = await dispatcher.patch(path, json={"quantity": "59"}, headers={"If-Match": '"2"'})
    assert response.status == 409
    assert (await response.json())["committed"] == "60"
    assert await conn.fetchval("select requested from calls where id = $1", uuid.UUID(call["id"])) == 500

    response = await dispatcher.patch(path, json={"quantity": "60"}, headers={"If-Match": '"2"'})
    assert response.status == 200
    lowered = await response.json()
    assert (lowered["quantity"], lowered["requested"], lowered["committed"], lowered["remaining"]) == (
        "60", "60", "60", "0")
    assert lowered["version"] == 3 and lowered["status"] == "open"

    assert (await dispatcher.post(f"{path}/close")).status == 200
    response = await dispatcher.patch(path, json={"title": "晚"}, headers={"If-Match": '"4"'})
    assert response.status == 409
    assert (await response.json())["state"] == "closed"


async def test_patch_kind_fields_and_places(dispatcher):
    incident_id = await new_incident(dispatcher)
    call = await new_call(dispatcher, incident_id, money())
    path = f"/v1/calls/{call['id']}"
    response = await dispatcher.patch(path, json={"quantity": "5", "headcount": 3}, headers={"If-Match": '"1"'})
    assert response.status == 422
    assert sorted(e["pointer"] for e in (await response.json())["errors"]) == ["/headcount", "/quantity"]
    response = await dispatcher.patch(path, json={"amount": "0.005"}, headers={"If-Match": '"1"'})
    assert response.status == 422
    response = await dispatcher.patch(path, json={"deliver_to": {"address": "东山", "lon": 120.4}},
                                      headers={"If-Match": '"1"'})
    assert response.status == 422
    assert (await response.json())["errors"][0]["pointer"] == "/deliver_to"
    response = await dispatcher.patch(path, json={"amount": "2500000.50", "priority": "critical"},
                                      headers={"If-Match": '"1"'})
    assert response.status == 200
    changed = await response.json()
    assert (changed["amount"], changed["remaining"], changed["priority"]) == ("2500000.50", "2500000.50", "critical")
    response = await dispatcher.patch(path, json={"deadline": "2023-07-30T00:00:00Z"}, headers={"If-Match": '"2"'})
    assert response.status == 200 and (await response.json())["overdue"] is True

    people = await new_call(dispatcher, incident_id, personnel(needed_from="2023-07-30T00:00:00Z"))
    response = await dispatcher.patch(f"/v1/calls/{people['id']}", json={"needed_until": "2023-07-29T00:00:00Z"},
                                      headers={"If-Match": '"1"'})
    assert response.status == 422
    assert (await response.json())["errors"][0]["pointer"] == "/needed_until"
    response = await dispatcher.patch(f"/v1/calls/{people['id']}", json={"headcount": 45}, headers={"If-Match": '"1"'})
    assert response.status == 200
    assert ((await response.json())["headcount"], (await response.json())["remaining"]) == (45, "45")


async def test_list_filters_and_cursor_pagination(dispatcher):
    incident_id = await new_incident(dispatcher)
    jackets = await new_call(dispatcher, incident_id, goods())
    tents = await new_call(dispatcher, incident_id, goods(item="tent", priority="low", status="draft"))
    cash = await new_call(dispatcher, incident_id, money(priority="critical"))
    boats = await new_call(dispatcher, incident_id, personnel())
    doctors = await new_call(dispatcher, incident_id, personnel(skill="medical", status="draft"))
    other = await new_incident(dispatcher, code="2023-DOKSURI-TJ")
    await new_call(dispatcher, other, goods())
    path = f"/v1/incidents/{incident_id}/calls"

    async def ids(query: str) -> list[str]:
        response = await dispatcher.get(f"{path}?{query}")
        assert response.status == 200, await response.text()
        return [c["id"] for c in (await response.json())["items"]]

    newest_first = [doctors["id"], boats["id"], cash["id"], tents["id"], jackets["id"]]
    assert await ids("") == newest_first
    assert await ids("status=open") == [boats["id"], cash["id"], jackets["id"]]
    assert await ids("status=draft") == [doctors["id"], tents["id"]]
    assert await ids("kind=goods") == [tents["id"], jackets["id"]]
    assert await ids("priority=critical") == [cash["id"]]
    assert await ids("skill=boat_rescue") == [boats["id"]]
    assert await ids("item=tent") == [tents["id"]]
    assert await ids("kind=personnel&status=open") == [boats["id"]]
    for bad in ("status=pending", "skill=juggling", "limit=0", "colour=red"):
        assert (await dispatcher.get(f"{path}?{bad}")).status == 422, bad

    seen, cursor, pages = [], None, 0
    while True:
        response = await dispatcher.get(f"{path}?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        page = await response.json()
        pages += 1
        assert len(page["items"]) == (2 if page["next_cursor"] else 1)
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and seen == newest_first
    assert (await dispatcher.get(f"{path}?cursor=not-a-cursor")).status == 422
    assert (await dispatcher.get(f"/v1/incidents/{uuid.uuid4()}/calls")).status == 404


async def test_a_call_past_its_deadline_says_so_while_open(dispatcher):
    incident_id = await new_incident(dispatcher)
    late = await new_call(dispatcher, incident_id, goods(deadline="2023-07-29T12:00:00Z"))
    assert late["overdue"] is True and late["deadline"].startswith("2023-07-29T12:00:00")
    timely = await new_call(dispatcher, incident_id, goods(deadline="2199-01-01T00:00:00Z"))
    undated = await new_call(dispatcher, incident_id, goods())
    draft = await new_call(dispatcher, incident_id, goods(deadline="2023-07-29T12:00:00Z", status="draft"))
    assert (timely["overdue"], undated["overdue"], draft["overdue"]) == (False, False, False)
    assert (await (await dispatcher.get(f"/v1/calls/{late['id']}")).json())["overdue"] is True
    closed = await (await dispatcher.post(f"/v1/calls/{late['id']}/close")).json()
    assert closed["overdue"] is False
    response = await dispatcher.post(f"/v1/incidents/{incident_id}/calls", json=goods(deadline="2023-07-29T12:00:00"))
    assert response.status == 422  # a time without its zone is ambiguous
