"""Stock under a surge: never below zero, nothing counted twice, and the counters still equal the rows."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from decimal import Decimal

import pytest

from relief import summary
from tests.test_sites import donate, new_incident, new_shelter, new_site
from tests.test_stock import at, move, moved, stocked, water

# Hundreds of requests from one key: over the default per-key burst (100) on purpose.
SURGE = {"rate_limit_burst": 10_000, "rate_limit_per_second": 10_000}



@pytest.mark.parametrize("settings", [SURGE], indirect=True)
async def test_300_concurrent_distributions_from_100_on_hand(dispatcher, conn):
    incident, warehouse, _ = await stocked(dispatcher, "100")
    body = water("1", warehouse, kind="distribution", to={"kind": "group", "people_reached": 1})
    responses = await asyncio.gather(*(move(dispatcher, incident, body) for _ in range(300)))
    assert Counter(r.status for r in responses) == {201: 100, 409: 200}
    refused = [await r.json() for r in responses if r.status == 409]
    assert {(p["type"], p["available"]) for p in refused} == {("/docs#problem-insufficient", "0")}
    row = await at(dispatcher, incident, warehouse)
    assert (row["on_hand"], row["distributed"], row["people_reached"]) == ("0", "100", "100")
    assert await conn.fetchval("select count(*) from stock_movements where kind = 'distribution'") == 100
    assert await conn.fetchval("select count(*) from events where type = 'stock.distributed'") == 100
    assert await conn.fetchval("select min(on_hand) from stock_levels") == 0
    assert await summary.reconcile(conn, incident_id=uuid.UUID(incident)) == []


@pytest.mark.parametrize("settings", [SURGE], indirect=True)
async def test_receiving_and_reversing_one_transfer_at_once_lets_exactly_one_win(dispatcher, conn):
    incident, warehouse, point = await stocked(dispatcher, "100")
    transfers = [await moved(dispatcher, incident, water("5", warehouse, kind="transfer", to=point))
                 for _ in range(10)]

    async def race(transfer: dict) -> list[int]:
        path = f"/v1/stock-movements/{transfer['id']}"
        responses = await asyncio.gather(dispatcher.post(f"{path}/receive", json={"quantity": "5"}),
                                         dispatcher.post(f"{path}/reverse", json={"reason": "录错"}),
                                         dispatcher.post(f"{path}/receive", json={"quantity": "5"}))
        return sorted(r.status for r in responses)

    outcomes = await asyncio.gather(*(race(t) for t in transfers))
    # Receive first: the reversal then takes the arrival back too (201), the second receive is refused;
    # reverse first: both receives are refused.
    assert all(o in ([201, 201, 409], [201, 409, 409]) for o in outcomes), outcomes
    assert await summary.reconcile(conn, incident_id=uuid.UUID(incident)) == []
    assert (await at(dispatcher, incident, warehouse))["in_transit_out"] == "0"


@pytest.mark.parametrize("settings", [SURGE], indirect=True)
async def test_transfers_both_ways_arrive_at_once_without_deadlock(dispatcher, conn):
    incident, east, west = await stocked(dispatcher, "100")
    await donate(dispatcher, incident, {"kind": "goods", "item": "drinking_water", "unit": "box", "quantity": "100",
                                        **west})
    both = [await moved(dispatcher, incident, water("3", a, kind="transfer", to=b))
            for a, b in [(east, west), (west, east)] * 15]
    responses = await asyncio.gather(*(dispatcher.post(f"/v1/stock-movements/{t['id']}/receive",
                                                       json={"quantity": "2", "reason": "破损"}) for t in both))
    assert {r.status for r in responses} == {201}
    for side in (east, west):
        row = await at(dispatcher, incident, side)
        assert (row["on_hand"], row["written_off"], row["in_transit_out"]) == ("85", "15", "0")
    assert await summary.reconcile(conn, incident_id=uuid.UUID(incident)) == []


@pytest.mark.parametrize("settings", [SURGE], indirect=True)
async def test_random_concurrent_stock_operations_leave_no_difference(dispatcher, conn):
    rng = random.Random(20230728)
    incident = await new_incident(dispatcher)
    places = [{"site_id": (await new_site(dispatcher, incident, name=f"仓库{i}"))["id"]} for i in range(3)]
    shelter = await new_shelter(dispatcher, incident, capacity=50)
    places.append({"shelter_id": shelter["id"]})
    await dispatcher.post(f"/v1/incidents/{incident}/evacuations", json={
        "count": 12, "from_region": "320506", "placement": "centralized", "shelter_id": shelter["id"]})
    items = [("drinking_water", "box"), ("quilt", "piece")]
    done: Counter[str] = Counter()
    donations: list[dict] = []
    movements: list[dict] = []

    async def give() -> None:
        item, unit = rng.choice(items)
        response = await donate(dispatcher, incident, {"kind": "goods", "item": item, "unit": unit,
                                                       "quantity": str(rng.randint(5, 40)), **rng.choice(places)})
        if response.status == 201:
            donations.append(await response.json())
            done["donate"] += 1

    async def take_back() -> None:
        if donations:
            response = await dispatcher.post(f"/v1/donations/{rng.choice(donations)['id']}/reverse",
                                             json={"reason": "录错"})
            done["donation_reversed" if response.status == 201 else "refused"] += 1

    async def record(kind: str) -> None:
        item, unit = rng.choice(items)
        origin = rng.choice(places)
        body = {"kind": kind, "item": item, "unit": unit, "quantity": f"{rng.randint(1, 15)}.{rng.randint(0, 9)}",
                "from": origin}
        if kind == "transfer":
            body["to"] = rng.choice([p for p in places if p != origin])
        elif kind == "distribution":
            body["to"] = rng.choice([{"kind": "group", "people_reached": rng.randint(1, 30)},
                                     {"kind": "shelter_residents", "shelter_id": shelter["id"]},
                                     {"kind": "household", "household_id": "H-1", "people_reached": 3}])
        else:
            body["reason"] = rng.choice(["damaged", "expired", "lost"])
        response = await move(dispatcher, incident, body)
        if response.status == 201:
            movements.append(await response.json())
        done[kind if response.status == 201 else "refused"] += 1

    async def receive() -> None:
        transfers = [m for m in movements if m["kind"] == "transfer"]
        if transfers:
            transfer = rng.choice(transfers)
            arrived = Decimal(transfer["quantity"]) - rng.choice([0, 0, 1])
            response = await dispatcher.post(f"/v1/stock-movements/{transfer['id']}/receive",
                                             json={"quantity": str(max(arrived, 0)), "reason": "途中损耗"})
            done["received" if response.status == 201 else "refused"] += 1

    async def reverse() -> None:
        if movements:
            response = await dispatcher.post(f"/v1/stock-movements/{rng.choice(movements)['id']}/reverse",
                                             json={"reason": "录错"})
            done["reversed" if response.status == 201 else "refused"] += 1

    async def minimums() -> None:
        place = rng.choice(places)
        path = f"/v1/sites/{place['site_id']}" if "site_id" in place else f"/v1/shelters/{place['shelter_id']}"
        item, unit = rng.choice(items)
        response = await dispatcher.put(f"{path}/minimums", json=[{"item": item, "unit": unit,
                                                                   "minimum": str(rng.randint(0, 30))}])
        done["minimums" if response.status == 200 else "refused"] += 1

    # Some of everything first, so that the storm has transfers to receive and movements to reverse.
    await asyncio.gather(*(give() for _ in range(20)))
    for kind in ["transfer"] * 12 + ["distribution"] * 4 + ["write_off"] * 2:
        await record(kind)
    operations = [give() for _ in range(20)] + [take_back() for _ in range(10)]
    operations += [record("transfer") for _ in range(40)] + [record("distribution") for _ in range(40)]
    operations += [record("write_off") for _ in range(20)] + [receive() for _ in range(35)]
    operations += [reverse() for _ in range(25)] + [minimums() for _ in range(10)]
    rng.shuffle(operations)
    assert len(operations) == 200
    await asyncio.gather(*operations)

    assert await summary.reconcile(conn, incident_id=uuid.UUID(incident)) == []
    for kind in ("donate", "transfer", "distribution", "write_off", "received", "reversed", "minimums", "refused"):
        assert done[kind] > 0, done
    assert await conn.fetchval("select count(*) from stock_levels where on_hand < 0") == 0
    lows = await conn.fetchval("select count(*) from events where type = 'stock.low'")
    assert lows >= await conn.fetchval("select count(*) from stock_levels where low")
