"""Stock movements and levels: transfers and their arrivals, distributions, write-offs, reversals, minimums."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from relief import chain, counters, summary
from tests.conftest import Api
from tests.test_shelters import register
from tests.test_sites import donate, new_incident, new_shelter, new_site


def move(api: Api, incident_id: str, body: dict[str, Any], key: str | None = None):
    return api.post(f"/v1/incidents/{incident_id}/stock-movements", json=body,
                    headers={"Idempotency-Key": key or str(uuid.uuid4())})


async def moved(api: Api, incident_id: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await move(api, incident_id, body)
    assert response.status == 201, await response.text()
    return await response.json()


def water(quantity: str, origin: dict[str, Any], **rest: Any) -> dict[str, Any]:
    return {"item": "drinking_water", "unit": "box", "quantity": quantity, "from": origin, **rest}


async def stock(api: Api, incident_id: str) -> dict[str, Any]:
    response = await api.get(f"/v1/incidents/{incident_id}/stock")
    assert response.status == 200, await response.text()
    return await response.json()


async def at(api: Api, incident_id: str, location: dict[str, Any], item: str = "drinking_water") -> dict[str, str]:
    """One location's level of an item, as the API shows it (zeros when it holds none)."""
    for row in (await stock(api, incident_id))["levels"]:
        if {k: v for k, v in row["location"].items() if k != "name" and v} == location and row["item"] == item:
            return row
    return {"on_hand": "0", "received": "0", "in_transit_out": "0", "distributed": "0", "written_off": "0"}


async def figures(conn, incident_id: str) -> dict[tuple[str, str], Decimal]:
    return {k: v for k, v in (await counters.read(conn, uuid.UUID(incident_id))).items() if v}


async def no_differences(conn, incident_id: str) -> None:
    assert await summary.reconcile(conn, incident_id=uuid.UUID(incident_id)) == []


async def stocked(dispatcher: Api, quantity: str = "100") -> tuple[str, dict[str, str], dict[str, str]]:
    """An incident with a warehouse holding `quantity` boxes of water, and a distribution point."""
    incident = await new_incident(dispatcher)
    warehouse = {"site_id": (await new_site(dispatcher, incident))["id"]}
    point = {"site_id": (await new_site(dispatcher, incident, kind="distribution_point", name="东山发放点"))["id"]}
    response = await donate(dispatcher, incident, {"kind": "goods", "item": "drinking_water", "unit": "box",
                                                   "quantity": quantity, **warehouse})
    assert response.status == 201, await response.text()
    return incident, warehouse, point


async def test_a_transfer_of_50_received_as_48_leaves_2_lost(dispatcher, conn):
    incident, warehouse, point = await stocked(dispatcher)
    transfer = await moved(dispatcher, incident, water("50", warehouse, kind="transfer", to=point, note="卡车"))
    assert (transfer["kind"], transfer["status"], transfer["received"]) == ("transfer", "in_transit", None)
    assert transfer["from"] == {**warehouse, "shelter_id": None, "name": "吴中区救灾物资仓库"}
    origin = await at(dispatcher, incident, warehouse)
    assert (origin["on_hand"], origin["in_transit_out"]) == ("50", "50")
    assert (await figures(conn, incident))[("goods_in_transit", "drinking_water|box")] == 50

    path = f"/v1/stock-movements/{transfer['id']}/receive"
    response = await dispatcher.post(path, json={"quantity": "48"})
    assert response.status == 422 and (await response.json())["errors"][0]["pointer"] == "/reason"
    response = await dispatcher.post(path, json={"quantity": "51", "reason": "多了"})
    assert response.status == 422 and (await response.json())["errors"][0]["pointer"] == "/quantity"
    response = await dispatcher.post(path, json={"quantity": "48", "reason": "途中破损 2 箱"})
    assert response.status == 201, await response.text()
    arrival = await response.json()
    assert response.headers["Location"] == f"/v1/stock-movements/{arrival['id']}"
    assert (arrival["kind"], arrival["quantity"], arrival["lost"], arrival["transfer_id"]) == (
        "arrival", "48", "2", transfer["id"])
    assert (await dispatcher.post(path, json={"quantity": "48", "reason": "again"})).status == 409
    now = await (await dispatcher.get(f"/v1/stock-movements/{transfer['id']}")).json()
    assert (now["status"], now["received"], now["lost"], now["arrival_id"]) == ("received", "48", "2", arrival["id"])

    origin, destination = await at(dispatcher, incident, warehouse), await at(dispatcher, incident, point)
    assert (origin["on_hand"], origin["in_transit_out"], origin["transferred_out"], origin["written_off"]) == (
        "50", "0", "48", "2")
    assert (destination["received"], destination["on_hand"]) == ("48", "48")
    [total] = (await stock(dispatcher, incident))["totals"]
    assert (total["received"], total["on_hand"], total["in_transit"], total["written_off"]) == ("100", "98", "0", "2")
    assert (await figures(conn, incident)).get(("goods_in_transit", "drinking_water|box")) is None
    types = [r["type"] for r in await conn.fetch(
        "select type from events where entity_type = 'stock_movement' order by id")]
    assert types == ["stock.transferred", "stock.received"]
    await no_differences(conn, incident)


async def test_distributions_count_the_people_they_reach(dispatcher, conn):
    incident, warehouse, _ = await stocked(dispatcher)
    shelter = await new_shelter(dispatcher, incident)
    for index in range(3):
        resident = await register(dispatcher, incident, index, household_id="H-7", household_size=4)
        assert (await dispatcher.post(f"/v1/residents/{resident['id']}/checkin",
                                      json={"shelter_id": shelter["id"]})).status == 200
    recipients = [
        ({"kind": "shelter_residents", "shelter_id": shelter["id"]}, 3),  # its occupancy now
        ({"kind": "household", "household_id": "H-7"}, 4),  # its registered size
        ({"kind": "household", "household_id": "H-9", "people_reached": 2}, 2),
        ({"kind": "resident", "resident_id": resident["id"]}, 1),
        ({"kind": "group", "people_reached": 120, "region": "320505"}, 120),
    ]
    for to, people in recipients:
        distribution = await moved(dispatcher, incident, water("5", warehouse, kind="distribution", to=to))
        assert distribution["people_reached"] == people, to
        assert distribution["to"]["kind"] == to["kind"]
    row = await at(dispatcher, incident, warehouse)
    assert (row["on_hand"], row["distributed"], row["people_reached"]) == ("75", "25", "130")
    tally = await figures(conn, incident)
    assert tally[("people_reached", "drinking_water|box")] == tally[("people_reached", "")] == 130
    assert tally[("goods_distributed", "drinking_water|box")] == 25
    report = await stock(dispatcher, incident)
    assert report["people_reached"] == "130" and report["totals"][0]["distributed"] == "25"
    for to, pointer in (({"kind": "household", "household_id": "H-404"}, "/to/people_reached"),
                        ({"kind": "resident", "resident_id": str(uuid.uuid4())}, "/to/resident_id"),
                        ({"kind": "shelter_residents", "shelter_id": str(uuid.uuid4())}, "/to/shelter_id"),
                        ({"kind": "crowd"}, "/to/kind"),
                        ({"kind": "group", "people_reached": 0}, "/to/people_reached")):
        response = await move(dispatcher, incident, water("1", warehouse, kind="distribution", to=to))
        assert response.status == 422, to
        assert (await response.json())["errors"][0]["pointer"] == pointer, to
    empty = await new_shelter(dispatcher, incident, name="空安置点")
    response = await move(dispatcher, incident, water("1", warehouse, kind="distribution",
                                                      to={"kind": "shelter_residents", "shelter_id": empty["id"]}))
    assert response.status == 409 and (await response.json())["occupancy"] == 0
    await no_differences(conn, incident)


async def test_asking_for_more_than_is_on_hand_is_a_409_naming_what_is(dispatcher, conn):
    incident, warehouse, point = await stocked(dispatcher, "10")
    for body in (water("10.5", warehouse, kind="write_off", reason="damaged"),
                 water("11", warehouse, kind="transfer", to=point),
                 water("3", point, kind="distribution", to={"kind": "group", "people_reached": 3})):
        response = await move(dispatcher, incident, body)
        assert response.status == 409, body
        problem = await response.json()
        assert problem["type"] == "/docs#problem-insufficient"
        assert problem["available"] == ("0" if body["from"] == point else "10")
    written = await moved(dispatcher, incident, water("10", warehouse, kind="write_off", reason="expired"))
    assert (written["kind"], written["reason"], written["status"]) == ("write_off", "expired", "done")
    assert (await at(dispatcher, incident, warehouse))["on_hand"] == "0"
    assert await conn.fetchval("select count(*) from stock_movements") == 1
    await no_differences(conn, incident)


async def test_reversals_restore_every_counter(dispatcher, conn):
    incident, warehouse, point = await stocked(dispatcher)
    start = (await figures(conn, incident), await at(dispatcher, incident, warehouse))
    group = {"kind": "group", "people_reached": 40}
    entries = [
        await moved(dispatcher, incident, water("10", warehouse, kind="distribution", to=group)),
        await moved(dispatcher, incident, water("5", warehouse, kind="write_off", reason="damaged")),
        await moved(dispatcher, incident, water("20", warehouse, kind="transfer", to=point)),  # still on its way
    ]
    received = await moved(dispatcher, incident, water("30", warehouse, kind="transfer", to=point))
    response = await dispatcher.post(f"/v1/stock-movements/{received['id']}/receive",
                                     json={"quantity": "29", "reason": "少一箱"})
    arrival = await response.json()
    assert (await dispatcher.post(f"/v1/stock-movements/{arrival['id']}/reverse", json={"reason": "x"})).status == 409
    for entry in [*entries, received]:
        response = await dispatcher.post(f"/v1/stock-movements/{entry['id']}/reverse", json={"reason": "录错"})
        assert response.status == 201, await response.text()
        reversal = await response.json()
        assert (reversal["kind"], reversal["reverses"], reversal["quantity"]) == ("reversal", entry["id"],
                                                                                 entry["quantity"])
        again = await dispatcher.post(f"/v1/stock-movements/{entry['id']}/reverse", json={"reason": "再来"})
        assert again.status == 409 and (await again.json())["state"] == "reversed"
        response = await dispatcher.post(f"/v1/stock-movements/{reversal['id']}/reverse", json={"reason": "x"})
        assert response.status == 409 and (await response.json())["state"] == "reversal"
    assert (await figures(conn, incident), await at(dispatcher, incident, warehouse)) == start
    destination = await at(dispatcher, incident, point)
    assert (destination["received"], destination["on_hand"]) == ("0", "0")
    shown = await (await dispatcher.get(f"/v1/stock-movements/{entries[2]['id']}")).json()
    assert shown["status"] == "reversed" and shown["reversed_by"] is not None
    response = await dispatcher.post(f"/v1/stock-movements/{entries[2]['id']}/receive", json={"quantity": "20"})
    assert response.status == 409  # a reversed transfer does not arrive
    await no_differences(conn, incident)


async def test_a_reversal_cannot_take_a_level_below_zero(dispatcher, conn):
    incident, warehouse, point = await stocked(dispatcher, "10")
    transfer = await moved(dispatcher, incident, water("10", warehouse, kind="transfer", to=point))
    await dispatcher.post(f"/v1/stock-movements/{transfer['id']}/receive", json={"quantity": "10"})
    await moved(dispatcher, incident, water("7", point, kind="distribution", to={"kind": "group", "people_reached": 7}))
    response = await dispatcher.post(f"/v1/stock-movements/{transfer['id']}/reverse", json={"reason": "录错"})
    assert response.status == 409 and (await response.json())["available"] == "3"
    donation = (await (await dispatcher.get(f"/v1/incidents/{incident}/donations")).json())["items"][0]
    response = await dispatcher.post(f"/v1/donations/{donation['id']}/reverse", json={"reason": "录错"})
    assert response.status == 409 and (await response.json())["available"] == "0"
    assert (await at(dispatcher, incident, point))["on_hand"] == "3"
    await no_differences(conn, incident)


async def test_a_goods_donation_reversed_leaves_its_location(dispatcher, conn):
    incident, warehouse, _ = await stocked(dispatcher, "10")
    donation = (await (await dispatcher.get(f"/v1/incidents/{incident}/donations")).json())["items"][0]
    response = await dispatcher.post(f"/v1/donations/{donation['id']}/reverse", json={"reason": "录错"})
    assert response.status == 201, await response.text()
    assert (await response.json())["site_id"] == warehouse["site_id"]
    row = await at(dispatcher, incident, warehouse)
    assert (row["received"], row["on_hand"]) == ("0", "0")
    await no_differences(conn, incident)


async def test_stock_low_is_emitted_once_per_crossing(dispatcher, viewer, conn):
    incident, warehouse, _ = await stocked(dispatcher, "30")
    path = f"/v1/sites/{warehouse['site_id']}/minimums"
    response = await dispatcher.put(path, json=[{"item": "drinking_water", "unit": "box", "minimum": "20"}])
    assert response.status == 200, await response.text()
    [level] = (await response.json())["levels"]
    assert (level["minimum"], level["low"]) == ("20", False)

    async def lows() -> int:
        return await conn.fetchval("select count(*) from events where type = 'stock.low'")

    write_off = water("5", warehouse, kind="write_off", reason="damaged")
    await moved(dispatcher, incident, write_off)  # 25
    assert await lows() == 0
    await moved(dispatcher, incident, write_off)  # 20: at the minimum, not below
    assert await lows() == 0
    await moved(dispatcher, incident, write_off)  # 15: below
    await moved(dispatcher, incident, write_off)  # 10: still below, no second event
    assert await lows() == 1
    event = await conn.fetchrow("select entity_type, entity_id, after from events where type = 'stock.low'")
    assert (event["entity_type"], str(event["entity_id"])) == ("stock_level", warehouse["site_id"])
    assert (event["after"]["on_hand"], event["after"]["minimum"], event["after"]["low"]) == ("15", "20", True)
    await donate(dispatcher, incident, {"kind": "goods", "item": "drinking_water", "unit": "box", "quantity": "15",
                                        **warehouse})  # 25: back above, re-armed
    assert (await at(dispatcher, incident, warehouse))["low"] is False
    await moved(dispatcher, incident, write_off)  # 20
    await moved(dispatcher, incident, write_off)  # 15: a second crossing
    assert await lows() == 2
    # Raising the minimum above what is held is a crossing too; setting it again is not.
    tents = [{"item": "tent", "unit": "piece", "minimum": "5"}]
    assert (await dispatcher.put(path, json=tents)).status == 200
    assert (await dispatcher.put(path, json=tents)).status == 200
    assert await lows() == 3
    levels = {r["item"]: r for r in (await stock(viewer, incident))["levels"]}
    assert (levels["drinking_water"]["minimum"], levels["drinking_water"]["low"]) == (None, False)  # cleared
    assert (levels["tent"]["on_hand"], levels["tent"]["low"]) == ("0", True)
    assert await conn.fetchval("select count(*) from events where type = 'stock.minimums_set'") == 2
    await no_differences(conn, incident)


async def test_minimums_are_checked_and_only_dispatchers_set_them(dispatcher, viewer):
    incident = await new_incident(dispatcher)
    shelter = await new_shelter(dispatcher, incident)
    path = f"/v1/shelters/{shelter['id']}/minimums"
    twice = [{"item": "tent", "unit": "piece", "minimum": "5"}, {"item": "tent", "unit": "piece", "minimum": "6"}]
    response = await dispatcher.put(path, json=twice)
    assert response.status == 422 and (await response.json())["errors"][0]["pointer"] == "/1"
    response = await dispatcher.put(path, json=[{"item": "tent", "unit": "piece", "minimum": "-1"}])
    assert response.status == 422 and (await response.json())["errors"][0]["pointer"] == "/0/minimum"
    assert (await viewer.put(path, json=[])).status == 403
    assert (await dispatcher.put(f"/v1/sites/{uuid.uuid4()}/minimums", json=[])).status == 404
    response = await dispatcher.put(path, json=[{"item": "tent", "unit": "piece", "minimum": 5}])
    assert response.status == 200
    [level] = (await response.json())["levels"]
    assert level["location"]["shelter_id"] == shelter["id"] and level["low"] is True


async def test_bodies_are_validated_with_pointers(dispatcher):
    incident, warehouse, point = await stocked(dispatcher)
    other = await new_incident(dispatcher)
    foreign = {"site_id": (await new_site(dispatcher, other))["id"]}
    cases = [
        (water("1", warehouse, kind="transfer", to=warehouse), "/to"),
        (water("1", {}, kind="transfer", to=point), "/from"),
        (water("1", {**warehouse, "shelter_id": str(uuid.uuid4())}, kind="write_off", reason="lost"), "/from"),
        (water("1", foreign, kind="write_off", reason="lost"), "/from/site_id"),
        (water("1", warehouse, kind="transfer", to=foreign), "/to/site_id"),
        (water("1", warehouse, kind="write_off", reason="stolen"), "/reason"),
        (water("0", warehouse, kind="write_off", reason="lost"), "/quantity"),
        (water("1", warehouse, kind="teleport"), "/kind"),
        ({"kind": "write_off", "item": "drinking_water", "unit": "box", "quantity": "1", "reason": "lost"}, "/from"),
    ]
    for body, pointer in cases:
        response = await move(dispatcher, incident, body)
        assert response.status == 422, (body, await response.text())
        assert (await response.json())["errors"][0]["pointer"] == pointer, body
    response = await dispatcher.post(f"/v1/incidents/{incident}/stock-movements",
                                     json=water("1", warehouse, kind="write_off", reason="lost"))
    assert response.status == 400  # no Idempotency-Key


async def test_a_movement_is_recorded_once_per_idempotency_key_and_chained(dispatcher, conn):
    incident, warehouse, _ = await stocked(dispatcher)
    body = water("4", warehouse, kind="write_off", reason="damaged")
    first = await move(dispatcher, incident, body, key="wo-1")
    again = await move(dispatcher, incident, body, key="wo-1")
    assert (first.status, again.status, again.headers.get("Idempotent-Replayed")) == (201, 201, "true")
    assert await first.json() == await again.json()
    assert (await move(dispatcher, incident, {**body, "quantity": "5"}, key="wo-1")).status == 422
    assert (await at(dispatcher, incident, warehouse))["on_hand"] == "96"
    kinds = [r["kind"] for r in await conn.fetch(
        "select kind from ledger_entries where incident_id = $1 order by position", uuid.UUID(incident))]
    assert kinds == ["donation", "stock_movement"]
    checked, mismatch = await chain.verify(conn, incident_id=uuid.UUID(incident))
    assert (checked, mismatch) == (2, None)


async def test_lists_filter_and_viewers_read(dispatcher, viewer, conn):
    incident, warehouse, point = await stocked(dispatcher)
    transfer = await moved(dispatcher, incident, water("10", warehouse, kind="transfer", to=point))
    written = await moved(dispatcher, incident, water("1", warehouse, kind="write_off", reason="lost"))
    base = f"/v1/incidents/{incident}/stock-movements"

    async def ids(query: str) -> list[str]:
        response = await viewer.get(f"{base}?{query}")
        assert response.status == 200, await response.text()
        return [m["id"] for m in (await response.json())["items"]]

    assert await ids("") == [written["id"], transfer["id"]]
    assert await ids("kind=transfer") == await ids("status=in_transit") == [transfer["id"]]
    assert await ids(f"site_id={point['site_id']}") == [transfer["id"]]
    assert await ids("limit=1") == [written["id"]]
    assert await ids("item=tent") == []
    assert (await viewer.get(f"{base}?colour=red")).status == 422
    assert (await viewer.get(f"/v1/stock-movements/{transfer['id']}")).status == 200
    assert (await viewer.get(f"/v1/stock-movements/{uuid.uuid4()}")).status == 404
    assert (await move(viewer, incident, water("1", warehouse, kind="write_off", reason="lost"))).status == 403
    assert (await viewer.post(f"/v1/stock-movements/{transfer['id']}/receive", json={"quantity": "1"})).status == 403
    levels = (await stock(viewer, incident))["levels"]
    assert {r["location"]["name"] for r in levels} == {"吴中区救灾物资仓库"}  # the point holds nothing yet
    filtered = await (await viewer.get(f"/v1/incidents/{incident}/stock?site_id={point['site_id']}")).json()
    assert filtered["levels"] == [] and filtered["totals"][0]["in_transit"] == "10"


async def test_reconcile_finds_a_level_changed_behind_the_services_back(dispatcher, conn):
    """The check can fail: a stored level that no longer follows from the rows is named."""
    incident, _, _ = await stocked(dispatcher)
    await no_differences(conn, incident)
    await conn.execute("update stock_levels set on_hand = on_hand - 1, distributed = distributed + 1")
    found = {d.counter for d in await summary.reconcile(conn, incident_id=uuid.UUID(incident))}
    assert found == {"stock.on_hand", "stock.distributed"}


async def test_moved_at_is_when_the_goods_moved_and_created_at_when_it_was_recorded(dispatcher, conn):
    incident, warehouse, point = await stocked(dispatcher)
    transfer = await moved(dispatcher, incident, water("50", warehouse, kind="transfer", to=point,
                                                       moved_at="2023-07-29T19:00:00+08:00"))
    assert transfer["moved_at"] == "2023-07-29T11:00:00Z" and transfer["created_at"] > "2024"
    path = f"/v1/stock-movements/{transfer['id']}/receive"
    early = await dispatcher.post(path, json={"quantity": "50", "moved_at": "2023-07-29T18:00:00+08:00"})
    assert early.status == 422 and (await early.json())["errors"][0]["pointer"] == "/moved_at"
    response = await dispatcher.post(path, json={"quantity": "50", "moved_at": "2023-07-29T20:30:00+08:00"})
    assert response.status == 201, await response.text()
    arrival = await response.json()
    assert arrival["moved_at"] == "2023-07-29T12:30:00Z"
    handed = await moved(dispatcher, incident, water("10", point, kind="distribution",
                                                     to={"kind": "group", "people_reached": 10},
                                                     moved_at="2023-07-30T08:00:00Z"))
    assert handed["moved_at"] == "2023-07-30T08:00:00Z"
    # Left out: moved when it is recorded (the same instant, to the microsecond).
    now = await moved(dispatcher, incident, water("1", warehouse, kind="write_off", reason="damaged"))
    assert now["moved_at"] == now["created_at"]
    # A reversal moves when it is recorded; the original keeps its time.
    response = await dispatcher.post(f"/v1/stock-movements/{handed['id']}/reverse", json={"reason": "录错"})
    reversal = await response.json()
    assert response.status == 201 and reversal["moved_at"] == reversal["created_at"] > "2024"
    original = await (await dispatcher.get(f"/v1/stock-movements/{handed['id']}")).json()
    assert original["moved_at"] == handed["moved_at"]
    listed = (await (await dispatcher.get(f"/v1/incidents/{incident}/stock-movements?kind=transfer")).json())["items"]
    assert [m["moved_at"] for m in listed] == ["2023-07-29T11:00:00Z"]
    # The events carry the read model; the chain verifies, and its encoding has no moved_at.
    after = await conn.fetchval("select after->>'moved_at' from events where type = 'stock.received'")
    assert after == "2023-07-29T12:30:00Z"
    assert "moved_at" not in chain.KINDS["stock_movement"].public + chain.KINDS["stock_movement"].digested
    assert (await chain.verify(conn, incident_id=uuid.UUID(incident)))[1] is None


async def test_moved_at_may_not_be_in_the_future(dispatcher, conn):
    incident, warehouse, point = await stocked(dispatcher)
    soon = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    assert (await move(dispatcher, incident, water("1", warehouse, kind="write_off", reason="damaged",
                                                   moved_at=soon))).status == 201  # a clock a little ahead
    for bad in ((datetime.now(UTC) + timedelta(hours=1)).isoformat(), "1899-12-31T00:00:00Z", "2023-07-30 09:30",
                1690680600):
        response = await move(dispatcher, incident, water("1", warehouse, kind="transfer", to=point, moved_at=bad))
        assert response.status == 422, (bad, await response.text())
        error, = (await response.json())["errors"]
        assert error["pointer"] == "/moved_at", error
    transfer = await moved(dispatcher, incident, water("1", warehouse, kind="transfer", to=point))
    ahead = await dispatcher.post(f"/v1/stock-movements/{transfer['id']}/receive",
                                  json={"quantity": "1", "moved_at": "2999-01-01T00:00:00Z"})
    assert ahead.status == 422 and (await ahead.json())["errors"][0]["pointer"] == "/moved_at"
    assert await conn.fetchval("select count(*) from stock_movements") == 2
