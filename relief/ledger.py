"""The donation ledger's one way in: append an entry, move the incident's counters, emit the event.

Both recording a donation (relief/donations.py) and delivering a money or goods pledge
(relief/pledges.py) come through here, so an act that is both moves the counters once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from models.calls import CallKind
from models.disbursements import EarmarkView
from models.donations import Donation, DonorView
from models.pledges import Pledge
from relief import chain, counters, events, funds, sites, stock_levels
from relief.auth import Principal
from relief.errors import Conflict

SELECT = """
    select d.*, o.name as donor_organization_name,
           (select r.id from donations r where r.reverses = d.id) as reversed_by
      from donations d left join organizations o on o.id = d.donor_organization_id
"""


@dataclass(frozen=True)
class Entry:
    """What an entry records; quantities are negative on reversals."""

    incident_id: UUID
    kind: str
    quantity: Decimal
    currency: str | None = None
    item: str | None = None
    unit: str | None = None
    estimated_value: Decimal | None = None
    value_currency: str | None = None
    channel: str | None = None
    receipt_no: str | None = None
    donor_organization_id: UUID | None = None
    donor_name: str | None = None
    anonymous: bool = False
    pledge_id: UUID | None = None
    call_id: UUID | None = None
    reverses: UUID | None = None
    reason: str | None = None
    note: str = ""
    site_id: UUID | None = None  # goods: where they landed (a site or a shelter; default the intake site)
    shelter_id: UUID | None = None
    earmark_purpose: str | None = None  # money: the donor's designated use (定向), within earmark_region
    earmark_region: str | None = None
    received_at: datetime | None = None  # when it was received; None: now, the recording time (not hashed)


def to_model(row: asyncpg.Record | dict[str, Any]) -> Donation:
    money = row["kind"] == "money"
    return Donation(
        id=row["id"],
        incident_id=row["incident_id"],
        kind=row["kind"],
        entry="reversal" if row["reverses"] else "receipt",
        amount=row["quantity"] if money else None,
        currency=row["currency"] if money else row["value_currency"],
        item=row["item"],
        unit=row["unit"],
        quantity=None if money else row["quantity"],
        estimated_value=row["estimated_value"],
        channel=row["channel"],
        receipt_no=row["receipt_no"],
        donor=DonorView(
            organization_id=row["donor_organization_id"],
            organization_name=row["donor_organization_name"],
            name=row["donor_name"],
            anonymous=row["anonymous"],
        ),
        pledge_id=row["pledge_id"],
        call_id=row["call_id"],
        reverses=row["reverses"],
        reversed_by=row["reversed_by"],
        earmark=EarmarkView(purpose=row["earmark_purpose"], region=row["earmark_region"])
        if row["earmark_purpose"] else None,
        site_id=row["site_id"],
        shelter_id=row["shelter_id"],
        reason=row["reason"],
        note=row["note"],
        received_at=row["received_at"],
        created_at=row["created_at"],
    )


def counter_moves(entry: Entry) -> counters.Bumps:
    """How an entry moves its incident's counters (reversals, being negative, move them back)."""
    one = Decimal(-1 if entry.reverses else 1)
    if entry.kind == "money":
        return {("money_received", entry.currency or ""): entry.quantity, ("donations", ""): one}
    moves: counters.Bumps = {
        ("goods_received", f"{entry.item}|{entry.unit}"): entry.quantity,
        ("donations", ""): one,
    }
    if entry.estimated_value:
        moves[("goods_received_value", entry.value_currency or "CNY")] = entry.estimated_value
    return moves


async def append(
    conn: asyncpg.Connection, *, actor: Principal, entry: Entry, before: Donation | None = None
) -> Donation:
    """Append an entry in the caller's transaction; 409-worthy duplicates raise UniqueViolationError."""
    if entry.kind == "goods" and entry.site_id is None and entry.shelter_id is None:
        entry = replace(entry, site_id=await sites.intake(conn, entry.incident_id))
    elif entry.kind == "goods" and entry.reverses is None:  # a location named: 422 unless it is the incident's
        await sites.locate(conn, incident_id=entry.incident_id, site_id=entry.site_id, shelter_id=entry.shelter_id)
    # The new row read back as SELECT reads it, in the same round trip (a new entry is never reversed yet).
    row = await conn.fetchrow(
        """
        with d as (
            insert into donations (incident_id, kind, quantity, currency, item, unit, estimated_value,
                                   value_currency, channel, receipt_no, donor_organization_id, donor_name,
                                   anonymous, pledge_id, call_id, reverses, reason, note, recorded_by,
                                   site_id, shelter_id, earmark_purpose, earmark_region, received_at)
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
                    $20, $21, $22, $23, coalesce($24, now()))
            returning *
        )
        select d.*, o.name as donor_organization_name, null::uuid as reversed_by
          from d left join organizations o on o.id = d.donor_organization_id
        """,
        entry.incident_id,
        entry.kind,
        entry.quantity,
        entry.currency,
        entry.item,
        entry.unit,
        entry.estimated_value,
        entry.value_currency,
        entry.channel,
        entry.receipt_no,
        entry.donor_organization_id,
        entry.donor_name,
        entry.anonymous,
        entry.pledge_id,
        entry.call_id,
        entry.reverses,
        entry.reason,
        entry.note,
        actor.key_id,
        entry.site_id,
        entry.shelter_id,
        entry.earmark_purpose,
        entry.earmark_region,
        entry.received_at,
    )
    donation = to_model(row)
    if entry.kind == "money":  # its fund moves with it; a reversal only as far as the fund is unpaid (409)
        fund = funds.Key(entry.incident_id, entry.currency or "CNY", entry.earmark_purpose or "",
                         entry.earmark_region or "")
        await funds.receive(conn, fund, entry.quantity)
    else:  # goods into their location's stock; a reversal only as far as they are still there (409)
        await stock_levels.donated(conn, actor=actor, incident_id=entry.incident_id, site_id=entry.site_id,
                                   shelter_id=entry.shelter_id, item=entry.item or "", unit=entry.unit or "",
                                   quantity=entry.quantity)
    await counters.bump(conn, entry.incident_id, counter_moves(entry))
    await counters.join(conn, entry.incident_id, entry.donor_organization_id)
    await events.emit(
        conn,
        type="donation.reversed" if entry.reverses else "donation.recorded",
        actor=actor,
        entity_type="donation",
        entity_id=donation.reverses or donation.id,
        incident_id=entry.incident_id,
        organization_id=entry.donor_organization_id,
        before=before,
        after=donation,
    )
    await chain.append(conn, kind="donation", row=row)  # last: see relief/chain.py
    return donation


async def expected_counters(conn: asyncpg.Connection, incident_id: UUID) -> dict[tuple[str, str], Decimal]:
    """The ledger's counters recomputed from its rows, for `relief reconcile`."""
    rows = await conn.fetch(
        """
        select 'money_received' as name, currency as key, sum(quantity) as value
          from donations where incident_id = $1 and kind = 'money' group by currency
        union all
        select 'goods_received', item || '|' || unit, sum(quantity)
          from donations where incident_id = $1 and kind = 'goods' group by item, unit
        union all
        select 'goods_received_value', coalesce(value_currency, 'CNY'), sum(estimated_value)
          from donations where incident_id = $1 and kind = 'goods' and estimated_value is not null
         group by coalesce(value_currency, 'CNY')
        union all
        select 'donations', '', sum(case when reverses is null then 1 else -1 end)
          from donations where incident_id = $1
        """,
        incident_id,
    )
    return {(r["name"], r["key"]): r["value"] for r in rows if r["value"] is not None}


@dataclass(frozen=True)
class Receipt:
    """How a delivered money or goods pledge goes into the ledger (defaults when delivered without one)."""

    channel: str | None = None
    receipt_no: str | None = None
    estimated_value: Decimal | None = None
    value_currency: str = "CNY"
    note: str = ""
    earmark_purpose: str | None = None  # money: the donor's designated use, as on a donation
    earmark_region: str | None = None
    site_id: UUID | None = None  # goods: where they were received (a site or a shelter; default the intake site)
    shelter_id: UUID | None = None
    received_at: datetime | None = None  # None: when it is recorded


async def receive(
    conn: asyncpg.Connection,
    actor: Principal,
    pledge: Pledge,
    call: asyncpg.Record,
    arrived: Decimal,
    receipt: Receipt,
) -> Donation:
    """Receive a delivered money or goods pledge into the ledger (its delivery and its receipt are one act)."""
    value = receipt.estimated_value
    if value is None and pledge.estimated_value is not None:
        # The pledge's estimate, in proportion to what arrived, to the fen.
        value = (pledge.estimated_value * arrived / pledge.quantity).quantize(Decimal("0.01"))
    money = pledge.kind == CallKind.money
    entry = Entry(
        incident_id=pledge.incident_id,
        kind=pledge.kind,
        quantity=arrived,
        currency=pledge.currency if money else None,
        item=None if money else call["item"],
        unit=None if money else call["unit"],
        estimated_value=None if money else value,
        value_currency=None if money else receipt.value_currency,
        channel=receipt.channel or ("other" if money else "in_kind"),
        receipt_no=receipt.receipt_no,
        donor_organization_id=pledge.organization_id,
        pledge_id=pledge.id,
        call_id=pledge.call_id,
        note=receipt.note,
        earmark_purpose=receipt.earmark_purpose if money else None,
        earmark_region=receipt.earmark_region if money else None,
        site_id=receipt.site_id,
        shelter_id=receipt.shelter_id,
        received_at=receipt.received_at,
    )
    try:
        return await append(conn, actor=actor, entry=entry)
    except asyncpg.UniqueViolationError:
        raise Conflict(
            f"receipt {receipt.receipt_no} is already in this incident's ledger", receipt_no=receipt.receipt_no
        ) from None
