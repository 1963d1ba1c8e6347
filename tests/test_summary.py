"""The incident summary, reconcile, and the public transparency figures."""

from __future__ import annotations

import uuid
from decimal import Decimal

from relief import summary
from tests.conftest import RELIEF_BIN, Api, incident_body, make_organization, relief_env


async def post(api: Api, path: str, body: dict | None = None, *, key: bool = False) -> dict:
    headers = {"Idempotency-Key": str(uuid.uuid4())} if key else None
    response = await api.post(path, json=body if body is not None else {}, headers=headers)
    assert response.status in (200, 201), f"{path}: {await response.text()}"
    return await response.json()


async def scenario(dispatcher: Api, organization, conn) -> str:
    """Money and goods pledged, delivered, donated and reversed, by two organizations and a person."""
    other = await make_organization(dispatcher, conn, 1)
    incident = (await post(dispatcher, "/v1/incidents", incident_body()))["id"]
    money = await post(dispatcher, f"/v1/incidents/{incident}/calls",
                       {"kind": "money", "title": "善款", "amount": "1000000.00", "status": "open"})
    tents = await post(dispatcher, f"/v1/incidents/{incident}/calls",
                       {"kind": "goods", "title": "帐篷", "item": "tent", "unit": "piece", "quantity": "100",
                        "status": "open"})
    boats = await post(dispatcher, f"/v1/incidents/{incident}/calls",
                       {"kind": "personnel", "title": "冲锋舟", "skill": "boat_rescue", "headcount": 30,
                        "status": "open"})
    await post(dispatcher, f"/v1/incidents/{incident}/calls", {"kind": "goods", "title": "草稿", "item": "quilt",
                                                                "unit": "piece", "quantity": "5"})  # a draft
    p1 = await post(organization.api, f"/v1/calls/{money['id']}/pledges", {"amount": "300000.00"}, key=True)
    p2 = await post(other.api, f"/v1/calls/{money['id']}/pledges", {"amount": "0.30"}, key=True)
    p3 = await post(organization.api, f"/v1/calls/{tents['id']}/pledges",
                    {"quantity": "40", "estimated_value": "48000.00"}, key=True)
    p4 = await post(other.api, f"/v1/calls/{tents['id']}/pledges",
                    {"quantity": "10", "estimated_value": "12000.00"}, key=True)
    await post(organization.api, f"/v1/calls/{boats['id']}/pledges",
               {"headcount": 12, "lead": {"name": "李", "phone": "13800000000"}}, key=True)
    for pledge in (p1, p3):
        await post(dispatcher, f"/v1/pledges/{pledge['id']}/accept")
    await post(other.api, f"/v1/pledges/{p2['id']}/withdraw")
    await post(organization.api, f"/v1/pledges/{p3['id']}/dispatch")
    await post(dispatcher, f"/v1/pledges/{p3['id']}/deliver", {"quantity": "30"})
    received = await post(dispatcher, f"/v1/incidents/{incident}/donations",
                          {"kind": "money", "amount": "300000.00", "pledge_id": p1["id"]}, key=True)
    await post(dispatcher, f"/v1/incidents/{incident}/donations",
               {"kind": "money", "amount": "5000.50", "donor": {"name": "王女士"}}, key=True)
    await post(dispatcher, f"/v1/incidents/{incident}/donations", {"kind": "money", "amount": "70.00"}, key=True)
    await post(dispatcher, f"/v1/donations/{received['id']}/reverse", {"reason": "bank returned it"})
    await post(dispatcher, f"/v1/incidents/{incident}/donations",
               {"kind": "money", "amount": "300000.00", "pledge_id": p1["id"]}, key=True)
    await post(dispatcher, f"/v1/pledges/{p4['id']}/reject", {"reason": "duplicate"})
    return incident


async def test_summary_figures_come_out_exact(dispatcher, organization, conn):
    incident = await scenario(dispatcher, organization, conn)
    figures = await (await dispatcher.get(f"/v1/incidents/{incident}/summary")).json()
    assert figures["organizations_participating"] == 2
    assert figures["money"] == [{"currency": "CNY", "pledged": "300000.00", "received": "305070.50"}]
    assert figures["goods"]["value_pledged"] == "48000.00"  # p4 was rejected
    assert figures["goods"]["value_received"] == {"CNY": "36000.00"}  # 30 of 40 tents, pro rata
    assert figures["goods"]["items"] == [{"item": "tent", "unit": "piece", "pledged": "30", "received": "30"}]
    assert figures["personnel"] == {"pledged": "12", "delivered": "0"}
    assert figures["calls_by_status"] == {"open": 3}
    coverage = {c["title"]: c["coverage"] for c in figures["calls"]}
    assert coverage == {"善款": "0.3000", "帐篷": "0.3000", "冲锋舟": "0.0000"}
    assert await summary.reconcile(conn, incident_id=uuid.UUID(incident)) == []


async def test_reconcile_finds_a_tampered_counter(dispatcher, organization, conn, database_url):
    import asyncio

    incident = await scenario(dispatcher, organization, conn)
    await conn.execute(
        "update incident_counters set value = value + 1 where incident_id = $1 and name = 'money_received'",
        uuid.UUID(incident),
    )
    await conn.execute("update calls set delivered = delivered + 1 where incident_id = $1 and title = '帐篷'",
                       uuid.UUID(incident))
    differences = await summary.reconcile(conn, incident_id=uuid.UUID(incident))
    assert {(d.counter, d.stored - d.recomputed) for d in differences} == {
        ("money_received", Decimal(1)), ("call.delivered", Decimal(1))}

    process = await asyncio.create_subprocess_exec(
        RELIEF_BIN, "reconcile", "--incident", incident, env=relief_env(database_url),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    assert process.returncode == 1
    assert "money_received[CNY]" in out.decode() and "2 difference(s)" in out.decode()


async def test_reconcile_command_is_quiet_when_all_agree(dispatcher, organization, conn, database_url):
    import asyncio

    await scenario(dispatcher, organization, conn)
    process = await asyncio.create_subprocess_exec(
        RELIEF_BIN, "reconcile", env=relief_env(database_url),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    assert process.returncode == 0, out
    assert "1 incident(s) checked, 0 difference(s)" in out.decode()


async def test_public_figures_need_no_key_and_name_no_person(dispatcher, organization, conn, anonymous):
    incident = await scenario(dispatcher, organization, conn)
    response = await anonymous.get(f"/v1/public/incidents/{incident}")
    assert response.status == 200
    assert response.headers["Cache-Control"].startswith("public")
    text = await response.text()
    public = await response.json()
    assert public["organizations"] == sorted(["苏州蓝天救援队 0", "苏州蓝天救援队 1"])
    assert public["money"] == [{"currency": "CNY", "pledged": "300000.00", "received": "305070.50"}]
    for secret in ("王女士", "13800000000", "13912345678", "王队长", "李", "credit_code", "contact"):
        assert secret not in text
    again = await anonymous.get(f"/v1/public/incidents/{incident}",
                                headers={"If-None-Match": response.headers["ETag"]})
    assert again.status == 304
    assert (await anonymous.get(f"/v1/public/incidents/{uuid.uuid4()}")).status == 404
