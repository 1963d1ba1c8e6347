"""The muster (who is on site now, by task and team, overdue first) and the hours worked, both read
straight from the deployments' rows.

Overdue here means past expected_back_at plus the grace by the database's clock, whether or not a
watch has raised the alarm yet (alarm_raised_at says when it did), so the muster never lags the alarm.
Phones pass through the one masking rule (relief/masking.py, "roster_member"): whole for dispatchers
and the member's own organization, masked for viewers.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from models.deployments import (
    Hours,
    MemberHours,
    Muster,
    MusterMember,
    MusterTask,
    MusterTeam,
    OrganizationHours,
    hours,
)
from models.shelters import Location
from relief import incidents, masking

ZERO = Decimal(0)


QUERY = """
    select d.id, d.member_id, d.task_id, d.pledge_id, d.organization_id, d.checked_in_at, d.expected_back_at,
           d.overdue_raised_at, d.lat, d.lon, m.name, m.phone, m.role, t.title, t.status, t.priority,
           t.created_at as task_created_at, o.name as organization_name,
           d.expected_back_at + make_interval(secs => $2) as overdue_since,
           d.expected_back_at + make_interval(secs => $2) <= now() as overdue, now() as now
      from deployments d
      join roster_members m on m.id = d.member_id
      join tasks t on t.id = d.task_id
      join organizations o on o.id = d.organization_id
     where d.incident_id = $1 and d.checked_out_at is null
       and ($3::uuid is null or d.organization_id = $3)
       and ($4::uuid is null or d.task_id = $4)
"""
"""Who is on site: $1 incident, $2 grace seconds, $3 organization or null, $4 task or null (bench/field.py
times it bare beside the muster)."""


def _member(row: asyncpg.Record, audience: masking.Audience) -> MusterMember:
    shown = masking.shown("roster_member", {"organization_id": str(row["organization_id"]), "phone": row["phone"]},
                          audience)
    return MusterMember(
        deployment_id=row["id"], member_id=row["member_id"], name=row["name"], phone=shown["phone"],
        role=row["role"], checked_in_at=row["checked_in_at"], expected_back_at=row["expected_back_at"],
        overdue=row["overdue"], overdue_since=row["overdue_since"], alarm_raised_at=row["overdue_raised_at"],
        location=Location(lat=row["lat"], lon=row["lon"]) if row["lat"] is not None else None,
    )


def _urgency(row: asyncpg.Record) -> tuple[Any, ...]:
    # Overdue first, the longest overdue first; then everyone else by name.
    return (not row["overdue"], row["overdue_since"] if row["overdue"] else 0, row["name"], row["member_id"])


async def muster(conn: asyncpg.Connection, *, incident_id: UUID, grace: float, audience: masking.Audience,
                 organization_id: UUID | None = None, task_id: UUID | None = None) -> Muster:
    """Everyone on site now in the incident (an organization's own members only, with `organization_id`)."""
    await incidents.require(conn, incident_id)
    rows = await conn.fetch(
        QUERY,
        incident_id, grace, organization_id, task_id,
    )
    as_of = rows[0]["now"] if rows else await conn.fetchval("select now()")
    rows = sorted(rows, key=_urgency)
    by_task: dict[UUID, dict[UUID, list[asyncpg.Record]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        by_task[row["task_id"]][row["pledge_id"]].append(row)
    tasks = []
    for teams in by_task.values():
        groups = [MusterTeam(
            organization_id=members[0]["organization_id"], organization_name=members[0]["organization_name"],
            pledge_id=members[0]["pledge_id"], on_site=len(members), overdue=sum(r["overdue"] for r in members),
            members=[_member(r, audience) for r in members],
        ) for members in teams.values()]
        groups.sort(key=lambda team: (-team.overdue, team.organization_name, str(team.pledge_id)))
        first = next(iter(teams.values()))[0]
        tasks.append((first, MusterTask(
            task_id=first["task_id"], title=first["title"], status=first["status"], priority=first["priority"],
            on_site=sum(team.on_site for team in groups), overdue=sum(team.overdue for team in groups), teams=groups,
        )))
    tasks.sort(key=lambda pair: (-pair[1].overdue, pair[0]["task_created_at"], str(pair[1].task_id)))
    return Muster(
        incident_id=incident_id, as_of=as_of, grace_seconds=int(grace), on_site=len(rows),
        overdue=sum(r["overdue"] for r in rows),
        alarms=[_member(r, audience) for r in rows if r["overdue"]],
        tasks=[task for _, task in tasks],
    )


async def hours_worked(conn: asyncpg.Connection, *, incident_id: UUID,
                       organization_id: UUID | None = None) -> Hours:
    """Hours per member and per organization from the stints' exact seconds; the stint in progress
    counts apart, up to now."""
    await incidents.require(conn, incident_id)
    rows = await conn.fetch(
        """
        select d.organization_id, o.name as organization_name, d.member_id, m.name, count(*) as stints,
               coalesce(sum(extract(epoch from d.checked_out_at) - extract(epoch from d.checked_in_at)), 0) as seconds,
               coalesce(sum(extract(epoch from now()) - extract(epoch from d.checked_in_at))
                        filter (where d.checked_out_at is null), 0) as open_seconds,
               bool_or(d.checked_out_at is null) as on_site, now() as now
          from deployments d
          join roster_members m on m.id = d.member_id
          join organizations o on o.id = d.organization_id
         where d.incident_id = $1 and ($2::uuid is null or d.organization_id = $2)
         group by d.organization_id, o.name, d.member_id, m.name
         order by o.name, d.organization_id, m.name, d.member_id
        """,
        incident_id, organization_id,
    )
    as_of = rows[0]["now"] if rows else await conn.fetchval("select now()")
    grouped: dict[UUID, list[asyncpg.Record]] = defaultdict(list)
    for row in rows:
        grouped[row["organization_id"]].append(row)
    organizations = []
    for members in grouped.values():
        organizations.append(OrganizationHours(
            organization_id=members[0]["organization_id"], organization_name=members[0]["organization_name"],
            hours=hours(sum((r["seconds"] for r in members), ZERO)),
            on_site_hours=hours(sum((r["open_seconds"] for r in members), ZERO)),
            members=[MemberHours(member_id=r["member_id"], name=r["name"], stints=r["stints"],
                                 hours=hours(r["seconds"]), on_site=r["on_site"],
                                 on_site_hours=hours(r["open_seconds"])) for r in members],
        ))
    return Hours(
        incident_id=incident_id, as_of=as_of, hours=hours(sum((r["seconds"] for r in rows), ZERO)),
        on_site_hours=hours(sum((r["open_seconds"] for r in rows), ZERO)), organizations=organizations,
    )
