"""CSV exports of an incident, tagged with HXL hashtags: pledges, the donation ledger, evacuations, stock
movements, disbursements, deployments (rescuers' stints on site) and impact figures (the observations).

Each export is a header row, an HXL hashtag row (https://hxlstandard.org/standard/dictionary/) and
data rows. Rows come from a server-side cursor, so an export of any size needs the same memory; all
rows of one export are read in one repeatable-read snapshot, so its totals agree with each other and
with the summary of the same moment.

No personal data leaves through them (DESIGN.md invariant 10): residents appear as a head count of 1
with their origin region, placement, shelter and status, never with a name, ID number, phone or
address. Individual donors' names are for staff and appear in the donations export (only staff may
read exports); nothing else about them does. Rescuers are not residents: the deployments export names
a member and their role (staff may read rosters), never a phone or an emergency contact.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from models.deployments import hours

Row = list[str]

# Rows fetched from the server per round trip: enough to amortise it, few enough to bound memory.
PREFETCH = 500

# Goods estimates carry no currency of their own on a pledge: the summary counts them in CNY.
GOODS_VALUE_CURRENCY = "CNY"


_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")  # a reversal's -80.00 is a number, not a formula


def safe_cell(cell: object) -> object:
    """Text that a spreadsheet would run as a formula (=, +, -, @ first) is prefixed with '."""
    if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@", "\t", "\r") and not _NUMBER.match(cell):
        return "'" + cell
    return cell


def cell(value: Any) -> str:
    """One CSV cell: decimals without exponents, times in ISO 8601, nothing as empty."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class Export:
    name: str
    columns: tuple[tuple[str, str], ...]  # (header, HXL hashtag)
    rows: Callable[[asyncpg.Connection, UUID], AsyncIterator[Row]]

    @property
    def headers(self) -> Row:
        return [header for header, _ in self.columns]

    @property
    def hashtags(self) -> Row:
        return [tag for _, tag in self.columns]


async def incident_code(conn: asyncpg.Connection, incident_id: UUID) -> str | None:
    """The incident's code (for the file name), or None when there is no such incident."""
    return await conn.fetchval("select code from incidents where id = $1", incident_id)


def _snapshot(conn: asyncpg.Connection):  # type: ignore[no-untyped-def]
    # Cursors need a transaction; repeatable read makes every row of the export one moment's.
    return conn.transaction(isolation="repeatable_read", readonly=True)


PLEDGE_COLUMNS = (
    ("Pledge", "#meta+id"),
    ("Organization", "#org+name"),
    ("Credit code", "#org+code"),
    ("Call", "#activity+name"),
    ("Kind", "#activity+type"),
    ("Item or skill", "#item+name"),
    ("Quantity", "#meta+quantity"),
    ("Unit", "#item+unit"),
    ("Value", "#value"),
    ("Currency", "#currency"),
    ("Status", "#status"),
    ("Delivered", "#output+delivered"),
    ("Pledged at", "#date+reported"),
)


async def pledge_rows(conn: asyncpg.Connection, incident_id: UUID) -> AsyncIterator[Row]:
    """One row per pledge. Quantity is in the call's unit (amount, quantity or headcount); Value is the
    amount of a money pledge or the estimated value of a goods pledge, in Currency."""
    query = """
        select p.id, o.name as org_name, o.credit_code, c.title, p.kind, coalesce(c.item, c.skill) as item,
               p.quantity, p.unit, p.currency, p.estimated_value, p.status, p.delivered_quantity, p.created_at
          from pledges p
          join organizations o on o.id = p.organization_id
          join calls c on c.id = p.call_id
         where p.incident_id = $1
         order by p.created_at, p.id
    """
    async with _snapshot(conn):
        async for r in conn.cursor(query, incident_id, prefetch=PREFETCH):
            kind = r["kind"]
            if kind == "money":
                unit, value, currency = r["currency"], r["quantity"], r["currency"]
            elif kind == "goods":
                unit, value = r["unit"], r["estimated_value"]
                currency = GOODS_VALUE_CURRENCY if value is not None else None
            else:
                unit, value, currency = "person", None, None
            yield [cell(v) for v in (
                r["id"], r["org_name"], r["credit_code"], r["title"], kind, None if kind == "money" else r["item"],
                r["quantity"], unit, value, currency, r["status"], r["delivered_quantity"], r["created_at"],
            )]


DONATION_COLUMNS = (
    ("Entry", "#meta+id"),
    ("Entry type", "#meta+entry"),
    ("Reverses", "#meta+reverses"),
    ("Kind", "#modality"),
    ("Donor", "#org+donor+name"),
    ("Donor type", "#org+donor+type"),
    ("Donor credit code", "#org+donor+code"),
    ("Item", "#item+name"),
    ("Quantity", "#meta+quantity"),
    ("Unit", "#item+unit"),
    ("Value", "#value"),
    ("Currency", "#currency"),
    ("Channel", "#meta+channel"),
    ("Receipt", "#meta+receipt"),
    ("Pledge", "#meta+pledge"),
    ("Call", "#activity+name"),
    ("Reason", "#meta+reason"),
    ("Received at", "#date+received"),
    ("Recorded at", "#date+reported"),
)


async def donation_rows(conn: asyncpg.Connection, incident_id: UUID) -> AsyncIterator[Row]:
    """One row per ledger entry, reversals included (negative). Value is the amount of money received
    or the estimated value of goods received, in Currency; summed per currency it is the net received."""
    query = """
        select d.id, d.reverses, d.kind, d.quantity, d.currency, d.item, d.unit, d.estimated_value,
               d.value_currency, d.channel, d.receipt_no, d.donor_name, d.anonymous, d.pledge_id, d.reason,
               d.received_at, d.created_at, o.name as org_name, o.credit_code, c.title as call_title
          from donations d
          left join organizations o on o.id = d.donor_organization_id
          left join calls c on c.id = d.call_id
         where d.incident_id = $1
         order by d.created_at, d.id
    """
    async with _snapshot(conn):
        async for r in conn.cursor(query, incident_id, prefetch=PREFETCH):
            if r["org_name"] is not None:
                donor, donor_type = r["org_name"], "organization"
            elif r["donor_name"] and not r["anonymous"]:
                donor, donor_type = r["donor_name"], "individual"
            else:
                donor, donor_type = "anonymous", "anonymous"
            if r["kind"] == "money":
                quantity, unit, value, currency = None, None, r["quantity"], r["currency"]
            else:
                quantity, unit, value = r["quantity"], r["unit"], r["estimated_value"]
                currency = (r["value_currency"] or GOODS_VALUE_CURRENCY) if value is not None else None
            yield [cell(v) for v in (
                r["id"], "reversal" if r["reverses"] else "receipt", r["reverses"], r["kind"], donor, donor_type,
                r["credit_code"], r["item"], quantity, unit, value, currency, r["channel"], r["receipt_no"],
                r["pledge_id"], r["call_title"], r["reason"], r["received_at"], r["created_at"],
            )]


EVACUATION_COLUMNS = (
    ("Record", "#meta+id"),
    ("Record type", "#meta+type"),
    ("People", "#affected+displaced"),
    ("Placement", "#meta+placement"),
    ("From region", "#adm3+code"),
    ("Shelter", "#loc+name"),
    ("Assisted by", "#org+name"),
    ("Status", "#status"),
    ("Reported at", "#date+reported"),
)


async def evacuation_rows(conn: asyncpg.Connection, incident_id: UUID) -> AsyncIterator[Row]:
    """Aggregate evacuations (head counts), then residents one row each with a count of 1: the People
    column sums to the summary's residents evacuated. A resident's placement is centralized once they
    have been checked in to a shelter, else registered; no name, ID number, phone or address."""
    aggregates = """
        select e.id, e.count, e.placement, e.from_region, s.name as shelter, o.name as org_name, e.occurred_at
          from evacuations e
          left join shelters s on s.id = e.shelter_id
          left join organizations o on o.id = e.assisted_by
         where e.incident_id = $1
         order by e.created_at, e.id
    """
    individuals = """
        select r.id, r.status, r.sheltered_at is not null as centralized, r.origin_region, s.name as shelter,
               o.name as org_name, r.created_at
          from residents r
          left join shelters s on s.id = r.shelter_id
          left join organizations o on o.id = r.assisted_by
         where r.incident_id = $1
         order by r.created_at, r.id
    """
    async with _snapshot(conn):
        async for r in conn.cursor(aggregates, incident_id, prefetch=PREFETCH):
            yield [cell(v) for v in (
                r["id"], "aggregate", r["count"], r["placement"], r["from_region"], r["shelter"], r["org_name"],
                "recorded", r["occurred_at"],
            )]
        async for r in conn.cursor(individuals, incident_id, prefetch=PREFETCH):
            yield [cell(v) for v in (
                r["id"], "individual", 1, "centralized" if r["centralized"] else "registered", r["origin_region"],
                r["shelter"], r["org_name"], r["status"], r["created_at"],
            )]


STOCK_MOVEMENT_COLUMNS = (
    ("Movement", "#meta+id"),
    ("Kind", "#meta+type"),
    ("Reverses", "#meta+reverses"),
    ("Transfer", "#meta+transfer"),
    ("Item", "#item+name"),
    ("Quantity", "#meta+quantity"),
    ("Unit", "#item+unit"),
    ("From", "#loc+name+from"),
    ("To", "#loc+name+to"),
    ("Lost", "#meta+lost"),
    ("Recipients", "#meta+recipients"),
    ("People reached", "#reached"),
    ("Region", "#adm3+code"),
    ("Reason", "#meta+reason"),
    ("Moved at", "#date+moved"),
    ("Recorded at", "#date+reported"),
)


async def stock_movement_rows(conn: asyncpg.Connection, incident_id: UUID) -> AsyncIterator[Row]:
    """One row per stock movement, in the order recorded. Locations by name (a site's or a shelter's);
    a distribution names the kind of recipient and how many people it reached, never a person."""
    query = """
        select m.id, m.kind, m.reverses, m.transfer_id, m.item, m.quantity, m.unit,
               coalesce(fs.name, fh.name) as from_name, coalesce(ts.name, th.name) as to_name,
               m.lost, m.recipient_kind, m.people_reached, m.region, m.reason, m.moved_at, m.created_at
          from stock_movements m
          left join sites fs on fs.id = m.from_site_id left join shelters fh on fh.id = m.from_shelter_id
          left join sites ts on ts.id = m.to_site_id left join shelters th on th.id = m.to_shelter_id
         where m.incident_id = $1
         order by m.created_at, m.id
    """
    async with _snapshot(conn):
        async for r in conn.cursor(query, incident_id, prefetch=PREFETCH):
            yield [cell(v) for v in (
                r["id"], r["kind"], r["reverses"], r["transfer_id"], r["item"], r["quantity"], r["unit"],
                r["from_name"], r["to_name"], r["lost"] or None, r["recipient_kind"], r["people_reached"],
                r["region"], r["reason"], r["moved_at"], r["created_at"],
            )]


DISBURSEMENT_COLUMNS = (
    ("Disbursement", "#meta+id"),
    ("Entry type", "#meta+entry"),
    ("Reverses", "#meta+reverses"),
    ("Status", "#status"),
    ("Purpose", "#sector"),
    ("Amount", "#value"),
    ("Currency", "#currency"),
    ("Fund purpose", "#meta+fund+purpose"),
    ("Fund region", "#meta+fund+region"),
    ("Recipient type", "#org+recipient+type"),
    ("Recipient", "#org+recipient+name"),
    ("Households", "#affected+hh"),
    ("Region", "#adm3+code"),
    ("Voucher", "#meta+voucher"),
    ("Disbursed at", "#date+disbursed"),
    ("Proposed at", "#date+reported"),
    ("Decided at", "#date+approved"),
)


async def disbursement_rows(conn: asyncpg.Connection, incident_id: UUID) -> AsyncIterator[Row]:
    """One row per disbursement, proposed and rejected ones included (Status says which count: approved),
    reversals as negative amounts. A resident recipient is named by type only."""
    query = """
        select d.id, d.reverses, d.status, d.purpose, d.amount, d.currency, d.fund_purpose, d.fund_region,
               d.recipient_organization_id, d.recipient_shelter_id, d.recipient_resident_id,
               d.recipient_households, o.name as org_name, s.name as shelter_name, d.region, d.voucher_no,
               d.disbursed_at, d.created_at, d.decided_at
          from disbursements d
          left join organizations o on o.id = d.recipient_organization_id
          left join shelters s on s.id = d.recipient_shelter_id
         where d.incident_id = $1
         order by d.created_at, d.id
    """
    async with _snapshot(conn):
        async for r in conn.cursor(query, incident_id, prefetch=PREFETCH):
            if r["recipient_organization_id"] is not None:
                kind, name = "organization", r["org_name"]
            elif r["recipient_shelter_id"] is not None:
                kind, name = "shelter", r["shelter_name"]
            elif r["recipient_resident_id"] is not None:
                kind, name = "resident", None
            elif r["recipient_households"] is not None:
                kind, name = "households", None
            else:
                kind, name = None, None  # a reversal names its original's recipient through Reverses
            yield [cell(v) for v in (
                r["id"], "reversal" if r["reverses"] else "disbursement", r["reverses"], r["status"], r["purpose"],
                r["amount"], r["currency"], r["fund_purpose"] or None, r["fund_region"] or None, kind, name,
                r["recipient_households"], r["region"], r["voucher_no"],
                # Only an approved entry was paid out: a proposal's or a rejected one's time is no payment's.
                r["disbursed_at"] if r["status"] == "approved" else None, r["created_at"], r["decided_at"],
            )]


DEPLOYMENT_COLUMNS = (
    ("Deployment", "#meta+id"),
    ("Task", "#activity+name"),
    ("Task id", "#activity+code"),
    ("Region", "#adm3+code"),
    ("Organization", "#org+name"),
    ("Credit code", "#org+code"),
    ("Member", "#meta+member+id"),
    ("Member name", "#meta+member+name"),
    ("Role", "#meta+role"),
    ("Checked in", "#date+start"),
    ("Expected back", "#date+expected"),
    ("Checked out", "#date+end"),
    ("Seconds", "#meta+seconds"),
    ("Hours", "#output+hours"),
    ("Status", "#status"),
    ("Overdue alarm raised", "#date+overdue"),
)


async def deployment_rows(conn: asyncpg.Connection, incident_id: UUID) -> AsyncIterator[Row]:
    """One row per stint on site, in check-in order. Seconds are exact (they sum to the summary's
    person-hours of completed stints); Hours is the same to the hundredth. Status is back, on_site, or
    overdue while an alarm raised for the current deadline stands; the time the alarm was raised stays
    on the row after the member is back (an extension clears it)."""
    query = """
        select d.id, t.title, d.task_id, t.region, o.name as org_name, o.credit_code, d.member_id, m.name, m.role,
               d.checked_in_at, d.expected_back_at, d.checked_out_at, d.overdue_raised_at,
               extract(epoch from d.checked_out_at) - extract(epoch from d.checked_in_at) as seconds
          from deployments d
          join tasks t on t.id = d.task_id
          join organizations o on o.id = d.organization_id
          join roster_members m on m.id = d.member_id
         where d.incident_id = $1
         order by d.checked_in_at, d.id
    """
    async with _snapshot(conn):
        async for r in conn.cursor(query, incident_id, prefetch=PREFETCH):
            ended = r["checked_out_at"] is not None
            status = "back" if ended else "overdue" if r["overdue_raised_at"] is not None else "on_site"
            yield [cell(v) for v in (
                r["id"], r["title"], r["task_id"], r["region"], r["org_name"], r["credit_code"], r["member_id"],
                r["name"], r["role"], r["checked_in_at"], r["expected_back_at"], r["checked_out_at"],
                r["seconds"].normalize() if ended else None, hours(r["seconds"]) if ended else None, status,
                r["overdue_raised_at"],
            )]


IMPACT_COLUMNS = (
    ("Observation", "#meta+id"),
    ("Region", "#adm3+code"),
    ("Figure", "#indicator+code"),
    ("Value", "#indicator+num"),
    ("Unit", "#indicator+unit"),
    ("Source", "#meta+source"),
    ("Organization", "#org+name"),
    ("As of", "#date+reported"),
    ("Recorded at", "#date+recorded"),
    ("Note", "#description"),
)


async def impact_rows(conn: asyncpg.Connection, incident_id: UUID) -> AsyncIterator[Row]:
    """Every observation of an impact figure, in the order recorded (the history, not the current values:
    those are the latest per region, figure, source and organization by As of). Organization names the
    reporting organization of source organization only."""
    query = """
        select i.id, i.region, i.figure, i.value, i.unit, i.source, o.name as org_name, i.as_of, i.created_at,
               i.note
          from impacts i left join organizations o on o.id = i.organization_id
         where i.incident_id = $1
         order by i.created_at, i.id
    """
    async with _snapshot(conn):
        async for r in conn.cursor(query, incident_id, prefetch=PREFETCH):
            yield [cell(v) for v in (
                r["id"], r["region"], r["figure"], r["value"], r["unit"], r["source"], r["org_name"], r["as_of"],
                r["created_at"], r["note"] or None,
            )]


EXPORTS: dict[str, Export] = {
    export.name: export
    for export in (
        Export("pledges", PLEDGE_COLUMNS, pledge_rows),
        Export("donations", DONATION_COLUMNS, donation_rows),
        Export("evacuations", EVACUATION_COLUMNS, evacuation_rows),
        Export("stock-movements", STOCK_MOVEMENT_COLUMNS, stock_movement_rows),
        Export("disbursements", DISBURSEMENT_COLUMNS, disbursement_rows),
        Export("deployments", DEPLOYMENT_COLUMNS, deployment_rows),
        Export("impacts", IMPACT_COLUMNS, impact_rows),
    )
}
