"""Counters equal the ledger after a storm: 200 random operations at once, then reconcile finds nothing."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from decimal import Decimal

import pytest

from relief import summary
from relief.demo import load as load_demo
from tests.conftest import make_organization
from tests.test_summary import post


def resident_id(seed: int) -> str:
    """A PRC resident ID with a valid GB 11643 check character."""
    first17 = f"32050519{70 + seed % 30:02d}0101{seed % 1000:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return first17 + "10X98765432"[sum(int(c) * w for c, w in zip(first17, weights, strict=True)) % 11]



# Some 200 operations at once, most with the dispatcher's one key: over the default per-key burst of
# 100 on purpose, so the limit is raised for this storm.
@pytest.mark.parametrize("settings", [{"rate_limit_burst": 10_000}], indirect=True)
async def test_two_hundred_random_concurrent_operations_leave_no_difference(dispatcher, organization, conn, settings):
    """On top of the Doksuri demo: the storm moves its counters, and they still equal the rows."""
    rng = random.Random(20230728)
    demo = await load_demo(conn, secret=settings.secret_key.get_secret_value().encode())
    assert await summary.reconcile(conn, incident_id=demo.incident_id) == []
    other = await make_organization(dispatcher, conn, 1)
    orgs = [organization, other]
    incident = str(demo.incident_id)
    base = f"/v1/incidents/{incident}"
    calls = [
        await post(dispatcher, f"{base}/calls",
                   {"kind": "money", "title": "善款", "amount": "5000.00", "status": "open"}),
        await post(dispatcher, f"{base}/calls", {"kind": "goods", "title": "水", "item": "drinking_water",
                                                 "unit": "box", "quantity": "300", "status": "open"}),
        await post(dispatcher, f"{base}/calls", {"kind": "personnel", "title": "舟", "skill": "boat_rescue",
                                                 "headcount": 40, "status": "open"}),
    ]
    shelters = [
        await post(dispatcher, f"{base}/shelters", {"name": f"安置点{i}", "address": "苏州", "capacity": 25})
        for i in range(2)
    ]
    done: Counter[str] = Counter()  # operations that took effect, to show the storm did real work
    pledges: list[dict] = []
    residents: list[dict] = []
    donations: list[dict] = []

    async def pledge(org) -> None:
        call = rng.choice(calls)
        body = {"money": {"amount": f"{rng.randint(1, 900)}.{rng.randint(0, 99):02d}"},
                "goods": {"quantity": str(rng.randint(1, 40)), "estimated_value": f"{rng.randint(10, 999)}.00"},
                "personnel": {"headcount": rng.randint(1, 6), "lead": {"name": "李", "phone": "13700000000"}}}
        response = await org.api.post(f"/v1/calls/{call['id']}/pledges", json=body[call["kind"]],
                                      headers={"Idempotency-Key": str(uuid.uuid4())})
        if response.status == 201:
            pledges.append(await response.json())
            done["pledge"] += 1

    async def move_pledge() -> None:
        if not pledges:
            return
        p = rng.choice(pledges)
        owner = next(o for o in orgs if o.id == p["organization_id"])
        action, api, body = rng.choice([
            ("accept", dispatcher, None), ("reject", dispatcher, {"reason": "不需要"}), ("withdraw", owner.api, None),
            ("dispatch", owner.api, None), ("deliver", dispatcher, None),
            ("deliver", dispatcher, {"quantity": "1"} if p["kind"] != "money" else {"quantity": "0.50"}),
        ])
        if (await api.post(f"/v1/pledges/{p['id']}/{action}", json=body)).status == 200:
            done[action] += 1

    async def donate() -> None:
        body = rng.choice([
            {"kind": "money", "amount": f"{rng.randint(1, 5000)}.{rng.randint(0, 99):02d}",
             "donor": rng.choice([{"name": "张三"}, {"anonymous": True}, {"organization_id": organization.id}])},
            {"kind": "goods", "item": "quilt", "unit": "piece", "quantity": str(rng.randint(1, 50)),
             "estimated_value": f"{rng.randint(50, 5000)}.00"},
        ])
        response = await dispatcher.post(f"{base}/donations", json=body,
                                         headers={"Idempotency-Key": str(uuid.uuid4())})
        if response.status == 201:
            donations.append(await response.json())
            done["donate"] += 1

    async def receive_pledge() -> None:
        """A donation against a pledge: its delivery and its receipt in one act (reversible later)."""
        candidates = [p for p in pledges if p["kind"] != "personnel"]
        if not candidates:
            return
        p = rng.choice(candidates)
        body = {"kind": p["kind"], "pledge_id": p["id"]}
        if p["kind"] == "money":
            body["amount"] = p["amount"]
        else:
            body |= {"item": "drinking_water", "unit": "box", "quantity": p["quantity"]}
        response = await dispatcher.post(f"{base}/donations", json=body,
                                         headers={"Idempotency-Key": str(uuid.uuid4())})
        if response.status == 201:
            donations.append(await response.json())
            done["receive"] += 1

    async def reverse() -> None:
        if donations:
            response = await dispatcher.post(f"/v1/donations/{rng.choice(donations)['id']}/reverse",
                                             json={"reason": "录错"})
            done["reverse"] += response.status == 201

    async def register() -> None:
        seed = rng.randint(0, 10_000)
        response = await dispatcher.post(f"{base}/residents", json={
            "name": f"居民{seed}", "id_type": "resident_id", "id_number": resident_id(seed),
            "phone": f"139{seed:08d}", "origin_region": "320505", "assisted_by": rng.choice(orgs).id,
        })
        if response.status in (200, 201):
            residents.append(await response.json())
            done["register"] += 1

    async def shelter_resident() -> None:
        if not residents:
            return
        r = rng.choice(residents)
        status = (await (await dispatcher.get(f"/v1/residents/{r['id']}")).json())["status"]
        action = {"registered": "checkin", "sheltered": rng.choice(["move", "return"])}.get(status)
        if action is None:
            return
        body = {"shelter_id": rng.choice(shelters)["id"]} if action != "return" else None
        response = await dispatcher.post(f"/v1/residents/{r['id']}/{action}", json=body)
        done[action] += response.status == 200  # read after the await: += around an await loses updates

    async def evacuate() -> None:
        placement = rng.choice(["centralized", "dispersed"])
        body = {"count": rng.randint(1, 8), "from_region": "320506", "placement": placement,
                "assisted_by": rng.choice(orgs).id}
        if placement == "centralized":
            body["shelter_id"] = rng.choice(shelters)["id"]
        response = await dispatcher.post(f"{base}/evacuations", json=body)
        done["evacuate"] += response.status == 201

    async def offer() -> None:
        org = rng.choice(orgs)
        response = await org.api.post(f"{base}/offers", json={"kind": "goods", "item": "tent", "unit": "piece",
                                                              "quantity": str(rng.randint(1, 20)), "region": "320505"})
        done["offer"] += response.status == 201

    # Some of everything first, so that the storm has pledges, donations and residents to act on.
    await asyncio.gather(*(pledge(rng.choice(orgs)) for _ in range(10)), *(donate() for _ in range(5)),
                         *(register() for _ in range(5)))
    for p in pledges[:8]:  # accepted pledges, so that the storm has deliveries and receipts to make
        await dispatcher.post(f"/v1/pledges/{p['id']}/accept")
    operations = [pledge(rng.choice(orgs)) for _ in range(35)] + [move_pledge() for _ in range(55)]
    operations += [receive_pledge() for _ in range(15)]
    operations += [donate() for _ in range(25)] + [reverse() for _ in range(10)] + [register() for _ in range(20)]
    operations += [shelter_resident() for _ in range(20)] + [evacuate() for _ in range(15)]
    operations += [offer() for _ in range(5)]
    rng.shuffle(operations)
    assert len(operations) == 200
    await asyncio.gather(*operations)

    assert await summary.reconcile(conn, incident_id=uuid.UUID(incident)) == []
    for operation in ("pledge", "donate", "reverse", "register", "checkin", "evacuate", "offer"):
        assert done[operation] > 0, done
    assert done["deliver"] + done["receive"] > 0, done
    figures = await (await dispatcher.get(f"{base}/summary")).json()
    assert all(s["occupancy"] <= s["capacity"] for s in figures["shelters"])
    assert figures["organizations_participating"] == 22  # the demo's 20 and this test's two
    [cny] = [m for m in figures["money"] if m["currency"] == "CNY"]
    assert Decimal(cny["received"]) > Decimal("5700000")  # the demo's receipts, plus the storm's net
