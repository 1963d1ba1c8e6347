"""The Doksuri demo, continued: where the help went — sites, stock movements, and money disbursed.

relief/demo.py opens the sites (goods are received at them) and, once residents are sheltered, calls
`record()` for the rest, in its one transaction. Everything goes through the use cases the API calls,
so levels, funds, counters, events and the ledger's chain come out as real work would leave them, and
nothing is moved beyond what is on hand or paid beyond a fund's balance (the use cases refuse it).

Two bureau dispatchers do this work, because disbursements need four eyes: one proposes, the other
decides. Their keys are made for the load and revoked when it ends (nobody holds their secrets); what
they did stays attributed to them. Stock movements and disbursements carry the scenario's July–August
2023 in their moved_at and disbursed_at (their created_at, in the ledger's signed chain, is the moment
of loading).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
from pydantic import TypeAdapter

from models.disbursements import DisbursementCreate
from models.keys import Role
from models.sites import SiteCreate
from models.stock import Minimum, StockMovementCreate
from relief import disbursements, keys, sites, stock, stock_levels
from relief.auth import SYSTEM, Principal
from relief.demo_dates import beijing

_MOVEMENT = TypeAdapter(StockMovementCreate)

# slug: (kind, name, address, lat, lon, manager, manager's phone)
SITES: dict[str, tuple[str, str, str, float, float, str, str]] = {
    "wz_depot": ("warehouse", "吴中区应急物资仓库", "苏州市吴中区木渎镇金枫南路", 31.2560, 120.5170,
                 "沈仓管", "13900003001"),
    "gs_depot": ("warehouse", "姑苏区救灾物资储备库", "苏州市姑苏区南环东路", 31.2880, 120.6330,
                 "陆仓管", "13900003002"),
    "xc_point": ("distribution_point", "相城区望亭镇物资发放点", "苏州市相城区望亭镇问渡路", 31.4450, 120.4420,
                 "朱站长", "13900003003"),
}


# --- the movements, in order (places: a site or shelter slug, or "intake") --------------------------------
# Each says when it happened in the story (Beijing time, as beijing() takes it: month, day, hour, minute),
# after the goods it moves were received there (relief/demo_data.py); the load passes it as moved_at.


def transfer(item: str, unit: str, quantity: str, origin: str, to: str, left: tuple, arrives: tuple | None,
             arrived: str | None = "all", reason: str | None = None) -> dict[str, Any]:
    """A transfer and its arrival: all of it (the default), part (the rest lost, with a reason), or None yet."""
    return {"step": "transfer", "item": item, "unit": unit, "quantity": quantity, "from": origin, "to": to,
            "arrived": quantity if arrived == "all" else arrived, "reason": reason, "moved_at": beijing(*left),
            "arrived_at": beijing(*arrives) if arrives else None}


def hand_out(item: str, unit: str, quantity: str, origin: str, to: tuple, at: tuple, note: str = "") -> dict[str, Any]:
    """A distribution: to ("residents", shelter), ("household", household id) or ("group", people, region)."""
    return {"step": "distribution", "item": item, "unit": unit, "quantity": quantity, "from": origin, "to": to,
            "note": note, "moved_at": beijing(*at)}


def write_off(item: str, unit: str, quantity: str, origin: str, reason: str, note: str, at: tuple) -> dict[str, Any]:
    return {"step": "write_off", "item": item, "unit": unit, "quantity": quantity, "from": origin,
            "reason": reason, "note": note, "moved_at": beijing(*at)}


def minimum(place: str, item: str, unit: str, value: str) -> dict[str, Any]:
    return {"step": "minimum", "place": place, "item": item, "unit": unit, "minimum": value}


# What the goods received (relief/demo_data.py says where and when) did next.
STOCK: list[dict[str, Any]] = [
    transfer("drinking_water", "box", "1200", "wz_depot", "wz_linhu", (7, 29, 19), (7, 29, 20, 30)),
    transfer("drinking_water", "box", "800", "wz_depot", "snd_tongan", (7, 30, 7, 30), (7, 30, 9, 40)),
    transfer("drinking_water", "box", "600", "intake", "xc_wangting", (7, 30, 16), (7, 30, 17, 30)),
    transfer("drinking_water", "box", "500", "intake", "ks_jinxi", (7, 30, 15), (7, 30, 17, 40), arrived="480",
             reason="途经锦溪镇积水路段车辆涉水，20箱包装破损渗漏，现场清点后报损"),
    transfer("instant_food", "box", "600", "wz_depot", "wz_linhu", (7, 29, 22), (7, 29, 23)),
    transfer("instant_food", "box", "400", "wz_depot", "xc_point", (7, 30, 7), (7, 30, 9)),
    transfer("folding_bed", "piece", "150", "gs_depot", "gs_canglang", (7, 30, 21), (7, 30, 22)),
    transfer("folding_bed", "piece", "300", "gs_depot", "ks_jinxi", (7, 31, 7, 30), (7, 31, 10, 30)),
    transfer("quilt", "piece", "400", "gs_depot", "gs_canglang", (7, 31, 10), (7, 31, 11)),
    transfer("quilt", "piece", "300", "gs_depot", "tc_liuhe", (7, 31, 10, 30), (7, 31, 13)),
    transfer("quilt", "piece", "200", "gs_depot", "snd_tongan", (8, 2, 15), None, arrived=None),  # still on the road
    transfer("generator", "piece", "4", "intake", "ks_jinxi", (7, 29, 17, 30), (7, 29, 20)),
    # 临湖 should keep at least 300 boxes of water; the second day's hand-out takes it below (stock.low).
    minimum("wz_linhu", "drinking_water", "box", "300"),
    hand_out("drinking_water", "box", "700", "wz_linhu", ("residents", "wz_linhu"), (7, 29, 21), "7月29日首日发放"),
    hand_out("drinking_water", "box", "250", "wz_linhu", ("residents", "wz_linhu"), (7, 31, 8), "7月31日补充发放"),
    hand_out("drinking_water", "box", "500", "snd_tongan", ("residents", "snd_tongan"), (7, 30, 11)),
    hand_out("drinking_water", "box", "400", "xc_wangting", ("residents", "xc_wangting"), (7, 30, 18)),
    hand_out("drinking_water", "box", "400", "ks_jinxi", ("residents", "ks_jinxi"), (7, 30, 19)),
    hand_out("instant_food", "box", "500", "wz_linhu", ("residents", "wz_linhu"), (7, 30, 7, 30)),
    hand_out("instant_food", "box", "350", "xc_point", ("group", 1050, "320507"), (7, 30, 10),
             "望亭镇投亲靠友群众到点领取"),
    hand_out("instant_food", "box", "2", "wz_depot", ("household", "DEMO-320506-0014"), (7, 30, 15),
             "独居老人，社区网格员送达"),
    hand_out("raincoat", "piece", "800", "xc_point", ("group", 800, "320507"), (7, 29, 10, 30),
             "沿河巡查人员和返家清淤群众"),
    hand_out("folding_bed", "piece", "140", "gs_canglang", ("residents", "gs_canglang"), (7, 30, 22, 30)),
    hand_out("folding_bed", "piece", "280", "ks_jinxi", ("residents", "ks_jinxi"), (7, 31, 11)),
    hand_out("quilt", "piece", "150", "gs_canglang", ("residents", "gs_canglang"), (7, 31, 11, 30)),
    hand_out("quilt", "piece", "110", "tc_liuhe", ("residents", "tc_liuhe"), (7, 31, 14)),
    write_off("drinking_water", "box", "30", "intake", "damaged", "接收点露天堆放被雨水浸泡", (7, 30, 20)),
    write_off("instant_food", "box", "40", "wz_depot", "expired", "临期批次过保质期，按规定销毁", (8, 1, 10)),
    write_off("sandbag", "piece", "200", "wz_depot", "damaged", "搬运中破袋", (7, 29, 8)),
]

# Money paid out: (voucher, amount, purpose, recipient, region, earmark drawn or None, decision, note).
# recipient: ("households", n) | ("shelter", slug) | ("organization", slug); decision: "approve",
# ("reject", reason), or None (left proposed, for the console's second pair of eyes).
EARMARK = {"purpose": "emergency_living_aid", "region": "3205"}
DISBURSEMENTS: list[tuple[str, str, str, tuple, str, dict | None, Any, str]] = [
    ("SZMZ-2023-0801-001", "360000", "emergency_living_aid", ("households", 360), "320506", EARMARK, "approve",
     "临湖镇、东山镇受灾家庭临时生活救助，每户1000元（太仓市慈善基金会定向捐赠）"),
    ("SZMZ-2023-0801-002", "410000", "emergency_living_aid", ("households", 410), "320507", None, "approve",
     "望亭镇、黄桥街道受灾家庭临时生活救助，每户1000元"),
    ("SZMZ-2023-0802-003", "260000", "emergency_living_aid", ("households", 260), "320583", None, "approve",
     "锦溪镇、周庄镇受灾家庭临时生活救助，每户1000元"),
    ("SZMZ-2023-0802-004", "186000", "shelter_operation", ("shelter", "wz_linhu"), "320506", None, "approve",
     "7月28日至8月10日水电、餐食、保洁"),
    ("SZMZ-2023-0802-005", "124500", "shelter_operation", ("shelter", "xc_wangting"), "320507", None, "approve",
     "7月28日至8月8日水电、餐食、保洁"),
    ("SZMZ-2023-0803-006", "138000", "shelter_operation", ("shelter", "ks_jinxi"), "320583", None, "approve",
     "7月28日至8月10日水电、餐食、保洁"),
    ("SZMZ-2023-0803-007", "86000", "rescue_operation", ("organization", "wz_bluesky"), "320506", None, "approve",
     "冲锋舟油料、救援装备维修"),
    ("SZMZ-2023-0803-008", "42000", "rescue_operation", ("organization", "ds_water"), "320506", None, "approve",
     "环太湖圩区转移群众船只租用"),
    ("SZMZ-2023-0804-009", "35000", "medical", ("organization", "sz_medical"), "320500", None, "approve",
     "安置点巡诊药品和耗材"),
    ("SZMZ-2023-0805-010", "58000", "shelter_operation", ("shelter", "gs_canglang"), "320508", None, None,
     "7月29日至8月12日水电、餐食、保洁"),
    ("SZMZ-2023-0805-011", "60000", "rescue_operation", ("organization", "xc_rescue"), "320507", None,
     ("reject", "凭证不全：缺少油料费发票，请补齐后重新申报"), "舟艇油料补贴"),
]


# --- loading ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bureau:
    """The two dispatchers of the scenario: `dispatcher` records and proposes, `approver` decides."""

    dispatcher: Principal
    approver: Principal


async def bureau(conn: asyncpg.Connection) -> Bureau:
    """Keys for the scenario's two dispatchers (four eyes need two keys); `finish()` revokes them."""
    made = []
    for name in ("demo dispatcher (scenario)", "demo approver (scenario)"):
        key = await keys.create(conn, actor=SYSTEM, name=name, role=Role.dispatcher)
        made.append(Principal(role=Role.dispatcher, key_id=key.id, name=name))
    return Bureau(*made)


async def finish(conn: asyncpg.Connection, staff: Bureau) -> None:
    """Revoke the scenario's keys: their secrets were never shown, and what they did stays attributed."""
    for principal in (staff.dispatcher, staff.approver):
        await keys.revoke(conn, actor=SYSTEM, key_id=principal.key_id)  # type: ignore[arg-type]


async def open_sites(conn: asyncpg.Connection, *, actor: Principal, incident_id: UUID) -> dict[str, UUID]:
    """The warehouses and the distribution point, before any goods arrive."""
    site_ids = {}
    for slug, (kind, name, address, lat, lon, manager, phone) in SITES.items():
        site = await sites.create(conn, actor=actor, incident_id=incident_id, data=SiteCreate(
            kind=kind, name=name, address=address, location={"lat": lat, "lon": lon},
            manager={"name": manager, "phone": phone}))
        site_ids[slug] = site.id
    return site_ids


def _recipient(to: tuple, shelter_ids: dict[str, UUID]) -> dict[str, Any]:
    if to[0] == "residents":
        return {"kind": "shelter_residents", "shelter_id": shelter_ids[to[1]]}
    if to[0] == "household":
        return {"kind": "household", "household_id": to[1]}
    return {"kind": "group", "people_reached": to[1], "region": to[2]}


async def _stock(conn: asyncpg.Connection, actor: Principal, incident_id: UUID, places: dict[str, dict[str, UUID]],
                 shelter_ids: dict[str, UUID]) -> None:
    for step in STOCK:
        kind = step["step"]
        if kind == "minimum":
            where = places[step["place"]]
            await stock_levels.set_minimums(
                conn, actor=actor, site_id=where.get("site_id"), shelter_id=where.get("shelter_id"),
                minimums=[Minimum(item=step["item"], unit=step["unit"], minimum=step["minimum"])])
            continue
        body: dict[str, Any] = {"kind": kind, "item": step["item"], "unit": step["unit"],
                                "quantity": step["quantity"], "from": places[step["from"]],
                                "moved_at": step["moved_at"]}
        if kind == "transfer":
            body["to"] = places[step["to"]]
        elif kind == "distribution":
            body.update(to=_recipient(step["to"], shelter_ids), note=step["note"])
        else:
            body.update(reason=step["reason"], note=step["note"])
        movement = await stock.create(conn, actor=actor, incident_id=incident_id, data=_MOVEMENT.validate_python(body))
        if kind == "transfer" and step["arrived"] is not None:
            await stock.receive(conn, actor=actor, transfer_id=movement.id, quantity=Decimal(step["arrived"]),
                                reason=step["reason"], moved_at=step["arrived_at"])


def disbursed_at(voucher: str, earlier_that_day: int) -> datetime:
    """When a voucher (SZMZ-2023-MMDD-NNN) was paid in the story: on its date, from 10:00, three hours apart."""
    month, day = int(voucher[10:12]), int(voucher[12:14])
    return beijing(month, day, 10 + 3 * earlier_that_day)


async def _money(conn: asyncpg.Connection, staff: Bureau, incident_id: UUID, orgs: dict[str, UUID],
                 shelter_ids: dict[str, UUID]) -> None:
    days: dict[str, int] = {}
    for voucher, amount, purpose, (to, whom), region, fund, decision, note in DISBURSEMENTS:
        day = voucher[:14]
        days[day] = days.get(day, -1) + 1
        recipient: dict[str, Any]
        if to == "households":
            recipient = {"households": whom, "region": region}
        elif to == "shelter":
            recipient = {"shelter_id": shelter_ids[whom]}
        else:
            recipient = {"organization_id": orgs[whom]}
        proposed = await disbursements.propose(conn, actor=staff.dispatcher, incident_id=incident_id,
                                               data=DisbursementCreate.model_validate({
                                                   "amount": amount, "purpose": purpose, "recipient": recipient,
                                                   "region": region, "voucher_no": voucher, "fund": fund,
                                                   "note": note,
                                                   "disbursed_at": disbursed_at(voucher, days[day])}))
        if decision is not None:
            rejected = decision != "approve"
            await disbursements.decide(conn, actor=staff.approver, disbursement_id=proposed.id, approve=not rejected,
                                       reason=decision[1] if rejected else None)


async def record(
    conn: asyncpg.Connection, *, staff: Bureau, incident_id: UUID, orgs: dict[str, UUID],
    shelter_ids: dict[str, UUID], site_ids: dict[str, UUID],
) -> tuple[int, int]:
    """Move the goods and pay out the money; (stock movements, disbursements) recorded."""
    places: dict[str, dict[str, UUID]] = {
        **{slug: {"site_id": i} for slug, i in site_ids.items()},
        **{slug: {"shelter_id": i} for slug, i in shelter_ids.items()},
        "intake": {"site_id": await sites.intake(conn, incident_id)},
    }
    await _stock(conn, staff.dispatcher, incident_id, places, shelter_ids)
    await _money(conn, staff, incident_id, orgs, shelter_ids)
    movements = sum(1 + (s["step"] == "transfer" and s["arrived"] is not None) for s in STOCK if s["step"] != "minimum")
    return movements, len(DISBURSEMENTS)
