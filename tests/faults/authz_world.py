"""The authorization matrix's world: the resources every principal meets, and a valid body per operation.

Organizations A and B, C suspended after making its pledge and webhook, and the bureau; see
test_authorization.py for how each principal gets a world of its own.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from models.codes import credit_code_check_character
from models.residents import resident_id_check_character
from relief.app_keys import POOL
from tests.conftest import Api, incident_body, organization_body

# Receivers are never reached: no worker runs in this test (worker_in_process=False).
HOOK_URL = "http://127.0.0.1:9/hook"
POLYGON = "31.30,120.50 31.40,120.60 31.20,120.70 31.30,120.50"
# Organizations as principals, and whose resources fill their paths; the bureau's keys get A's, or the
# bureau's own webhook (and its deliveries), which is what a dispatcher changes.
OWNER = {"own": "A", "other": "B", "suspended": "C"}
CALLER = {"own": "A", "other": "A", "suspended": "C"}  # whose key each organization principal holds
OWNERS = ("A", "B", "C", "bureau")
# The resource a path's {id} names, by the path's first segment after /v1/.
KINDS = {
    "keys": "key", "organizations": "organization", "incidents": "incident", "public": "incident",
    "calls": "call", "pledges": "pledge", "donations": "donation", "shelters": "shelter",
    "residents": "resident", "webhooks": "webhook", "deliveries": "delivery", "alerts": "alert",
    "disbursements": "disbursement", "sites": "site", "stock-movements": "stock_movement",
    "tasks": "task", "assignments": "assignment", "impacts": "impact", "sitreps": "sitrep",
    "imports": "spreadsheet", "notifications": "notification",
}
SHARED = frozenset({"incident", "call", "draft_call", "money_call", "shelter", "resident", "alert", "disbursement",
                    "spare_disbursement", "approved_disbursement", "site", "stock_movement", "transfer", "open_task",
                    "impact", "sitrep", "spreadsheet"})
# A one-row import of an impact figure, as a township sends it.
SPREADSHEET = "区划代码,指标,数值,来源\n320506,受灾人口,1200,政府\n".encode()
# A resource in the state the action starts from, so that an allowed caller gets a 2xx, not a 409.
RESOURCE = {
    ("POST", "/v1/calls/{id}/publish"): "draft_call",
    ("POST", "/v1/calls/{id}/cancel"): "money_call",  # the goods call is closed just before
    ("POST", "/v1/pledges/{id}/reject"): "spare_pledge",  # the other pledged one is accepted just before
    ("POST", "/v1/pledges/{id}/dispatch"): "accepted_pledge",
    ("POST", "/v1/pledges/{id}/deliver"): "accepted_pledge",
    ("POST", "/v1/disbursements/{id}/reject"): "spare_disbursement",  # the other proposed one is approved
    ("POST", "/v1/disbursements/{id}/reverse"): "approved_disbursement",
    ("POST", "/v1/stock-movements/{id}/receive"): "transfer",  # in transit
    ("POST", "/v1/tasks/{id}/assignments"): "open_task",  # no team on it yet
    ("POST", "/v1/tasks/{id}/checkins"): "field_task",  # the team accepted it; its member is on standby
    ("POST", "/v1/tasks/{id}/checkouts"): "field_task",  # the member checked in just before
    ("POST", "/v1/tasks/{id}/extensions"): "field_task",
    ("GET", "/v1/pledges/{id}/roster"): "team_pledge",  # rosters are for personnel pledges
    ("PUT", "/v1/pledges/{id}/roster"): "team_pledge",
    ("GET", "/v1/public/alerts/{id}.cap"): "alert",  # "public" paths otherwise name an incident
    ("GET", "/v1/public/sitreps/{id}"): "sitrep",
    ("GET", "/v1/public/sitreps/{id}.html"): "sitrep",
}
# Run after everything else, in this order: what they change would turn later answers into 404 or 409.
LAST = [
    ("POST", "/v1/tasks/{id}/cancel"),
    ("POST", "/v1/shelters/{id}/close"),
    ("POST", "/v1/shelters/{id}/reopen"),
    ("POST", "/v1/calls/{id}/close"),
    ("POST", "/v1/calls/{id}/cancel"),
    ("POST", "/v1/incidents/{id}/close"),
    ("POST", "/v1/incidents/{id}/reopen"),
    ("DELETE", "/v1/webhooks/{id}"),
    ("POST", "/v1/organizations/{id}/suspend"),
    ("DELETE", "/v1/keys/{id}"),
]

_serial = itertools.count(1)


def credit_code() -> str:
    first17 = f"91320500{next(_serial) + 100_000:09d}"
    return first17 + credit_code_check_character(first17)


def resident_body() -> dict[str, Any]:
    serial = next(_serial)
    first17 = f"32050519800101{serial % 1000:03d}"
    return {"name": f"李秀英{serial}", "id_type": "resident_id", "origin_region": "320506",
            "id_number": first17 + resident_id_check_character(first17), "phone": f"139{serial:08d}"}


def goods_call(**overrides: Any) -> dict[str, Any]:
    return {"kind": "goods", "title": "救生衣", "item": "life_jacket", "unit": "piece", "quantity": "500",
            "status": "open", **overrides}


def alert_body() -> dict[str, Any]:
    return {"headline": "东山镇沿湖村庄立即转移", "category": "Met", "urgency": "Immediate", "severity": "Severe",
            "certainty": "Observed", "area": {"description": "吴中区东山镇", "polygon": POLYGON}}


@dataclass
class World:
    """One principal's world: ids by owner ("A", "B", "C", "bureau") where resources have one."""

    incident: str = ""
    call: str = ""  # open, for goods: the one pledged against
    draft_call: str = ""
    money_call: str = ""
    shelter: str = ""
    shelter2: str = ""
    resident: str = ""
    impact: str = ""
    sitrep: str = ""  # report 1 (initial), so a dispatcher's POST issues an update
    spreadsheet: str = ""  # an import of one impact figure (the bureau's)
    alert: str = ""
    disbursement: str = ""  # proposed by a third dispatcher's key, so the dispatcher and admin may decide it
    spare_disbursement: str = ""  # proposed too
    approved_disbursement: str = ""
    site: str = ""  # a warehouse holding water
    stock_movement: str = ""  # a write-off from it
    transfer: str = ""  # from it to the shelter, in transit
    personnel_call: str = ""
    open_task: str = ""  # a task no team is assigned to
    org: dict[str, str] = field(default_factory=dict)
    key: dict[str, str] = field(default_factory=dict)  # the organization's API key itself
    spare_key: dict[str, str] = field(default_factory=dict)  # id of another key of it, to revoke
    pledge: dict[str, str] = field(default_factory=dict)  # pledged
    spare_pledge: dict[str, str] = field(default_factory=dict)  # pledged too
    accepted_pledge: dict[str, str] = field(default_factory=dict)
    donation: dict[str, str] = field(default_factory=dict)
    receipt: dict[str, str] = field(default_factory=dict)  # the donation's receipt number (500.00 CNY)
    webhook: dict[str, str] = field(default_factory=dict)
    delivery: dict[str, str] = field(default_factory=dict)
    team_pledge: dict[str, str] = field(default_factory=dict)  # an accepted personnel pledge
    task: dict[str, str] = field(default_factory=dict)  # a task the owner's team is assigned to (pending)
    assignment: dict[str, str] = field(default_factory=dict)
    field_task: dict[str, str] = field(default_factory=dict)  # a task the owner's field team accepted
    field_pledge: dict[str, str] = field(default_factory=dict)  # that team: an accepted pledge with a roster
    member: dict[str, str] = field(default_factory=dict)  # a member of its roster, on standby
    notification: dict[str, str] = field(default_factory=dict)  # an email to it (the bureau's: to its staff)

    def resource(self, kind: str, owner: str) -> str:
        if kind in SHARED:
            return getattr(self, kind)
        if kind == "key":
            return self.spare_key[owner]
        if kind == "organization":
            return self.org[owner]
        return getattr(self, kind)[owner]

    def ids_of(self, owner: str) -> set[str]:
        """Everything of `owner` that another organization must never be shown."""
        found = {self.org.get(owner), self.spare_key.get(owner), self.pledge.get(owner), self.spare_pledge.get(owner),
                 self.accepted_pledge.get(owner), self.donation.get(owner), self.webhook.get(owner),
                 self.delivery.get(owner), self.team_pledge.get(owner), self.task.get(owner),
                 self.assignment.get(owner), self.field_task.get(owner), self.field_pledge.get(owner),
                 self.member.get(owner), self.notification.get(owner)}
        return {i for i in found if i}


async def made(response, status: int = 201) -> dict[str, Any]:
    assert response.status == status, f"setting up the world: {response.method} {response.url.path}: " \
                                      f"{response.status} {await response.text()}"
    return await response.json()


def idempotency() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


async def build_world(client: TestClient, dispatcher: Api, admin: Api) -> World:
    """A, B and C with keys, pledges, donations and webhooks; the shared incident's calls, shelters,
    resident, evacuation and alert; then C suspended."""
    w = World()
    for owner in "ABC":
        body = organization_body(0, name=f"矩阵救援队 {owner}{next(_serial)}", credit_code=credit_code())
        org = await made(await dispatcher.post("/v1/organizations", json=body))
        await made(await dispatcher.post(f"/v1/organizations/{org['id']}/approve"), 200)
        w.org[owner] = org["id"]
        keys = f"/v1/organizations/{org['id']}/keys"
        w.key[owner] = (await made(await admin.post(keys, json={"name": f"{owner} key"})))["key"]
        w.spare_key[owner] = (await made(await admin.post(keys, json={"name": f"{owner} spare"})))["id"]
    code = f"AUTHZ-{uuid.uuid4().hex[:12]}"
    w.incident = (await made(await dispatcher.post("/v1/incidents", json=incident_body(code=code))))["id"]
    calls = f"/v1/incidents/{w.incident}/calls"
    w.call = (await made(await dispatcher.post(calls, json=goods_call())))["id"]
    w.draft_call = (await made(await dispatcher.post(calls, json=goods_call(status="draft"))))["id"]
    money = {"kind": "money", "title": "善款", "amount": "2000000.00", "currency": "CNY", "status": "open"}
    w.money_call = (await made(await dispatcher.post(calls, json=money)))["id"]
    w.personnel_call = (await made(await dispatcher.post(calls, json={
        "kind": "personnel", "title": "冲锋舟", "skill": "boat_rescue", "headcount": 30, "status": "open"})))["id"]
    for owner in "ABC":
        org = Api(client, w.key[owner])
        pledges = f"/v1/calls/{w.call}/pledges"
        body = {"quantity": "10", "estimated_value": "300.00"}
        w.pledge[owner] = (await made(await org.post(pledges, json=body, headers=idempotency())))["id"]
        w.spare_pledge[owner] = (await made(await org.post(pledges, json=body, headers=idempotency())))["id"]
        accepted = (await made(await org.post(pledges, json=body, headers=idempotency())))["id"]
        await made(await dispatcher.post(f"/v1/pledges/{accepted}/accept"), 200)
        w.accepted_pledge[owner] = accepted
        await made(await org.post(f"/v1/incidents/{w.incident}/offers", json=offer_body(w, owner)))
        donation = {"kind": "money", "amount": "500.00", "channel": "bank_transfer",
                    "receipt_no": f"R-{next(_serial)}", "donor": {"organization_id": w.org[owner]}}
        donations = f"/v1/incidents/{w.incident}/donations"
        w.donation[owner] = (await made(await dispatcher.post(donations, json=donation, headers=idempotency())))["id"]
        w.receipt[owner] = donation["receipt_no"]
    shelters = f"/v1/incidents/{w.incident}/shelters"
    w.shelter = (await made(await dispatcher.post(shelters, json=shelter_body(w, "A"))))["id"]
    w.shelter2 = (await made(await dispatcher.post(shelters, json=shelter_body(w, "A"))))["id"]
    residents = f"/v1/incidents/{w.incident}/residents"
    w.resident = (await made(await dispatcher.post(residents, json=resident_body())))["id"]
    await made(await dispatcher.post(f"/v1/incidents/{w.incident}/evacuations", json=evacuation_body(w, "A")))
    impact = {"region": "320506", "figure": "affected", "value": "1200", "source": "government"}
    w.impact = (await made(await dispatcher.post(f"/v1/incidents/{w.incident}/impacts", json=impact)))["id"]
    sitreps = f"/v1/incidents/{w.incident}/sitreps"
    w.sitrep = (await made(await dispatcher.post(sitreps, json={"kind": "initial"})))["id"]
    upload = await dispatcher.call("POST", f"/v1/incidents/{w.incident}/imports?kind=impacts", data=SPREADSHEET,
                                   headers={"Content-Type": "text/csv", **idempotency()})
    w.spreadsheet = (await made(upload, 202))["id"]
    w.site = (await made(await dispatcher.post(f"/v1/incidents/{w.incident}/sites", json=site_body(w, "A"))))["id"]
    water = {"kind": "goods", "item": "drinking_water", "unit": "box", "quantity": "100", "site_id": w.site}
    await made(await dispatcher.post(f"/v1/incidents/{w.incident}/donations", json=water, headers=idempotency()))
    movements = f"/v1/incidents/{w.incident}/stock-movements"
    w.stock_movement = (await made(await dispatcher.post(movements, json=write_off_body(w, "A"),
                                                         headers=idempotency())))["id"]
    transfer = {"kind": "transfer", "item": "drinking_water", "unit": "box", "quantity": "5",
                "from": {"site_id": w.site}, "to": {"shelter_id": w.shelter}}
    w.transfer = (await made(await dispatcher.post(movements, json=transfer, headers=idempotency())))["id"]
    for owner in OWNERS:
        api = dispatcher if owner == "bureau" else Api(client, w.key[owner])
        w.webhook[owner] = (await made(await api.post("/v1/webhooks", json={"url": HOOK_URL})))["id"]
        w.delivery[owner] = (await made(await api.post(f"/v1/webhooks/{w.webhook[owner]}/test"), 202))["id"]
    w.alert = (await made(await dispatcher.post(f"/v1/incidents/{w.incident}/alerts", json=alert_body())))["id"]
    # An email to each owner, as the fan-out would store it (no SMTP server, no worker in this test).
    async with client.app[POOL].acquire() as conn:
        for owner in OWNERS:
            w.notification[owner] = str(await conn.fetchval(
                """
                insert into notifications (event_id, rule, incident_id, organization_id, recipient, language, subject,
                                           body_text, body_html)
                select event_id, 'alert.broadcast', incident_id, $2, $3, 'zh', headline, headline, headline
                  from alerts where id = $1
                returning id
                """,
                uuid.UUID(w.alert), None if owner == "bureau" else uuid.UUID(w.org[owner]),
                f"{owner.lower()}@x.example",
            ))
    # Four eyes: what the dispatcher and the admin decide was proposed by another person's key.
    proposer = Api(client, (await made(await admin.post("/v1/keys", json={"name": "proposer",
                                                                           "role": "dispatcher"})))["key"])
    disbursements = f"/v1/incidents/{w.incident}/disbursements"
    made_ids = [(await made(await proposer.post(disbursements, json=disbursement_body(w, "A"),
                                                headers=idempotency())))["id"] for _ in range(3)]
    w.disbursement, w.spare_disbursement, w.approved_disbursement = made_ids
    await made(await dispatcher.post(f"/v1/disbursements/{w.approved_disbursement}/approve"), 200)
    for owner in "AB":
        await made(await Api(client, w.key[owner]).post(f"/v1/alerts/{w.alert}/acks", json={"status": "received"}), 200)
    await add_tasks(client, dispatcher, w)
    await add_field_teams(client, dispatcher, w)
    await made(await dispatcher.post(f"/v1/organizations/{w.org['C']}/suspend"), 200)
    return w


async def add_tasks(client: TestClient, dispatcher: Api, w: World) -> None:
    """Each organization's team (an accepted personnel pledge) assigned to a task of its own, pending its
    answer; and a task no team is assigned to."""
    tasks = f"/v1/incidents/{w.incident}/tasks"
    team = {"headcount": 5, "lead": {"name": "李队长", "phone": "13900001111"}}
    for owner in "ABC":
        pledges = f"/v1/calls/{w.personnel_call}/pledges"
        pledge = (await made(await Api(client, w.key[owner]).post(pledges, json=team, headers=idempotency())))["id"]
        await made(await dispatcher.post(f"/v1/pledges/{pledge}/accept"), 200)
        w.team_pledge[owner] = pledge
        w.task[owner] = (await made(await dispatcher.post(tasks, json=task_body())))["id"]
        assignment = {"pledge_id": pledge}
        w.assignment[owner] = (await made(await dispatcher.post(f"/v1/tasks/{w.task[owner]}/assignments",
                                                                json=assignment)))["id"]
    w.open_task = (await made(await dispatcher.post(tasks, json=task_body())))["id"]


async def add_field_teams(client: TestClient, dispatcher: Api, w: World) -> None:
    """Each organization's field team (a pledge of two with a roster) has accepted a task of its own, so
    its member can be checked in; its roster is not the one the matrix replaces."""
    for owner in "ABC":
        org = Api(client, w.key[owner])
        team = {"headcount": 2, "lead": {"name": "赵队长", "phone": "13900002222"}}
        pledge = (await made(await org.post(f"/v1/calls/{w.personnel_call}/pledges", json=team,
                                            headers=idempotency())))["id"]
        await made(await dispatcher.post(f"/v1/pledges/{pledge}/accept"), 200)
        people = {"members": [{"name": f"队员{owner}", "phone": f"1360000{next(_serial):04d}", "role": "lead"}]}
        roster = await made(await org.put(f"/v1/pledges/{pledge}/roster", json=people, headers={"If-Match": '"0"'}),
                            200)
        task = (await made(await dispatcher.post(f"/v1/incidents/{w.incident}/tasks", json=task_body())))["id"]
        assignment = (await made(await dispatcher.post(f"/v1/tasks/{task}/assignments", json={"pledge_id": pledge})))
        await made(await org.post(f"/v1/assignments/{assignment['id']}/accept"), 200)
        w.field_pledge[owner], w.field_task[owner], w.member[owner] = pledge, task, roster["members"][0]["id"]


def back_at(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def task_body(w: World | None = None, owner: str = "") -> dict[str, Any]:
    return {"title": "东山镇沿湖村庄搜救", "skill": "boat_rescue", "headcount": 5,
            "area": {"description": "吴中区东山镇", "circle": "31.07,120.36 3", "region": "320506"}}


def roster_body() -> dict[str, Any]:
    """Two people, with phones of their own: each world is an incident of its own, so no phone is taken."""
    return {"members": [
        {"name": "张伟", "phone": "13700002222", "role": "lead", "skills": ["boat_rescue"],
         "certificates": [{"type": "boat_operator", "number": "CB-3205-0042"}],
         "emergency_contact": {"name": "张丽", "phone": "13700003333"}},
        {"name": "刘洋", "phone": "13700004444"},
    ]}


def offer_body(w: World, owner: str) -> dict[str, Any]:
    return {"kind": "goods", "item": "life_jacket", "unit": "piece", "quantity": "100", "region": "320500"}


def shelter_body(w: World, owner: str) -> dict[str, Any]:
    return {"name": f"东山中学体育馆 {next(_serial)}", "address": "苏州市吴中区东山镇", "capacity": 300}


def disbursement_body(w: World, owner: str) -> dict[str, Any]:
    return {"amount": "10.00", "purpose": "emergency_living_aid", "voucher_no": f"V-{next(_serial)}",
            "recipient": {"households": 2, "region": "320505"}}


def site_body(w: World, owner: str) -> dict[str, Any]:
    return {"kind": "warehouse", "name": f"吴中区物资仓库 {next(_serial)}", "manager": {"name": "陈主任"}}


def write_off_body(w: World, owner: str) -> dict[str, Any]:
    return {"kind": "write_off", "item": "drinking_water", "unit": "box", "quantity": "1",
            "from": {"site_id": w.site}, "reason": "damaged"}


def minimums_body(w: World, owner: str) -> list[dict[str, Any]]:
    return [{"item": "drinking_water", "unit": "box", "minimum": "10"}]


def evacuation_body(w: World, owner: str) -> dict[str, Any]:
    return {"count": 120, "from_region": "320505", "placement": "dispersed"}


Body = Callable[[World, str], dict[str, Any]]

# A valid body for every operation that needs one, from the world and the owner of the path's resource.
BODIES: dict[tuple[str, str], Body] = {
    ("POST", "/v1/keys"): lambda w, o: {"name": "matrix key", "role": "organization", "organization_id": w.org[o]},
    ("PATCH", "/v1/keys/{id}"): lambda w, o: {"language": "en"},
    ("POST", "/v1/organizations"): lambda w, o: organization_body(
        0, name=f"新登记组织 {next(_serial)}", credit_code=credit_code()),
    ("PATCH", "/v1/organizations/{id}"): lambda w, o: {"name": f"矩阵救援队 {o} 改名 {next(_serial)}"},
    ("POST", "/v1/organizations/{id}/keys"): lambda w, o: {"name": "matrix key"},
    ("POST", "/v1/incidents"): lambda w, o: incident_body(code=f"AUTHZ-{uuid.uuid4().hex[:12]}"),
    ("PATCH", "/v1/incidents/{id}"): lambda w, o: {"title": "台风杜苏芮 苏州响应（更新）"},
    ("POST", "/v1/incidents/{id}/calls"): lambda w, o: goods_call(title="雨衣", item="raincoat"),
    ("PATCH", "/v1/calls/{id}"): lambda w, o: {"title": "救生衣（加急）"},
    ("POST", "/v1/calls/{id}/pledges"): lambda w, o: {"quantity": "5", "estimated_value": "150.00"},
    ("POST", "/v1/pledges/{id}/reject"): lambda w, o: {"reason": "重复认捐"},
    ("POST", "/v1/incidents/{id}/offers"): offer_body,
    ("POST", "/v1/incidents/{id}/donations"): lambda w, o: {
        "kind": "money", "amount": "20.00", "channel": "cash", "receipt_no": f"R-{next(_serial)}"},
    ("POST", "/v1/donations/{id}/reverse"): lambda w, o: {"reason": "录入错误"},
    ("POST", "/v1/incidents/{id}/disbursements"): disbursement_body,
    ("POST", "/v1/disbursements/{id}/reject"): lambda w, o: {"reason": "凭证不全"},
    ("POST", "/v1/disbursements/{id}/reverse"): lambda w, o: {"reason": "重复拨付"},
    ("POST", "/v1/incidents/{id}/shelters"): shelter_body,
    ("POST", "/v1/incidents/{id}/sites"): site_body,
    ("PATCH", "/v1/sites/{id}"): lambda w, o: {"address": f"东吴南路 {next(_serial)} 号"},
    ("POST", "/v1/incidents/{id}/stock-movements"): write_off_body,
    ("POST", "/v1/stock-movements/{id}/receive"): lambda w, o: {"quantity": "5"},
    ("POST", "/v1/stock-movements/{id}/reverse"): lambda w, o: {"reason": "录入错误"},
    ("PUT", "/v1/sites/{id}/minimums"): minimums_body,  # type: ignore[dict-item]
    ("PUT", "/v1/shelters/{id}/minimums"): minimums_body,  # type: ignore[dict-item]
    ("PATCH", "/v1/shelters/{id}"): lambda w, o: {"name": f"东山中学 {next(_serial)}"},
    ("POST", "/v1/incidents/{id}/residents"): lambda w, o: resident_body(),
    ("POST", "/v1/residents/{id}/checkin"): lambda w, o: {"shelter_id": w.shelter},
    ("POST", "/v1/residents/{id}/move"): lambda w, o: {"shelter_id": w.shelter2},
    ("POST", "/v1/incidents/{id}/evacuations"): evacuation_body,
    ("POST", "/v1/incidents/{id}/impacts"): lambda w, o: {
        "region": "320506", "figure": "affected", "value": "1200", "source": "government"},
    ("POST", "/v1/incidents/{id}/sitreps"): lambda w, o: {"kind": "update", "narrative": "续报"},
    ("POST", "/v1/webhooks"): lambda w, o: {"url": HOOK_URL, "event_types": ["call.*"]},
    ("PATCH", "/v1/webhooks/{id}"): lambda w, o: {"description": "changed by the matrix"},
    ("POST", "/v1/webhooks/{id}/recover"): lambda w, o: {
        "since": (datetime.now(UTC) - timedelta(hours=1)).isoformat()},
    ("POST", "/v1/incidents/{id}/alerts"): lambda w, o: alert_body(),
    ("POST", "/v1/alerts/{id}/acks"): lambda w, o: {"status": "responding"},
    ("PUT", "/v1/pledges/{id}/roster"): lambda w, o: roster_body(),
    ("POST", "/v1/incidents/{id}/tasks"): task_body,
    ("PATCH", "/v1/tasks/{id}"): lambda w, o: {"headcount": 6},
    ("POST", "/v1/tasks/{id}/done"): lambda w, o: {"people_rescued": 3, "people_transferred": 12},
    ("POST", "/v1/tasks/{id}/cancel"): lambda w, o: {"reason": "水位回落"},
    ("POST", "/v1/tasks/{id}/assignments"): lambda w, o: {"pledge_id": w.team_pledge[o]},
    ("POST", "/v1/tasks/{id}/checkins"): lambda w, o: {"members": [w.member[o]], "expected_back_at": back_at(4)},
    ("POST", "/v1/tasks/{id}/checkouts"): lambda w, o: {"members": [w.member[o]]},
    ("POST", "/v1/tasks/{id}/extensions"): lambda w, o: {"members": [w.member[o]], "expected_back_at": back_at(6)},
}
