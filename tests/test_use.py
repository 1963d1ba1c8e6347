"""The public use report: equal to the summary, exact under a storm over the demo, exported as HXL."""

from __future__ import annotations

import asyncio
import io
import json
import random
import uuid
from collections import Counter
from decimal import Decimal

import hxl
import pytest

from relief import chain, demo, exports, summary
from tests.conftest import Api
from tests.test_disbursements import donate as give_money
from tests.test_disbursements import payment, propose, proposed, second_dispatcher
from tests.test_exports import HXL_CORE, total
from tests.test_sites import donate, new_incident, new_shelter, new_site
from tests.test_stock import move, moved, water

SECRET = b"test secret for the use report"
SURGE = {"rate_limit_burst": 10_000, "rate_limit_per_second": 10_000}



async def _use(anonymous: Api, incident: str) -> dict:
    response = await anonymous.get(f"/v1/public/incidents/{incident}/use")
    assert response.status == 200, await response.text()
    return await response.json()


async def _same_as_summary(dispatcher: Api, anonymous: Api, incident: str) -> dict:
    report = await _use(anonymous, incident)
    figures = await (await dispatcher.get(f"/v1/incidents/{incident}/summary")).json()
    assert {k: report[k] for k in ("money", "goods", "people_reached")} == figures["use"]
    return report


async def _world(dispatcher: Api, approver: Api, incident: str, organization) -> dict:
    """A warehouse, a shelter, goods moved and given out, money earmarked and paid."""
    warehouse = {"site_id": (await new_site(dispatcher, incident, name="吴中区应急物资仓库"))["id"]}
    shelter = await new_shelter(dispatcher, incident, capacity=100)
    goods = {"kind": "goods", "item": "drinking_water", "unit": "box", "quantity": "200", "donor": {"name": "王女士"}}
    assert (await donate(dispatcher, incident, {**goods, **warehouse})).status == 201
    transfer = await moved(dispatcher, incident, water("50", warehouse, kind="transfer",
                                                       to={"shelter_id": shelter["id"]}))
    arrived = await dispatcher.post(f"/v1/stock-movements/{transfer['id']}/receive",
                                    json={"quantity": "48", "reason": "途中破损"})
    assert arrived.status == 201, await arrived.text()
    await moved(dispatcher, incident, water("30", {"shelter_id": shelter["id"]}, kind="distribution",
                                            to={"kind": "group", "people_reached": 60, "region": "320506"}))
    await moved(dispatcher, incident, water("5", warehouse, kind="write_off", reason="expired"))
    await give_money(dispatcher, incident, "10000.00", donor={"name": "李先生"})
    await give_money(dispatcher, incident, "3000.00", earmark={"purpose": "medical", "region": "3205"})
    paid = [
        await proposed(dispatcher, incident, payment("2500.00", region="320505")),
        await proposed(dispatcher, incident, payment("1200.00", purpose="medical", region="320506",
                                                     fund={"purpose": "medical", "region": "3205"},
                                                     recipient={"organization_id": organization.id})),
    ]
    for d in paid:
        response = await approver.post(f"/v1/disbursements/{d['id']}/approve")
        assert response.status == 200, await response.text()
    await proposed(dispatcher, incident, payment("99.00"))  # pending: not paid
    return {"warehouse": warehouse, "shelter": shelter}


async def test_the_use_report_equals_the_summary_and_names_no_person(dispatcher, anonymous, organization, conn):
    incident = await new_incident(dispatcher)
    approver = await second_dispatcher(dispatcher, conn)
    await _world(dispatcher, approver, incident, organization)
    report = await _same_as_summary(dispatcher, anonymous, incident)

    cny = {m["currency"]: m for m in report["money"]}["CNY"]
    assert (cny["received"], cny["paid"], cny["balance"]) == ("13000.00", "3700.00", "9300.00")
    assert cny["paid_by_purpose"] == {"emergency_living_aid": "2500.00", "medical": "1200.00"}
    funds = {(f["purpose"], f["region"]): f for f in cny["funds"]}
    assert funds[("medical", "3205")]["balance"] == "1800.00" and funds[(None, None)]["balance"] == "7500.00"
    water_use = {g["item"]: g for g in report["goods"]}["drinking_water"]
    assert {k: Decimal(water_use[k]) for k in ("received", "distributed", "written_off", "in_transit", "on_hand")} == {
        "received": 200, "distributed": 30, "written_off": 7, "in_transit": 0, "on_hand": 163}
    assert Decimal(report["people_reached"]) == 60
    assert organization.body["name"] in report["organizations"]
    # 3 donations, 4 movements (transfer, arrival, distribution, write-off), 2 payments.
    assert report["ledger"]["entries"] == 9
    text = json.dumps(report, ensure_ascii=False)
    assert "王女士" not in text and "李先生" not in text


async def test_stock_and_disbursement_exports_parse_as_hxl_and_total_the_report(
    dispatcher, viewer, anonymous, organization, conn
):
    incident = await new_incident(dispatcher)
    await _world(dispatcher, await second_dispatcher(dispatcher, conn), incident, organization)
    report = await _use(anonymous, incident)
    core = HXL_CORE | {"#reached", "#sector"}  # both in the HXL dictionary
    datasets = {}
    for name in ("stock-movements", "disbursements"):
        response = await viewer.get(f"/v1/incidents/{incident}/exports/{name}.csv")
        assert response.status == 200, await response.text()
        raw = await response.read()
        dataset = hxl.data(io.BytesIO(raw))
        assert [c.display_tag for c in dataset.columns] == exports.EXPORTS[name].hashtags
        assert {c.tag for c in dataset.columns} <= core
        assert hxl.validation.schema().validate(hxl.data(io.BytesIO(raw))), name
        datasets[name] = [dict(zip(exports.EXPORTS[name].headers, row.values, strict=True)) for row in dataset]
    paid = total(datasets["disbursements"], "Amount", key="Currency", where=lambda r: r["Status"] == "approved")
    assert paid == {m["currency"]: Decimal(m["paid"]) for m in report["money"]}
    distributed = total(datasets["stock-movements"], "Quantity", key="Item",
                        where=lambda r: r["Kind"] == "distribution")
    assert distributed == {g["item"]: Decimal(g["distributed"]) for g in report["goods"] if Decimal(g["distributed"])}
    assert "王女士" not in json.dumps(datasets, ensure_ascii=False)


@pytest.mark.parametrize("settings", [SURGE], indirect=True)
async def test_the_demo_and_200_random_stock_and_money_operations_reconcile(client, anonymous, conn):
    loaded = await demo.load(conn, secret=SECRET)
    incident = str(loaded.incident_id)
    dispatcher = Api(client, loaded.dispatcher_key)
    approver = await second_dispatcher(dispatcher, conn)
    rng = random.Random(20230731)
    places = [{"site_id": (await new_site(dispatcher, incident, name=f"风暴仓库{i}"))["id"]} for i in range(2)]
    shelter = await new_shelter(dispatcher, incident, capacity=80)
    places.append({"shelter_id": shelter["id"]})
    for place in places:
        assert (await donate(dispatcher, incident, {"kind": "goods", "item": "quilt", "unit": "piece",
                                                    "quantity": "200", **place})).status == 201
    movements: list[dict] = []
    proposals: list[dict] = []
    done: Counter[str] = Counter()

    async def goods() -> None:
        origin = rng.choice(places)
        kind = rng.choice(["transfer", "distribution", "write_off"])
        body = {"kind": kind, "item": "quilt", "unit": "piece", "quantity": str(rng.randint(1, 12)), "from": origin}
        if kind == "transfer":
            body["to"] = rng.choice([p for p in places if p != origin])
        elif kind == "distribution":
            body["to"] = {"kind": "group", "people_reached": rng.randint(1, 20), "region": "320506"}
        else:
            body["reason"] = "damaged"
        response = await move(dispatcher, incident, body)
        if response.status == 201:
            movements.append(await response.json())
        done[f"{kind} {response.status}"] += 1

    async def arrive_or_undo() -> None:
        if not movements:
            done["nothing to follow up yet"] += 1
        else:
            m = rng.choice(movements)
            if m["kind"] == "transfer" and rng.random() < 0.7:
                response = await dispatcher.post(f"/v1/stock-movements/{m['id']}/receive",
                                                 json={"quantity": m["quantity"]})
            else:
                response = await dispatcher.post(f"/v1/stock-movements/{m['id']}/reverse", json={"reason": "录错"})
            done[f"follow-up {response.status}"] += 1

    async def money() -> None:
        roll = rng.random()
        if roll < 0.3:
            await give_money(dispatcher, incident, f"{rng.randint(100, 5000)}.00")
            done["donation"] += 1
        elif roll < 0.7 or not proposals:
            response = await propose(dispatcher, incident, payment(f"{rng.randint(100, 20000)}.00", region="320505"))
            if response.status == 201:
                proposals.append(await response.json())
            done[f"propose {response.status}"] += 1
        else:
            d = rng.choice(proposals)
            response = await approver.post(f"/v1/disbursements/{d['id']}/approve")
            done[f"approve {response.status}"] += 1

    # Two waves of 100 at once each: the second also receives and reverses what the first moved.
    await asyncio.gather(*(rng.choice([goods, goods, money])() for _ in range(100)))
    await asyncio.gather(*(rng.choice([goods, arrive_or_undo, arrive_or_undo, money])() for _ in range(100)))
    assert sum(done.values()) == 200
    assert not [k for k in done if k.endswith(" 500")], done
    for kind in ("transfer 201", "distribution 201", "write_off 201", "follow-up 201", "propose 201", "approve 200"):
        assert done[kind] > 0, done  # the storm did each kind of thing, not only refusals

    assert await summary.reconcile(conn, incident_id=loaded.incident_id) == []
    checked, mismatch = await chain.verify(conn, incident_id=loaded.incident_id)
    assert mismatch is None and checked == await conn.fetchval(
        "select entries from ledger_chains where incident_id = $1", loaded.incident_id)
    report = await _same_as_summary(dispatcher, anonymous, incident)
    quilt = {g["item"]: g for g in report["goods"]}["quilt"]
    assert Decimal(quilt["on_hand"]) >= 0
    assert uuid.UUID(report["incident_id"]) == loaded.incident_id
