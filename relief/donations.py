"""Donations: record what was received (money or goods), reverse a mistaken entry, read the ledger."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

import asyncpg

from models.common import Page
from models.donations import Donation, DonationCreate, GoodsDonationCreate, MoneyDonationCreate
from models.pledges import Pledge, PledgeStatus
from relief import calls, cursors, db, incidents, ledger, pledges
from relief.auth import Principal
from relief.errors import Conflict, Invalid, InvalidState, NotFound


def _invalid(pointer: str, detail: str) -> Invalid:
    return Invalid(detail, errors=[{"pointer": pointer, "detail": detail}])


def _entry(incident_id: UUID, data: DonationCreate) -> ledger.Entry:
    common = {
        "incident_id": incident_id,
        "channel": data.channel,
        "receipt_no": data.receipt_no,
        "donor_organization_id": data.donor.organization_id,
        "donor_name": data.donor.name,
        "anonymous": data.donor.anonymous,
        "call_id": data.call_id,
        "note": data.note,
        "received_at": data.received_at,
    }
    if isinstance(data, MoneyDonationCreate):
        earmark = data.earmark
        return ledger.Entry(kind="money", quantity=data.amount, currency=data.currency, **common,
                            earmark_purpose=earmark.purpose if earmark else None,
                            earmark_region=earmark.region if earmark else None)
    return ledger.Entry(
        kind="goods", quantity=data.quantity, item=data.item, unit=data.unit, estimated_value=data.estimated_value,
        value_currency=data.currency, site_id=data.site_id, shelter_id=data.shelter_id, **common,
    )


async def record(conn: asyncpg.Connection, *, actor: Principal, incident_id: UUID, data: DonationCreate) -> Donation:
    """Record a donation received; against a pledge, it delivers that pledge (one act, one entry)."""
    async with db.atomic(conn):
        await incidents.require(conn, incident_id)
        if data.donor.organization_id is not None and not await conn.fetchval(
            "select 1 from organizations where id = $1", data.donor.organization_id
        ):
            raise _invalid("/donor/organization_id", "no such organization")
        if data.call_id is not None:
            call = await conn.fetchrow("select incident_id, kind from calls where id = $1", data.call_id)
            if call is None or call["incident_id"] != incident_id:
                raise _invalid("/call_id", "no such call in this incident")
            if call["kind"] != data.kind:
                raise _invalid("/call_id", f"that call asks for {call['kind']}, not {data.kind}")
        if data.pledge_id is not None:
            return await _against_pledge(conn, actor, incident_id, data)
        try:
            return await ledger.append(conn, actor=actor, entry=_entry(incident_id, data))
        except asyncpg.UniqueViolationError:
            raise Conflict(f"receipt {data.receipt_no} is already in this incident's ledger",
                           receipt_no=data.receipt_no) from None


async def _against_pledge(
    conn: asyncpg.Connection, actor: Principal, incident_id: UUID, data: DonationCreate
) -> Donation:
    pledge = await conn.fetchrow(
        "select p.*, c.item, c.unit as call_unit from pledges p join calls c on c.id = p.call_id where p.id = $1",
        data.pledge_id,
    )
    if pledge is None or pledge["incident_id"] != incident_id:
        raise _invalid("/pledge_id", "no such pledge in this incident")
    if pledge["kind"] != data.kind:
        raise _invalid("/kind", f"the pledge is of {pledge['kind']}")
    if data.call_id is not None and data.call_id != pledge["call_id"]:
        raise _invalid("/call_id", "the pledge answers another call")
    donor = data.donor.organization_id
    if "donor" in data.model_fields_set and donor != pledge["organization_id"]:
        raise _invalid("/donor", "a pledge is received from the organization that made it; leave donor out")
    if isinstance(data, MoneyDonationCreate):
        if data.currency != pledge["currency"]:
            raise _invalid("/currency", f"the pledge is in {pledge['currency']}")
        arrived, value, value_currency = data.amount, None, "CNY"
        earmark = (data.earmark.purpose, data.earmark.region) if data.earmark else (None, None)
        where: tuple[UUID | None, UUID | None] = (None, None)
    elif isinstance(data, GoodsDonationCreate):
        if (data.item, data.unit) != (pledge["item"], pledge["call_unit"]):
            raise _invalid("/item", f"the pledge is of {pledge['item']} in {pledge['call_unit']}")
        arrived, value = data.quantity, data.estimated_value
        value_currency, earmark = data.currency, (None, None)
        where = (data.site_id, data.shelter_id)
    else:
        raise TypeError(f"not a donation: {type(data).__name__}")
    if pledge["status"] not in (PledgeStatus.accepted, PledgeStatus.dispatched):
        raise InvalidState(f"the pledge is {pledge['status']}; only accepted or dispatched pledges are received",
                           state=pledge["status"])
    receipt = ledger.Receipt(channel=data.channel, receipt_no=data.receipt_no, estimated_value=value,
                             value_currency=value_currency, note=data.note,
                             earmark_purpose=earmark[0], earmark_region=earmark[1],
                             site_id=where[0], shelter_id=where[1], received_at=data.received_at)
    _, donation = await pledges.transition_with_receipt(
        conn, actor=actor, pledge_id=data.pledge_id, action="deliver", delivered=arrived, receipt=receipt
    )
    if donation is None:  # delivering with a receipt always records one
        raise RuntimeError(f"pledge {data.pledge_id} was delivered without its donation")
    return donation


async def reverse(conn: asyncpg.Connection, *, actor: Principal, donation_id: UUID, reason: str) -> Donation:
    """Correct an entry by appending its negation (donation.reversed); a delivered pledge it received
    goes back to accepted. Nothing in the ledger is changed or deleted."""
    async with db.atomic(conn):
        row = await conn.fetchrow(f"{ledger.SELECT} where d.id = $1 for update of d", donation_id)
        if row is None:
            raise NotFound(f"donation {donation_id} does not exist")
        original = ledger.to_model(row)
        if original.entry == "reversal":
            raise InvalidState("a reversal cannot itself be reversed; record the donation again", state="reversal")
        # Asked again now that the row is locked: the statement above read reversed_by from its own
        # snapshot, which cannot see a reversal committed while it waited for the lock.
        if await conn.fetchval("select id from donations where reverses = $1", donation_id) is not None:
            raise InvalidState(f"donation {donation_id} is already reversed", state="reversed")
        entry = ledger.Entry(
            incident_id=row["incident_id"], kind=row["kind"], quantity=-row["quantity"], currency=row["currency"],
            item=row["item"], unit=row["unit"],
            estimated_value=-row["estimated_value"] if row["estimated_value"] is not None else None,
            value_currency=row["value_currency"], channel=row["channel"],
            donor_organization_id=row["donor_organization_id"], donor_name=row["donor_name"],
            anonymous=row["anonymous"], pledge_id=row["pledge_id"], call_id=row["call_id"],
            reverses=donation_id, reason=reason,
            earmark_purpose=row["earmark_purpose"], earmark_region=row["earmark_region"],  # back out of its fund
            site_id=row["site_id"], shelter_id=row["shelter_id"],  # and goods out of the stock they went into
            received_at=None,  # a reversal is "received" when it is recorded: it is a correction, not an arrival
        )
        if row["pledge_id"] is not None:
            await _undeliver(conn, actor=actor, pledge_id=row["pledge_id"])
        return await ledger.append(conn, actor=actor, entry=entry, before=original)


async def get(conn: asyncpg.Connection, *, donation_id: UUID) -> Donation | None:
    row = await conn.fetchrow(f"{ledger.SELECT} where d.id = $1", donation_id)
    return ledger.to_model(row) if row else None


async def list_donations(
    conn: asyncpg.Connection,
    *,
    incident_id: UUID,
    limit: int,
    cursor: str | None = None,
    kind: str | None = None,
    entry: str | None = None,
    organization_id: UUID | None = None,
    pledge_id: UUID | None = None,
    call_id: UUID | None = None,
) -> Page[Donation]:
    position = cursors.decode_position(cursor) if cursor else (None, None)
    rows = await conn.fetch(
        f"""
        {ledger.SELECT}
         where d.incident_id = $3
           and ($1::timestamptz is null or (d.created_at, d.id) < ($1, $2::uuid))
           and ($4::text is null or d.kind = $4)
           and ($5::text is null or (d.reverses is null) = ($5 = 'receipt'))
           and ($6::uuid is null or d.donor_organization_id = $6)
           and ($7::uuid is null or d.pledge_id = $7)
           and ($8::uuid is null or d.call_id = $8)
         order by d.created_at desc, d.id desc
         limit $9
        """,
        *position,
        incident_id,
        kind,
        entry,
        organization_id,
        pledge_id,
        call_id,
        limit + 1,
    )
    return cursors.page(rows, limit, Donation, ledger.to_model)


async def _undeliver(conn: asyncpg.Connection, *, actor: Principal, pledge_id: UUID) -> Pledge:
    """Undo a delivery whose ledger entry is being reversed: the pledge is accepted again for what had
    arrived (the rest was released at delivery), and the call's delivered counter moves back."""
    row = await conn.fetchrow(f"{pledges.SELECT} where p.id = $1 for update of p", pledge_id)
    before = pledges.to_model(row)
    if before.status != PledgeStatus.delivered:
        raise InvalidState(f"the pledge is {before.status}, not delivered", state=before.status)
    arrived: Decimal = row["delivered_quantity"]
    call_before = await calls.locked(conn, row["call_id"])
    row = await conn.fetchrow(
        f"""
        with p as (
            update pledges set status = 'accepted', quantity = $2, delivered_quantity = null,
                               version = version + 1, updated_at = now()
             where id = $1 returning *
        )
        {pledges.SELECT.replace("from pledges p", "from p")}
        """,
        pledge_id,
        arrived,
    )
    after = pledges.to_model(row)
    call_row = await conn.fetchrow(
        """
        update calls
           set delivered = delivered - $2,
               -- A fulfilled call that is short again reopens, unless its incident has closed meanwhile:
               -- then it closes, as closing the incident would have closed it.
               status = case when status = 'fulfilled' and delivered - $2 < requested
                             then case when $3 then 'open' else 'closed' end else status end,
               closed_at = case when status = 'fulfilled' and delivered - $2 < requested
                                then case when $3 then null else now() end else closed_at end,
               updated_at = now()
         where id = $1
        returning *
        """,
        row["call_id"],
        arrived,
        await conn.fetchval("select status = 'open' from incidents where id = $1", row["incident_id"]),
    )
    await pledges.emit(conn, "pledge.delivery_reversed", actor, after, before)
    if call_row["status"] != call_before["status"]:
        kind = "call.closed" if call_row["status"] == "closed" else "call.updated"
        await calls.emit(conn, kind, actor, calls.to_model(call_row), calls.to_model(call_before))
    return after
