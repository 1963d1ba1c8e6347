"""A report's figures are exactly the writes whose events lie at or before its stream position, even
while pledges, donations and check-ins commit around it (issue 13's acceptance)."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest

from relief import events
from tests.conftest import Api, incident_body
from tests.pledge_world import goods_call, new_call, ok, pledge
from tests.test_shelters import new_shelter, register

WRITES = 50  # of each kind


async def counted(conn, incident_id: str, position: str) -> dict[str, int]:
    """The incident's events at or before `position`, by type."""
    txid, event_id = events.decode_position(position)
    rows = await conn.fetch(
        """
        select type, count(*) as n from events
         where incident_id = $1 and (txid, id) <= ($2::text::xid8, $3)
         group by type
        """,
        uuid.UUID(incident_id), str(txid), event_id,
    )
    return {r["type"]: r["n"] for r in rows}


@pytest.mark.parametrize("settings", [{"rate_limit_burst": 10_000}], indirect=True)
async def test_a_report_issued_during_concurrent_writes_counts_exactly_the_events_before_its_position(
    dispatcher: Api, organization, conn
):
    incident = (await ok(await dispatcher.post("/v1/incidents", json=incident_body()), 201))["id"]
    call = await new_call(dispatcher, incident, goods_call(quantity="1000"))
    shelter = await new_shelter(dispatcher, incident, capacity=500)
    people = [await register(dispatcher, incident, index) for index in range(WRITES)]
    await ok(await dispatcher.post(f"/v1/incidents/{incident}/sitreps", json={"kind": "initial"}), 201)

    done = 0
    progress = asyncio.Condition()
    # Eight writes in flight at any moment (the pool has ten connections), so a report asking for its
    # connection gets one among the writes instead of queueing behind all 150 of them.
    in_flight = asyncio.Semaphore(8)

    async def write(make):  # type: ignore[no-untyped-def]
        nonlocal done
        async with in_flight:
            response = await make()
        assert response.status in (200, 201), await response.text()
        async with progress:
            done += 1
            progress.notify_all()

    writes = [
        *(lambda: pledge(organization.api, call["id"], {"quantity": "1", "estimated_value": "10.00"})
          for _ in range(WRITES)),
        *(lambda: dispatcher.post(f"/v1/incidents/{incident}/donations", json={
            "kind": "money", "amount": "1.00", "channel": "cash"}, headers={"Idempotency-Key": str(uuid.uuid4())})
          for _ in range(WRITES)),
        *(lambda p=p: dispatcher.post(f"/v1/residents/{p['id']}/checkin", json={"shelter_id": shelter["id"]})
          for p in people),
    ]
    # Interleave the kinds, so every moment has all three in flight.
    writes = [w for triple in zip(writes[:WRITES], writes[WRITES:2 * WRITES], writes[2 * WRITES:], strict=True)
              for w in triple]

    async def report_after(count: int) -> dict:
        async with progress:
            await progress.wait_for(lambda: done >= count)
        return await ok(await dispatcher.post(f"/v1/incidents/{incident}/sitreps", json={"kind": "update"}), 201)

    results = await asyncio.gather(*(write(w) for w in writes), report_after(20), report_after(75), report_after(120))
    reports = results[-3:]
    assert sorted(r["number"] for r in reports) == [2, 3, 4]

    positions = []
    for report in reports:
        seen = await counted(conn, incident, report["position"])
        summary = report["figures"]["summary"]
        [item] = [g for g in summary["goods"]["items"] if g["item"] == "life_jacket"]
        money = {m["currency"]: Decimal(m["received"]) for m in summary["money"]}
        assert Decimal(item["pledged"]) == seen.get("pledge.created", 0), report["number"]
        assert money.get("CNY", Decimal(0)) == seen.get("donation.recorded", 0), report["number"]
        assert Decimal(summary["residents"]["sheltered_now"]) == seen.get("resident.sheltered", 0), report["number"]
        [shelter_now] = summary["shelters"]
        assert shelter_now["occupancy"] == seen.get("resident.sheltered", 0)
        assert seen.get("sitrep.issued", 0) == report["number"] - 1  # its own event comes after its position
        positions.append(sum(seen.get(t, 0) for t in ("pledge.created", "donation.recorded", "resident.sheltered")))
    # The reports saw the stream grow, and at least one landed among the writes, not after all of them.
    assert positions == sorted(positions)
    assert min(positions) < 3 * WRITES, positions
