"""Matching: rank the organizations and open offers that could fill a call, and say why."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from models.calls import CallKind
from models.offers import Match, Matches
from relief.errors import NotFound

WEIGHTS = {"fit": 0.4, "region": 0.25, "capacity": 0.15, "record": 0.2}
# Organizations of these kinds give money as their trade; others may, but less surely.
MONEY_GIVERS = {"foundation": 1.0, "charity": 1.0, "enterprise": 1.0, "association": 0.8}
UNKNOWN = 0.5  # a factor we know nothing about counts as middling, neither for nor against


def region_score(region: str, incident_regions: list[str]) -> tuple[float, str]:
    """1 within the incident's city (first 4 digits), 0.5 within its province, else 0."""
    if any(region[:4] == r[:4] for r in incident_regions):
        return 1.0, f"in the affected city ({region})"
    if any(region[:2] == r[:2] for r in incident_regions):
        return 0.5, f"in the affected province ({region})"
    return 0.0, f"outside the affected province ({region})"


def record_score(delivered: int, withdrawn: int) -> tuple[float, str]:
    """Share of finished pledges that were delivered (rejections are the bureau's call, not counted)."""
    finished = delivered + withdrawn
    if finished == 0:
        return UNKNOWN, "no finished pledges yet"
    return delivered / finished, f"delivered {delivered} of {finished} finished pledges"


def capacity_score(capacity: Decimal | None, remaining: Decimal) -> tuple[float, str]:
    if capacity is None:
        return UNKNOWN, "capacity not stated"
    if remaining <= 0:
        return 1.0, f"offers {format(capacity, 'f')}; the call is fully committed"
    share = min(Decimal(1), capacity / remaining)
    return float(share), f"offers {format(capacity, 'f')} of the {format(remaining, 'f')} still needed"


def _fit(call: asyncpg.Record, kind: str, capabilities: dict[str, Any]) -> tuple[float, str] | None:
    """How well an organization's stated capabilities fit the call; None when they do not at all."""
    if call["kind"] == CallKind.goods:
        if call["item"] in capabilities.get("goods", []):
            return 1.0, f"supplies {call['item']}"
        return None
    if call["kind"] == CallKind.personnel:
        if call["skill"] in capabilities.get("skills", []):
            return 1.0, f"has {call['skill']} skills"
        return None
    score = MONEY_GIVERS.get(kind, 0.4)
    return score, f"a {kind} ({'gives money as its trade' if score == 1.0 else 'may give money'})"


def _offer_fits(call: asyncpg.Record, offer: asyncpg.Record) -> bool:
    if offer["kind"] != call["kind"]:
        return False
    if call["kind"] == CallKind.goods:
        return offer["item"] == call["item"]
    if call["kind"] == CallKind.personnel:
        return offer["skill"] == call["skill"]
    return offer["currency"] == call["currency"]


async def matches(conn: asyncpg.Connection, *, call_id: UUID, limit: int = 20) -> Matches:
    """Approved organizations whose capabilities fit the call, and open offers of the same thing."""
    call = await conn.fetchrow(
        """
        select c.*, i.regions from calls c join incidents i on i.id = c.incident_id where c.id = $1
        """,
        call_id,
    )
    if call is None:
        raise NotFound(f"call {call_id} does not exist")
    remaining: Decimal = call["requested"] - call["committed"]
    organizations = await conn.fetch(
        """
        select o.id, o.name, o.kind, o.region, o.capabilities,
               count(*) filter (where p.status = 'delivered') as delivered,
               count(*) filter (where p.status = 'withdrawn') as withdrawn
          from organizations o left join pledges p on p.organization_id = o.id
         where o.status = 'approved'
         group by o.id
        """
    )
    offers = await conn.fetch(
        """
        select f.*, o.name as organization_name from offers f join organizations o on o.id = f.organization_id
         where f.incident_id = $1 and f.status = 'open' and f.kind = $2 and o.status = 'approved'
           and (f.available_until is null or f.available_until > now())
        """,
        call["incident_id"],
        call["kind"],
    )
    records = {o["id"]: record_score(o["delivered"], o["withdrawn"]) for o in organizations}
    # One match per organization: its open offers of the thing (summed) stand for it when it made any, so an
    # organization whose capabilities fit and which also offered is listed once, not once per source.
    offered: dict[UUID, list[asyncpg.Record]] = {}
    for offer in offers:
        if _offer_fits(call, offer) and offer["organization_id"] in records:
            offered.setdefault(offer["organization_id"], []).append(offer)
    candidates: list[dict[str, Any]] = []
    for org in organizations:
        fit = _fit(call, org["kind"], org["capabilities"] or {})
        if fit is None or org["id"] in offered:
            continue
        candidates.append({
            "source": "organization", "organization_id": org["id"], "organization_name": org["name"],
            "factors": {"fit": fit, "region": region_score(org["region"], call["regions"]),
                        "capacity": capacity_score(None, remaining), "record": records[org["id"]]},
        })
    for organization_id, its_offers in offered.items():
        its_offers.sort(key=lambda f: (-f["quantity"], f["created_at"]))
        largest = its_offers[0]
        # Quantities add up only in one unit: the largest offer's.
        capacity = sum((f["quantity"] for f in its_offers if f["unit"] == largest["unit"]), Decimal(0))
        fit_reason = f"offered {largest['kind']} that matches the call"
        if len(its_offers) > 1:
            fit_reason += f" ({len(its_offers)} open offers)"
        candidates.append({
            "source": "offer", "organization_id": organization_id,
            "organization_name": largest["organization_name"], "offer_id": largest["id"],
            "capacity": capacity,
            "factors": {"fit": (1.0, fit_reason),
                        "region": region_score(largest["region"], call["regions"]),
                        "capacity": capacity_score(capacity, remaining),
                        "record": records[organization_id]},
        })
    for candidate in candidates:
        factors = candidate.pop("factors")
        candidate["factors"] = {name: round(score, 4) for name, (score, _) in factors.items()}
        candidate["reasons"] = [reason for _, reason in factors.values()]
        candidate["score"] = round(sum(WEIGHTS[name] * score for name, (score, _) in factors.items()), 4)
    candidates.sort(key=lambda c: (-c["score"], c["source"] != "offer", c["organization_name"]))
    items = [Match(rank=i + 1, **c) for i, c in enumerate(candidates[:limit])]
    return Matches(call_id=call_id, weights=WEIGHTS, items=items)
