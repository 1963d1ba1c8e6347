"""Deployments: members of an assigned team checked in to a task on site, checked out again, and their
deadlines extended, with the incident's field counters moved in the same transactions.

Lock order (as relief/tasks.py states it): the task's row first, so that done and cancel, which ask "is
anyone on site?" under the same lock, cannot race a check-in; then the roster members' rows, in id
order, so two requests naming the same people never deadlock; then the deployments and the counters.
Whether a member is already on site somewhere is decided by the unique index deployments_one_open, not
by reading first: of two check-ins of one member to two tasks, the second waits for the first and then
fails on the index (409).

Counters (incident_counters): on_site (members on site now), on_site_since (the sum of their check-in
times as epoch seconds, so hours so far are on_site × now − on_site_since with no scan) and
person_seconds (completed stints). Seconds are exact NUMERIC from PostgreSQL's clock; hours are
derived from them only when shown (models.deployments.hours).

The rest of the area: the overdue alarm and the watch every replica runs (relief/overdue.py), the
muster and the hours worked (relief/muster.py).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from models.deployments import CheckinCreate, CheckoutCreate, Deployment, Deployments, ExtensionCreate, hours
from models.keys import Role
from models.shelters import Location
from models.summary import Difference, FieldFigures
from models.tasks import TaskStatus
from relief import counters, db, events, incidents, tasks
from relief.auth import Principal
from relief.errors import Conflict, Forbidden, Invalid, InvalidState, NotFound

# Check-ins and extensions notify it so that every replica's overdue watch (relief/overdue.py) looks
# at the new earliest deadline at once instead of at its next poll.
CHANNEL = "relief_deadlines"
# A deadline further ahead than this is more likely a typo (2024 for 2023) than a plan, and would
# silence the alarm for that long; a longer stint is extended as it goes.
LONGEST_STINT = timedelta(days=7)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_OPEN_MEMBER = re.compile(r"\(member_id\)=\(([0-9a-f-]{36})\)")


def to_model(row: asyncpg.Record | dict[str, Any]) -> Deployment:
    seconds = None
    if row["checked_out_at"] is not None:
        seconds = Decimal((row["checked_out_at"] - row["checked_in_at"]) // timedelta(microseconds=1)) / 1_000_000
    return Deployment(
        **{k: row[k] for k in (
            "id", "incident_id", "task_id", "assignment_id", "member_id", "pledge_id", "organization_id",
            "checked_in_at", "expected_back_at", "checked_out_at", "overdue_raised_at", "version",
        )},
        location=Location(lat=row["lat"], lon=row["lon"]) if row["lat"] is not None else None,
        hours=None if seconds is None else hours(seconds),
    )


def _invalid(problems: list[tuple[int, str]]) -> Invalid:
    errors = [{"pointer": f"/members/{n}", "detail": detail} for n, detail in problems]
    count = len(errors)
    return Invalid(f"{count} {'member is' if count == 1 else 'members are'} not on a team of this task",
                   errors=errors)


async def _task(conn: asyncpg.Connection, actor: Principal, task_id: UUID) -> asyncpg.Record:
    """Lock the task; an organization acts only on a task its teams were asked to do (else 404, as for
    reading it: a task it was never asked to do is not its business)."""
    if actor.role != Role.organization and not actor.at_least(Role.dispatcher):
        raise Forbidden("only a dispatcher or the team's organization checks members in and out")
    task = await tasks.locked(conn, task_id)
    if actor.role == Role.organization and not await tasks.assigned_to(
            conn, task_id=task_id, organization_id=actor.organization_id):
        raise NotFound(f"task {task_id} does not exist")
    return task


async def _members(conn: asyncpg.Connection, actor: Principal, member_ids: list[UUID]) -> dict[UUID, asyncpg.Record]:
    """The named members the caller may act for, locked. An organization sees only its own: another's
    members read as unknown, like a typo.

    In the rosters' lock order (relief/rosters.py): their pledges first (shared, in id order: check-ins
    of one team run side by side, a roster PUT waits for them and they for it), then the members. A
    member's pledge never changes, so reading it before the locks is safe.
    """
    await conn.execute(
        """
        select 1 from pledges
         where id in (select pledge_id from roster_members where id = any($1::uuid[]))
         order by id
           for share
        """,
        member_ids,
    )
    rows = await conn.fetch(
        """
        select id, pledge_id, organization_id, state, removed_at from roster_members
         where id = any($1::uuid[]) and ($2::uuid is null or organization_id = $2)
         order by id
         for no key update
        """,
        member_ids,
        actor.organization_id if actor.role == Role.organization else None,
    )
    return {r["id"]: r for r in rows}


async def _deadline(conn: asyncpg.Connection, expected_back_at: datetime, at: datetime | None) -> datetime:
    """The database's now (or the test clock `at`), after checking the deadline against it."""
    now: datetime = at or await conn.fetchval("select now()")
    if expected_back_at <= now:
        detail = "must be later than now"
    elif expected_back_at > now + LONGEST_STINT:
        detail = f"must be within {LONGEST_STINT.days} days; extend the time as the stint goes on"
    else:
        return now
    raise Invalid(f"expected_back_at {detail}", errors=[{"pointer": "/expected_back_at", "detail": detail}])


def _by_organization(rows: list[asyncpg.Record]) -> dict[UUID, list[asyncpg.Record]]:
    grouped: dict[UUID, list[asyncpg.Record]] = defaultdict(list)
    for row in rows:
        grouped[row["organization_id"]].append(row)
    return grouped


Details = Callable[[list[asyncpg.Record]], dict[str, Any]]


async def _emit(conn: asyncpg.Connection, type: str, actor: Principal, task: asyncpg.Record,
                rows: list[asyncpg.Record], details: Details) -> None:
    """One event per team's organization (a dispatcher may name members of several teams at once), so
    each organization's subscriptions get its own people only: ids and counts, never a phone."""
    for organization_id, group in _by_organization(rows).items():
        members = [str(r["member_id"]) for r in group]
        await events.emit(
            conn, type=type, actor=actor, entity_type="task", entity_id=task["id"],
            incident_id=task["incident_id"], organization_id=organization_id,
            after={"task_id": str(task["id"]), "organization_id": str(organization_id),
                   "pledge_ids": sorted({str(r["pledge_id"]) for r in group}), "members": members,
                   "count": len(members), **details(group)},
        )


def _cleared(alarmed: set[UUID]) -> Details:
    return lambda group: {"alarms_cleared": [str(r["member_id"]) for r in group if r["member_id"] in alarmed]}


async def check_in(conn: asyncpg.Connection, *, actor: Principal, task_id: UUID, data: CheckinCreate,
                   at: datetime | None = None) -> Deployments:
    """Members of teams that accepted the task arrive on site (deployment.checked_in): all of them or
    none. 422 for a member not on such a team, 409 for one already on site anywhere. `at` is a clock
    for tests; the API always uses the database's now."""
    async with db.atomic(conn):
        task = await _task(conn, actor, task_id)
        if actor.role == Role.organization and actor.organization_status != "approved":
            raise Forbidden(f"your organization is {actor.organization_status}; only approved organizations send "
                            "members into the field (check-outs and extensions stay open to it)")
        if task["status"] not in (TaskStatus.assigned, TaskStatus.in_progress):
            raise InvalidState(f"the task is {task['status']}; members check in to an assigned task or one in "
                               "progress", state=task["status"])
        await incidents.require_open(conn, task["incident_id"])
        now = await _deadline(conn, data.expected_back_at, at)
        teams = {r["pledge_id"]: r["id"] for r in await conn.fetch(
            "select id, pledge_id from task_assignments where task_id = $1 and status = 'accepted'", task_id)}
        members = await _members(conn, actor, data.members)
        problems = []
        for n, member_id in enumerate(data.members):
            member = members.get(member_id)
            if member is None:
                problems.append((n, "no such member on your rosters" if actor.role == Role.organization
                                 else "no such roster member"))
            elif member["removed_at"] is not None:
                problems.append((n, "removed from the roster"))
            elif member["pledge_id"] not in teams:
                problems.append((n, "the member's team has not accepted this task"))
        if problems:
            raise _invalid(problems)
        ordered = sorted(data.members)
        location = data.location
        try:
            rows = await conn.fetch(
                """
                insert into deployments (incident_id, task_id, assignment_id, member_id, pledge_id, organization_id,
                                         checked_in_at, expected_back_at, lat, lon, checked_in_by)
                select $1, $2, u.assignment_id, u.member_id, u.pledge_id, u.organization_id, $3, $4, $5, $6, $7
                  from unnest($8::uuid[], $9::uuid[], $10::uuid[], $11::uuid[])
                       as u(member_id, assignment_id, pledge_id, organization_id)
                returning *, extract(epoch from checked_in_at) as since
                """,
                task["incident_id"], task_id, now, data.expected_back_at,
                location.lat if location else None, location.lon if location else None, actor.key_id,
                ordered, [teams[members[m]["pledge_id"]] for m in ordered],
                [members[m]["pledge_id"] for m in ordered], [members[m]["organization_id"] for m in ordered],
            )
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name != "deployments_one_open":
                raise
            found = _OPEN_MEMBER.search(exc.detail or "")
            who = f"member {found[1]}" if found else "a member named"
            raise Conflict(f"{who} is already on site (check them out of their current task first)",
                           members=[found[1]] if found else []) from None
        await conn.execute("update roster_members set state = 'on_site', updated_at = now() where id = any($1::uuid[])",
                           ordered)
        await counters.bump(conn, task["incident_id"], {
            ("on_site", ""): len(rows), ("on_site_since", ""): sum((r["since"] for r in rows), Decimal(0))})
        if task["status"] == TaskStatus.assigned:  # the first check-in starts the task
            await tasks.started(conn, task_id=task_id, actor=actor, assignment_id=rows[0]["assignment_id"])
        await conn.execute("select pg_notify($1, '')", CHANNEL)
        await _emit(conn, "deployment.checked_in", actor, task, rows, lambda group: {
            "checked_in_at": now.isoformat(), "expected_back_at": data.expected_back_at.isoformat(),
            "location": location.model_dump() if location else None})
    return Deployments(task_id=task_id, incident_id=task["incident_id"], items=[to_model(r) for r in rows])


async def _on_site_here(conn: asyncpg.Connection, actor: Principal, task_id: UUID,
                        member_ids: list[UUID]) -> list[asyncpg.Record]:
    """The open stints on this task of the named members, locked; 422 for a member the caller does not
    know, 409 naming those who are not on site here (all or nothing: retry without them)."""
    members = await _members(conn, actor, member_ids)
    stints = {r["member_id"]: r for r in await conn.fetch(
        "select * from deployments where member_id = any($1::uuid[]) and checked_out_at is null order by member_id "
        "for update", member_ids)}
    unknown = [(n, "no such roster member") for n, m in enumerate(member_ids) if m not in members]
    if unknown:
        raise _invalid(unknown)
    elsewhere = [m for m in member_ids if m not in stints or stints[m]["task_id"] != task_id]
    if elsewhere:
        states = {str(m): ("on_site" if m in stints else members[m]["state"]) for m in elsewhere}
        raise Conflict(f"{len(elsewhere)} of the members named {'is' if len(elsewhere) == 1 else 'are'} not on site "
                       "at this task", members=sorted(states), states=states)
    return [stints[m] for m in sorted(member_ids)]


def _alarmed(rows: list[asyncpg.Record]) -> set[UUID]:
    return {r["member_id"] for r in rows if r["overdue_raised_at"] is not None}


async def check_out(conn: asyncpg.Connection, *, actor: Principal, task_id: UUID, data: CheckoutCreate,
                    at: datetime | None = None) -> Deployments:
    """Members leave the site, back safe (deployment.checked_out): their stints end, an overdue alarm
    with them (the event lists whose alarm it ended, and the actor says who)."""
    async with db.atomic(conn):
        task = await _task(conn, actor, task_id)
        before = await _on_site_here(conn, actor, task_id, data.members)
        rows = await conn.fetch(
            """
            update deployments
               set checked_out_at = greatest(coalesce($2::timestamptz, now()), checked_in_at),
                   checked_out_by = $3, version = version + 1
             where id = any($1::uuid[])
            returning *, extract(epoch from checked_in_at) as since,
                      extract(epoch from checked_out_at) - extract(epoch from checked_in_at) as seconds
            """,
            [r["id"] for r in before], at, actor.key_id,
        )
        await conn.execute("update roster_members set state = 'back', updated_at = now() where id = any($1::uuid[])",
                           data.members)
        await counters.bump(conn, task["incident_id"], {
            ("on_site", ""): -len(rows),
            ("on_site_since", ""): -sum((r["since"] for r in rows), Decimal(0)),
            ("person_seconds", ""): sum((r["seconds"] for r in rows), Decimal(0)),
        })
        cleared = _cleared(_alarmed(before))
        await _emit(conn, "deployment.checked_out", actor, task, rows, lambda group: {
            **cleared(group), "hours": str(hours(sum((r["seconds"] for r in group), Decimal(0))))})
    return Deployments(task_id=task_id, incident_id=task["incident_id"], items=[to_model(r) for r in rows])


async def extend(conn: asyncpg.Connection, *, actor: Principal, task_id: UUID, data: ExtensionCreate,
                 at: datetime | None = None) -> Deployments:
    """A new deadline for members on site here (deployment.extended): a raised alarm is cleared and armed
    again for the new time; the event says who extended it, and whose alarm it cleared."""
    async with db.atomic(conn):
        task = await _task(conn, actor, task_id)
        await _deadline(conn, data.expected_back_at, at)
        before = await _on_site_here(conn, actor, task_id, data.members)
        rows = await conn.fetch(
            """
            update deployments
               set expected_back_at = $2, overdue_raised_at = null, extended_by = $3, version = version + 1
             where id = any($1::uuid[])
            returning *
            """,
            [r["id"] for r in before], data.expected_back_at, actor.key_id,
        )
        await conn.execute("select pg_notify($1, '')", CHANNEL)
        cleared = _cleared(_alarmed(before))
        previous = {r["member_id"]: r["expected_back_at"].isoformat() for r in before}
        await _emit(conn, "deployment.extended", actor, task, rows, lambda group: {
            **cleared(group), "expected_back_at": data.expected_back_at.isoformat(),
            "previous": {str(r["member_id"]): previous[r["member_id"]] for r in group}})
    return Deployments(task_id=task_id, incident_id=task["incident_id"], items=[to_model(r) for r in rows])


def figures(tally: dict[tuple[str, str], Decimal], now: datetime) -> FieldFigures:
    """The summary's field figures from the counters alone: the stints in progress have lasted
    on_site × now − on_site_since seconds, all of them together, with no scan of the rows."""
    zero = Decimal(0)
    on_site, since = tally.get(("on_site", ""), zero), tally.get(("on_site_since", ""), zero)
    done = tally.get(("person_seconds", ""), zero)
    epoch = Decimal((now - EPOCH) // timedelta(microseconds=1)) / 1_000_000
    return FieldFigures(on_site=on_site, person_hours=hours(done + max(on_site * epoch - since, zero)),
                        person_hours_completed=hours(done))


async def expected_counters(conn: asyncpg.Connection, incident_id: UUID) -> dict[tuple[str, str], Decimal]:
    """The field counters recomputed from the deployments' rows (for `relief reconcile`)."""
    row = await conn.fetchrow(
        """
        select count(*) filter (where checked_out_at is null) as on_site,
               coalesce(sum(extract(epoch from checked_in_at)) filter (where checked_out_at is null), 0) as since,
               coalesce(sum(extract(epoch from checked_out_at) - extract(epoch from checked_in_at)), 0) as seconds
          from deployments where incident_id = $1
        """,
        incident_id,
    )
    return {("on_site", ""): Decimal(row["on_site"]), ("on_site_since", ""): row["since"],
            ("person_seconds", ""): row["seconds"]}


async def state_differences(conn: asyncpg.Connection, incident_id: UUID) -> list[Difference]:
    """Roster members whose state disagrees with their stints: on_site exactly when one is open."""
    rows = await conn.fetch(
        """
        select m.id, m.state, exists (select 1 from deployments d where d.member_id = m.id
                                       and d.checked_out_at is null) as open
          from roster_members m
         where m.incident_id = $1 and (m.state = 'on_site') <> exists (
               select 1 from deployments d where d.member_id = m.id and d.checked_out_at is null)
        """,
        incident_id,
    )
    return [Difference(incident_id=incident_id, counter="roster_member.on_site", key=str(r["id"]),
                       stored=int(r["state"] == "on_site"), recomputed=int(r["open"])) for r in rows]
