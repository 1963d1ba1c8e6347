"""Disbursements (拨付): money paid out of a fund, proposed by one dispatcher and approved by another.

Each is paid out of one fund (relief/funds.py): unearmarked money, or an earmark of its purpose whose
region holds the disbursement's region. An approval draws the fund by a guarded update, so nothing is
ever paid beyond a fund's balance, however many approvals run at once (409 with `available`).
Only approved disbursements are paid and are ledger entries (chained). A reversal is a new, negative
row naming the approved payment; it returns the money to its fund and is approved as it is written,
by the dispatcher who records it: it pays nobody, so it needs no second pair of eyes.

Counters (incident_counters), moved in the approval's or the reversal's transaction:
- `money_disbursed` [currency]: approved payments net of reversals;
- `disbursed_by_purpose` [currency|purpose]: the same, per purpose;
- `disbursements` ['']: how many approved payments stand (reversals count −1).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from models.amounts import check_money
from models.common import Page
from models.disbursements import Disbursement, DisbursementCreate, EarmarkView, RecipientView
from models.summary import Difference
from relief import chain, counters, cursors, db, events, funds, incidents
from relief.auth import Principal
from relief.errors import Conflict, Forbidden, Invalid, InvalidState, NotFound

_JOINS = """
      left join organizations o on o.id = d.recipient_organization_id
      left join shelters s on s.id = d.recipient_shelter_id
"""
SELECT = f"""
    select d.*, o.name as organization_name, s.name as shelter_name,
           (select r.id from disbursements r where r.reverses = d.id) as reversed_by
      from disbursements d {_JOINS}
"""
# A row just written (in a CTE named d) read back as SELECT reads it, in the same round trip.
WRITTEN = f"select d.*, o.name as organization_name, s.name as shelter_name, null::uuid as reversed_by from d {_JOINS}"


def to_model(row: asyncpg.Record | dict[str, Any]) -> Disbursement:
    kind = ("organization" if row["recipient_organization_id"] else "shelter" if row["recipient_shelter_id"]
            else "resident" if row["recipient_resident_id"] else "households")
    return Disbursement(
        **{k: row[k] for k in ("id", "incident_id", "amount", "currency", "purpose", "region", "voucher_no", "status",
                               "proposed_by", "decided_by", "decided_at", "reason", "reverses", "reversed_by", "note",
                               "version", "disbursed_at", "created_at", "updated_at")},
        entry="reversal" if row["reverses"] else "payment",
        fund=EarmarkView(purpose=row["fund_purpose"], region=row["fund_region"] or None) if row["fund_purpose"]
        else None,
        recipient=RecipientView(
            kind=kind,
            organization_id=row["recipient_organization_id"],
            organization_name=row["organization_name"],
            shelter_id=row["recipient_shelter_id"],
            shelter_name=row["shelter_name"],
            resident_id=row["recipient_resident_id"],  # the id only: a resident's name never leaves
            households=row["recipient_households"],
        ),
    )


def _invalid(pointer: str, detail: str) -> Invalid:
    return Invalid(detail, errors=[{"pointer": pointer, "detail": detail}])


async def _recipient_region(conn: asyncpg.Connection, incident_id: UUID, data: DisbursementCreate) -> str | None:
    """Check that the recipient exists (in the incident), and say where the money goes."""
    recipient = data.recipient
    if recipient.organization_id is not None:
        if not await conn.fetchval("select 1 from organizations where id = $1", recipient.organization_id):
            raise _invalid("/recipient/organization_id", "no such organization")
        return data.region
    if recipient.shelter_id is not None:
        if not await conn.fetchval("select 1 from shelters where id = $1 and incident_id = $2",
                                   recipient.shelter_id, incident_id):
            raise _invalid("/recipient/shelter_id", "no such shelter in this incident")
        return data.region
    if recipient.resident_id is not None:
        origin = await conn.fetchval("select origin_region from residents where id = $1 and incident_id = $2",
                                     recipient.resident_id, incident_id)
        if origin is None:
            raise _invalid("/recipient/resident_id", "no such resident in this incident")
        return data.region or origin
    if data.region is not None and data.region != recipient.region:
        raise _invalid("/region", f"the households are in {recipient.region}; the money goes there")
    return recipient.region


async def _fund_of(conn: asyncpg.Connection, incident_id: UUID, data: DisbursementCreate,
                   region: str | None) -> tuple[str, str]:
    """The fund drawn on, as (purpose, region): an earmark of the disbursement's purpose whose region
    holds the disbursement's, or ('', '') for unearmarked money."""
    fund = data.fund
    if fund is None:
        return "", ""
    if fund.purpose != data.purpose:
        raise _invalid("/fund/purpose", f"that earmark is for {fund.purpose}; it cannot pay for {data.purpose}")
    if fund.region is not None:
        if region is None:
            raise _invalid("/region", f"the earmark is for regions {fund.region}…: name the region the money goes to")
        if not region.startswith(fund.region):
            raise _invalid("/fund/region", f"the earmark is for regions {fund.region}…, and {region} is not one")
    key = funds.Key(incident_id, data.currency, fund.purpose, fund.region or "")
    if not await funds.exists(conn, key):
        raise _invalid("/fund", f"no {data.currency} money in this incident carries that earmark")
    return key.purpose, key.region


async def _emit(conn: asyncpg.Connection, type: str, actor: Principal, after: Disbursement,
                before: Disbursement | None = None) -> None:
    await events.emit(conn, type=type, actor=actor, entity_type="disbursement", entity_id=after.reverses or after.id,
                      incident_id=after.incident_id, organization_id=after.recipient.organization_id,
                      before=before, after=after)


def _fund(d: Disbursement) -> funds.Key:
    if d.fund is None:
        return funds.Key(d.incident_id, d.currency)
    return funds.Key(d.incident_id, d.currency, d.fund.purpose, d.fund.region or "")


def _moves(d: Disbursement) -> counters.Bumps:
    one = -1 if d.reverses else 1
    return {("money_disbursed", d.currency): d.amount, ("disbursed_by_purpose", f"{d.currency}|{d.purpose}"): d.amount,
            ("disbursements", ""): one}


def _own_key(actor: Principal) -> UUID:
    if actor.key_id is None:  # the command line acts as "system": four eyes need two people's keys
        raise Forbidden("disbursements are proposed, decided and reversed with a dispatcher's own key")
    return actor.key_id


async def propose(conn: asyncpg.Connection, *, actor: Principal, incident_id: UUID,
                  data: DisbursementCreate) -> Disbursement:
    """Propose a payment (disbursement.proposed); nothing is paid until another key approves it."""
    key_id = _own_key(actor)
    try:
        check_money(data.amount, data.currency)
    except ValueError as exc:
        raise _invalid("/amount", str(exc)) from None
    async with db.atomic(conn):
        await incidents.require(conn, incident_id)
        region = await _recipient_region(conn, incident_id, data)
        fund_purpose, fund_region = await _fund_of(conn, incident_id, data, region)
        r = data.recipient
        try:
            row = await conn.fetchrow(
                f"""
                with d as (
                    insert into disbursements (incident_id, amount, currency, purpose, fund_purpose, fund_region,
                                               recipient_organization_id, recipient_shelter_id, recipient_resident_id,
                                               recipient_households, region, voucher_no, proposed_by, note,
                                               disbursed_at)
                    values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, coalesce($15, now()))
                    returning *
                )
                {WRITTEN}
                """,
                incident_id, data.amount, data.currency, data.purpose, fund_purpose, fund_region, r.organization_id,
                r.shelter_id, r.resident_id, r.households, region, data.voucher_no, key_id, data.note,
                data.disbursed_at,
            )
        except asyncpg.UniqueViolationError:
            raise Conflict(f"voucher {data.voucher_no} is already in this incident's disbursements",
                           voucher_no=data.voucher_no) from None
        proposed = to_model(row)
        await _emit(conn, "disbursement.proposed", actor, proposed)
    return proposed


async def _locked(conn: asyncpg.Connection, disbursement_id: UUID) -> Disbursement:
    row = await conn.fetchrow(f"{SELECT} where d.id = $1 for update of d", disbursement_id)
    if row is None:
        raise NotFound(f"disbursement {disbursement_id} does not exist")
    return to_model(row)


async def decide(conn: asyncpg.Connection, *, actor: Principal, disbursement_id: UUID, approve: bool,
                 reason: str | None = None) -> Disbursement:
    """Approve (pay it from its fund: 409 with `available` if the fund is short) or reject a proposal,
    with a key other than the one that proposed it (403 otherwise)."""
    key_id = _own_key(actor)
    async with db.atomic(conn):
        # Lock order everywhere: the disbursement, then its fund, then counters, then the chain.
        before = await _locked(conn, disbursement_id)
        if key_id == before.proposed_by:
            raise Forbidden("four eyes: the key that proposed a disbursement cannot approve or reject it; another "
                            "dispatcher must, with their own key")
        if before.status != "proposed":
            raise InvalidState(f"the disbursement is {before.status}; only a proposed one is decided",
                               state=before.status)
        if approve:
            await funds.draw(conn, _fund(before), before.amount)  # 409 with `available` when it holds less
        # A proposal that gave no disbursed_at holds its proposal time there (created_at, to the microsecond:
        # both are the proposing transaction's now()); approving it pays it now.
        row = await conn.fetchrow(
            f"""
            with d as (
                update disbursements
                   set status = $2, decided_by = $3, decided_at = now(), reason = $4, version = version + 1,
                       updated_at = now(),
                       disbursed_at = case when $2 = 'approved' and disbursed_at = created_at then now()
                                           else disbursed_at end
                 where id = $1
                returning *
            )
            {WRITTEN}
            """,
            disbursement_id, "approved" if approve else "rejected", key_id, reason,
        )
        after = to_model(row)
        if approve:
            await counters.bump(conn, after.incident_id, _moves(after))
        await _emit(conn, "disbursement.approved" if approve else "disbursement.rejected", actor, after, before)
        if approve:
            await chain.append(conn, kind="disbursement", row=row)  # last: see relief/chain.py
    return after


async def reverse(conn: asyncpg.Connection, *, actor: Principal, disbursement_id: UUID, reason: str) -> Disbursement:
    """Correct an approved payment with its negation (disbursement.reversed): the money returns to its fund."""
    key_id = _own_key(actor)
    async with db.atomic(conn):
        original = await _locked(conn, disbursement_id)
        if original.entry == "reversal":
            raise InvalidState("a reversal cannot itself be reversed; propose the payment again", state="reversal")
        if original.status != "approved":
            raise InvalidState(f"the disbursement is {original.status}; only an approved payment is reversed",
                               state=original.status)
        # Asked again under the lock: _locked read reversed_by from a snapshot taken before it waited.
        if await conn.fetchval("select id from disbursements where reverses = $1", disbursement_id) is not None:
            raise InvalidState(f"disbursement {disbursement_id} is already reversed", state="reversed")
        row = await conn.fetchrow(
            f"""
            with d as (
                insert into disbursements (incident_id, amount, currency, purpose, fund_purpose, fund_region,
                                           recipient_organization_id, recipient_shelter_id, recipient_resident_id,
                                           recipient_households, region, voucher_no, status, proposed_by,
                                           decided_by, decided_at, reason, reverses)
                select incident_id, -amount, currency, purpose, fund_purpose, fund_region, recipient_organization_id,
                       recipient_shelter_id, recipient_resident_id, recipient_households, region, voucher_no,
                       'approved', $2, $2, now(), $3, id
                  from disbursements where id = $1
                returning *
            )
            {WRITTEN}
            """,
            disbursement_id, key_id, reason,
        )
        reversal = to_model(row)
        await funds.give_back(conn, _fund(original), original.amount)
        await counters.bump(conn, reversal.incident_id, _moves(reversal))
        await _emit(conn, "disbursement.reversed", actor, reversal, original)
        await chain.append(conn, kind="disbursement", row=row)  # last: see relief/chain.py
    return reversal


async def get(conn: asyncpg.Connection, *, disbursement_id: UUID) -> Disbursement | None:
    row = await conn.fetchrow(f"{SELECT} where d.id = $1", disbursement_id)
    return to_model(row) if row else None


async def list_disbursements(
    conn: asyncpg.Connection, *, incident_id: UUID, limit: int, cursor: str | None = None,
    status: str | None = None, purpose: str | None = None, entry: str | None = None,
) -> Page[Disbursement]:
    position = cursors.decode_position(cursor) if cursor else (None, None)
    rows = await conn.fetch(
        f"""
        {SELECT}
         where d.incident_id = $3
           and ($1::timestamptz is null or (d.created_at, d.id) < ($1, $2::uuid))
           and ($4::text is null or d.status = $4)
           and ($5::text is null or d.purpose = $5)
           and ($6::text is null or (d.reverses is null) = ($6 = 'payment'))
         order by d.created_at desc, d.id desc
         limit $7
        """,
        *position, incident_id, status, purpose, entry, limit + 1,
    )
    return cursors.page(rows, limit, Disbursement, to_model)


async def expected_counters(conn: asyncpg.Connection, incident_id: UUID) -> dict[tuple[str, str], Decimal]:
    """The disbursement counters recomputed from the approved rows, for `relief reconcile`."""
    rows = await conn.fetch(
        """
        select 'money_disbursed' as name, currency as key, sum(amount) as value
          from disbursements where incident_id = $1 and status = 'approved' group by currency
        union all
        select 'disbursed_by_purpose', currency || '|' || purpose, sum(amount)
          from disbursements where incident_id = $1 and status = 'approved' group by currency, purpose
        union all
        select 'disbursements', '', sum(case when reverses is null then 1 else -1 end)
          from disbursements where incident_id = $1 and status = 'approved'
        """,
        incident_id,
    )
    return {(r["name"], r["key"]): r["value"] for r in rows if r["value"] is not None}


async def differences(conn: asyncpg.Connection, incident_id: UUID) -> list[Difference]:
    """Each fund's received and paid against money donations and approved disbursements recomputed."""
    rows = await conn.fetch(
        """
        with received as (
            select currency, coalesce(earmark_purpose, '') as purpose, coalesce(earmark_region, '') as region,
                   sum(quantity) as value
              from donations where incident_id = $1 and kind = 'money' group by 1, 2, 3
        ), paid as (
            select currency, fund_purpose as purpose, fund_region as region, sum(amount) as value
              from disbursements where incident_id = $1 and status = 'approved' group by 1, 2, 3
        )
        select currency, purpose, region, coalesce(f.received, 0) as received, coalesce(f.paid, 0) as paid,
               coalesce(r.value, 0) as e_received, coalesce(p.value, 0) as e_paid
          from (select currency, purpose, region, received, paid from funds where incident_id = $1) f
          full join received r using (currency, purpose, region)
          full join paid p using (currency, purpose, region)
         order by currency, purpose, region
        """,
        incident_id,
    )
    return [
        Difference(incident_id=incident_id, counter=f"fund.{name}", key=f"{r['currency']}|{r['purpose']}|{r['region']}",
                   stored=r[name], recomputed=r[f"e_{name}"])
        for r in rows for name in ("received", "paid") if r[name] != r[f"e_{name}"]
    ]
