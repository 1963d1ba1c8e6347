"""Rosters: who exactly a personnel pledge sends, each member with a stable id (issue 12).

A roster is replaced whole (PUT, under If-Match with the pledge's roster_version): members listed
with an id are kept and changed as written, members without one join, live members not listed leave
(removed_at; their rows stay so that the hours they worked stay readable). The deployments area moves
members' `state` (standby → on_site → back) and reads rosters through members() and member().

Lock order, everywhere: the pledge row, then its members' rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

import asyncpg

from models.calls import CallKind
from models.keys import Role
from models.pledges import PledgeStatus
from models.rosters import (
    CertificateOut,
    EmergencyContactOut,
    MemberRole,
    MemberState,
    Roster,
    RosterMember,
    RosterMemberIn,
    RosterSet,
)
from relief import db, events
from relief.auth import Principal
from relief.errors import Conflict, Forbidden, IfMatch, Invalid, InvalidState, NotFound, StaleVersion

# Rosters can be read in any state (a rejected pledge's roster is history), and set from `pledged`
# on, so that a dispatcher can check certificates before accepting, until the pledge ends.
CLOSED = frozenset({PledgeStatus.rejected, PledgeStatus.withdrawn})

_MEMBERS = """
    select * from roster_members
     where pledge_id = $1 and removed_at is null
     order by position, created_at, id
"""


async def members(conn: asyncpg.Connection, *, pledge_id: UUID, lock: bool = False) -> list[asyncpg.Record]:
    """The live members of a pledge's roster, in the order the organization listed them.

    `lock` takes their rows FOR UPDATE; lock the pledge row first (the order above)."""
    return await conn.fetch(_MEMBERS + (" for update" if lock else ""), pledge_id)


async def member(conn: asyncpg.Connection, member_id: UUID) -> asyncpg.Record | None:
    """One member by id, live or removed (removed_at says which), or None."""
    return await conn.fetchrow("select * from roster_members where id = $1", member_id)


def member_model(row: asyncpg.Record | dict[str, Any]) -> RosterMember:
    """A member row as the API shows it, unmasked: pass it through masking.shown_model("roster_member", …)."""
    contact = None
    if row["emergency_phone"] is not None:
        contact = EmergencyContactOut(name=row["emergency_name"], phone=row["emergency_phone"])
    return RosterMember(
        **{k: row[k] for k in ("id", "pledge_id", "organization_id", "name", "phone", "email", "skills",
                               "created_at", "updated_at")},
        certificates=[CertificateOut(**c) for c in row["certificates"]],
        role=MemberRole(row["role"]),
        emergency_contact=contact,
        state=MemberState(row["state"]),
    )


def to_model(pledge: Mapping[str, Any], rows: list[asyncpg.Record]) -> Roster:
    return Roster(
        pledge_id=pledge["id"],
        incident_id=pledge["incident_id"],
        organization_id=pledge["organization_id"],
        pledge_status=pledge["status"],
        headcount=int(pledge["quantity"]),
        members=[member_model(r) for r in rows],
        version=pledge["roster_version"],
    )


_PLEDGE = "select id, kind, status, quantity, incident_id, organization_id, roster_version from pledges where id = $1"


async def _pledge(conn: asyncpg.Connection, actor: Principal, pledge_id: UUID, *, lock: bool) -> asyncpg.Record:
    row = await conn.fetchrow(_PLEDGE + (" for update" if lock else ""), pledge_id)
    # Another organization's pledge reads as absent, as GET /v1/pledges/{id} does: its existence is not told.
    if row is None or (actor.role == Role.organization and not actor.owns(row["organization_id"])):
        raise NotFound(f"pledge {pledge_id} does not exist")
    return row


async def get(conn: asyncpg.Connection, *, actor: Principal, pledge_id: UUID) -> Roster:
    """A personnel pledge's roster (staff: any; an organization: its own), unmasked."""
    pledge = await _pledge(conn, actor, pledge_id, lock=False)
    if pledge["kind"] != CallKind.personnel:
        raise NotFound(f"pledge {pledge_id} is a {pledge['kind']} pledge: only personnel pledges have a roster")
    return to_model(pledge, await members(conn, pledge_id=pledge_id))


def _invalid(pointer: str, detail: str) -> Invalid:
    return Invalid(detail, errors=[{"pointer": pointer, "detail": detail}])


def _fields(m: RosterMemberIn, position: int) -> dict[str, Any]:
    """A listed member as its row's columns hold it."""
    contact = m.emergency_contact
    return {
        "name": m.name, "phone": m.phone, "email": m.email, "skills": list(dict.fromkeys(m.skills)),
        "certificates": [c.model_dump() for c in m.certificates], "role": str(m.role),
        "emergency_name": contact.name if contact else None, "emergency_phone": contact.phone if contact else None,
        "position": position,
    }


def _check_listing(data: RosterSet, current: dict[UUID, asyncpg.Record]) -> None:
    """What the body says about itself and this roster: ids of its members, listed once; one lead."""
    seen: set[UUID] = set()
    lead: int | None = None
    for i, m in enumerate(data.members):
        if m.id is not None:
            if m.id in seen:
                raise _invalid(f"/members/{i}/id", "this member is listed twice")
            if m.id not in current:
                raise _invalid(f"/members/{i}/id", "no member of this roster has this id; omit it to add someone new")
            seen.add(m.id)
        if m.role == MemberRole.lead:
            if lead is not None:
                # One person answers for the team, as the pledge names one lead; a deputy is a member.
                raise _invalid(f"/members/{i}/role", f"a roster has one lead, and /members/{lead} is already it")
            lead = i


def _taken(pointers: list[str]) -> Conflict:
    # Whose roster holds the phone is not said: another organization's team is not ours to tell.
    return Conflict(
        "a phone is one person in an incident, and this one is already on a roster of it",
        errors=[{"pointer": p, "detail": "already on a live roster in this incident"} for p in pointers],
    )


async def _check_phones(conn: asyncpg.Connection, pledge: asyncpg.Record, data: RosterSet) -> None:
    """409 for a phone listed twice here, or on another live roster of the incident (this roster's own
    members are either listed, and so checked above, or leave with this PUT)."""
    first: dict[str, int] = {}
    twice = []
    for i, m in enumerate(data.members):
        if m.phone in first:
            twice.append(f"/members/{i}/phone")
        first.setdefault(m.phone, i)
    if twice:
        raise _taken(twice)
    taken = await conn.fetch(
        """
        select phone from roster_members
         where incident_id = $1 and removed_at is null and pledge_id <> $2 and phone = any($3::text[])
        """,
        pledge["incident_id"], pledge["id"], list(first),
    )
    if taken:
        raise _taken([f"/members/{first[r['phone']]}/phone" for r in taken])


def _counts(rows: list[Any]) -> dict[str, int]:
    return {"members": len(rows), "leads": sum(1 for r in rows if r["role"] == MemberRole.lead)}


async def put(
    conn: asyncpg.Connection, *, actor: Principal, pledge_id: UUID, version: IfMatch, data: RosterSet
) -> Roster:
    """Replace a personnel pledge's roster (the pledging organization, under If-Match); roster.updated."""
    if actor.role != Role.organization:
        raise Forbidden("the pledging organization sets its roster; the bureau's dispatchers read it")
    async with db.atomic(conn):
        pledge = await _pledge(conn, actor, pledge_id, lock=True)
        if pledge["kind"] != CallKind.personnel:
            # Not a 409: a pledge's kind never changes, so no state of it would let this succeed.
            raise _invalid("/members", f"a {pledge['kind']} pledge sends no people; rosters are for personnel pledges")
        StaleVersion.check(f"the roster of pledge {pledge_id}", current=pledge["roster_version"], expected=version)
        if pledge["status"] in CLOSED:
            raise InvalidState(f"the pledge is {pledge['status']}; its roster can no longer change",
                               state=pledge["status"])
        headcount = int(pledge["quantity"])
        if len(data.members) > headcount:
            raise Conflict(f"the pledge sends {headcount} people; the roster names {len(data.members)}",
                           headcount=headcount)
        rows = await members(conn, pledge_id=pledge_id, lock=True)
        current = {r["id"]: r for r in rows}
        _check_listing(data, current)
        kept = {m.id for m in data.members if m.id is not None}
        leaving = [r for r in rows if r["id"] not in kept]
        on_site = next((r for r in leaving if r["state"] == MemberState.on_site), None)
        if on_site is not None:
            raise InvalidState(f"member {on_site['id']} is on site: check them out before taking them off the roster",
                               state=MemberState.on_site, member_id=str(on_site["id"]))
        await _check_phones(conn, pledge, data)
        wanted = [(m, _fields(m, i)) for i, m in enumerate(data.members)]
        changed = [(m.id, f) for m, f in wanted if m.id is not None and _differs(current[m.id], f)]
        rephoned = [member_id for member_id, f in changed if current[member_id]["phone"] != f["phone"]]
        added = [f for m, f in wanted if m.id is None]
        if not (leaving or changed or added):
            return to_model(pledge, rows)  # the roster as it is: no new version, no event
        try:
            await _write(conn, pledge, [r["id"] for r in leaving], changed, rephoned, added)
        except asyncpg.UniqueViolationError:
            # A concurrent PUT of another pledge took a phone after our check: the index decided.
            raise _taken([]) from None
        after_version = await conn.fetchval(
            "update pledges set roster_version = roster_version + 1 where id = $1 returning roster_version", pledge_id
        )
        after_rows = await members(conn, pledge_id=pledge_id)
        # Counts only, never names or phones: this payload is what webhooks and streams send.
        common = {"pledge_id": str(pledge_id), "organization_id": str(pledge["organization_id"]),
                  "headcount": headcount}
        await events.emit(
            conn, type="roster.updated", actor=actor, entity_type="pledge", entity_id=pledge_id,
            incident_id=pledge["incident_id"], organization_id=pledge["organization_id"],
            before={**common, **_counts(rows), "version": pledge["roster_version"]},
            after={**common, **_counts(after_rows), "added": len(added), "removed": len(leaving),
                   "version": after_version},
        )
    return to_model({**pledge, "roster_version": after_version}, after_rows)


# The columns a listed member sets, in the order the statements below take them.
_COLUMNS = ("name", "phone", "skills", "certificates", "role", "emergency_name", "emergency_phone", "position",
            "email")


def _differs(row: asyncpg.Record, fields: dict[str, Any]) -> bool:
    return any(row[c] != fields[c] for c in _COLUMNS)


async def _write(
    conn: asyncpg.Connection, pledge: Mapping[str, Any], leaving: list[UUID],
    changed: list[tuple[UUID, dict[str, Any]]], rephoned: list[UUID], added: list[dict[str, Any]],
) -> None:
    if leaving:
        await conn.execute(
            "update roster_members set removed_at = now(), updated_at = now() where id = any($1::uuid[])", leaving
        )
    if rephoned:
        # The phone index is checked row by row, so two members trading phones would collide halfway:
        # their rows first take a placeholder no phone can equal ('#' and 29 hex digits of the id).
        await conn.execute(
            "update roster_members set phone = '#' || left(replace(id::text, '-', ''), 29) where id = any($1::uuid[])",
            rephoned,
        )
    if changed:
        await conn.executemany(
            """
            update roster_members
               set name = $2, phone = $3, skills = $4, certificates = $5, role = $6, emergency_name = $7,
                   emergency_phone = $8, position = $9, email = $10, updated_at = now()
             where id = $1
            """,
            [(member_id, *(f[c] for c in _COLUMNS)) for member_id, f in changed],
        )
    if added:
        await conn.executemany(
            """
            insert into roster_members (pledge_id, incident_id, organization_id, name, phone, skills, certificates,
                                        role, emergency_name, emergency_phone, position, email)
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
            """,
            [(pledge["id"], pledge["incident_id"], pledge["organization_id"], *(f[c] for c in _COLUMNS))
             for f in added],
        )
