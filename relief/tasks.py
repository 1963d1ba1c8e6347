"""Tasks: what a dispatcher needs done in the field, through open → assigned → in_progress → done (or
cancelled), with the incident's task counters and outcome figures moved in the same transactions.

Lock order: a task's row first, then whatever else the act touches (an assignment, a pledge, the
deployments' rows, the counters). Check-ins (relief/deployments.py) lock the task too, so "is anyone
on site?" asked under the task's lock cannot race a check-in.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg

from models.common import Page
from models.summary import TaskFigures
from models.tasks import AreaOut, Assignment, Outcome, Task, TaskCreate, TaskDone, TaskStatus, TaskUpdate
from relief import counters, cursors, db, events, incidents
from relief.auth import Principal
from relief.errors import Conflict, IfMatch, InvalidState, NotFound, StaleVersion

ENDED = frozenset({TaskStatus.done, TaskStatus.cancelled})

# The assignment as the API shows it: with its task's title and status, its team's organization and size.
ASSIGNMENT_SELECT = """
    select a.*, t.title as task_title, t.status as task_status, o.name as organization_name,
           p.quantity as headcount
      from task_assignments a
      join tasks t on t.id = a.task_id
      join organizations o on o.id = a.organization_id
      join pledges p on p.id = a.pledge_id
"""


def to_model(row: asyncpg.Record | dict[str, Any]) -> Task:
    done = row["status"] == TaskStatus.done
    return Task(
        **{k: row[k] for k in (
            "id", "incident_id", "title", "skill", "headcount", "priority", "expected_minutes", "status",
            "cancel_reason", "started_at", "ended_at", "version", "created_at", "updated_at",
        )},
        area=AreaOut(description=row["area_description"], point=row["area_point"], circle=row["area_circle"],
                     polygon=row["area_polygon"], region=row["region"]),
        outcome=Outcome(people_rescued=row["people_rescued"], people_transferred=row["people_transferred"],
                        note=row["outcome_note"] or "") if done else None,
    )


def to_assignment(row: asyncpg.Record | dict[str, Any]) -> Assignment:
    return Assignment(
        **{k: row[k] for k in (
            "id", "task_id", "task_title", "task_status", "incident_id", "pledge_id", "organization_id",
            "organization_name", "status", "decided_at", "version", "created_at",
        )},
        headcount=int(row["headcount"]),
    )


async def emit(conn: asyncpg.Connection, type: str, actor: Principal, after: Task, before: Task | None = None,
               organization_id: UUID | None = None) -> None:
    """A task's own event; `organization_id` names the team it concerns, if one (its subscriptions get it)."""
    await events.emit(conn, type=type, actor=actor, entity_type="task", entity_id=after.id,
                      incident_id=after.incident_id, organization_id=organization_id, before=before, after=after)


async def count_move(conn: asyncpg.Connection, incident_id: UUID, before: str | None, after: str,
                     extra: counters.Bumps | None = None) -> None:
    """Move the incident's tasks-by-status counters (and any outcome figures) with a change of status."""
    bumps: counters.Bumps = {("tasks", after): 1, **(extra or {})}
    if before is not None:
        bumps[("tasks", before)] = -1
    await counters.bump(conn, incident_id, bumps)


async def create(conn: asyncpg.Connection, *, actor: Principal, incident_id: UUID, data: TaskCreate) -> Task:
    """A new open task on an open incident (task.created)."""
    async with db.atomic(conn):
        await incidents.require_open(conn, incident_id)
        area = data.area
        row = await conn.fetchrow(
            """
            insert into tasks (incident_id, title, skill, area_description, area_point, area_circle, area_polygon,
                               region, headcount, priority, expected_minutes)
            values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
            returning *
            """,
            incident_id, data.title, data.skill, area.description, area.point, area.circle, area.polygon,
            area.region, data.headcount, data.priority, data.expected_minutes,
        )
        task = to_model(row)
        await count_move(conn, incident_id, None, TaskStatus.open)
        await emit(conn, "task.created", actor, task)
    return task


async def get(conn: asyncpg.Connection, *, task_id: UUID) -> Task | None:
    row = await conn.fetchrow("select * from tasks where id = $1", task_id)
    return to_model(row) if row else None


async def assigned_to(conn: asyncpg.Connection, *, task_id: UUID, organization_id: UUID | None) -> bool:
    """Whether a team of the organization was ever asked to do the task (what lets it read the task)."""
    return bool(await conn.fetchval(
        "select exists (select 1 from task_assignments where task_id = $1 and organization_id = $2)",
        task_id, organization_id,
    ))


async def list_tasks(
    conn: asyncpg.Connection,
    *,
    incident_id: UUID,
    limit: int,
    cursor: str | None = None,
    status: str | None = None,
    priority: str | None = None,
    skill: str | None = None,
    organization_id: UUID | None = None,
) -> Page[Task]:
    """An incident's tasks, newest first; with `organization_id`, only those its teams were asked to do."""
    position = cursors.decode_position(cursor) if cursor else (None, None)
    rows = await conn.fetch(
        """
        select * from tasks t
         where incident_id = $3
           and ($1::timestamptz is null or (created_at, id) < ($1, $2::uuid))
           and ($4::text is null or status = $4)
           and ($5::text is null or priority = $5)
           and ($6::text is null or skill = $6)
           and ($7::uuid is null
                or exists (select 1 from task_assignments a where a.task_id = t.id and a.organization_id = $7))
         order by created_at desc, id desc
         limit $8
        """,
        *position, incident_id, status, priority, skill, organization_id, limit + 1,
    )
    return cursors.page(rows, limit, Task, to_model)


async def locked(conn: asyncpg.Connection, task_id: UUID) -> asyncpg.Record:
    """The task's row, locked for the rest of the caller's transaction (404 if there is none)."""
    row = await conn.fetchrow("select * from tasks where id = $1 for update", task_id)
    if row is None:
        raise NotFound(f"task {task_id} does not exist")
    return row


async def get_assignment(conn: asyncpg.Connection, assignment_id: UUID) -> Assignment | None:
    row = await conn.fetchrow(f"{ASSIGNMENT_SELECT} where a.id = $1", assignment_id)
    return to_assignment(row) if row else None


async def update(conn: asyncpg.Connection, *, actor: Principal, task_id: UUID, version: IfMatch,
                 data: TaskUpdate) -> Task:
    """Edit a task that has not ended (If-Match); the area is replaced as a whole."""
    async with db.atomic(conn):
        row = await locked(conn, task_id)
        before = to_model(row)
        StaleVersion.check(f"task {task_id}", current=before.version, expected=version)
        if before.status in ENDED:
            raise InvalidState(f"a {before.status} task cannot be changed", state=before.status)
        changes = data.model_dump(include=data.model_fields_set, exclude={"area"})
        if data.area is not None:
            changes |= {"area_description": data.area.description, "area_point": data.area.point,
                        "area_circle": data.area.circle, "area_polygon": data.area.polygon,
                        "region": data.area.region}
        merged = {**dict(row), **changes}
        if all(merged[k] == row[k] for k in changes):
            return before
        row = await conn.fetchrow(
            """
            update tasks
               set title = $2, skill = $3, area_description = $4, area_point = $5, area_circle = $6,
                   area_polygon = $7, region = $8, headcount = $9, priority = $10, expected_minutes = $11,
                   version = version + 1, updated_at = now()
             where id = $1
            returning *
            """,
            task_id, merged["title"], merged["skill"], merged["area_description"], merged["area_point"],
            merged["area_circle"], merged["area_polygon"], merged["region"], merged["headcount"],
            merged["priority"], merged["expected_minutes"],
        )
        after = to_model(row)
        await emit(conn, "task.updated", actor, after, before)
    return after


async def set_status(conn: asyncpg.Connection, row: asyncpg.Record, status: TaskStatus) -> asyncpg.Record:
    """Move a locked task between open and assigned (assignments do), counters with it."""
    updated = await conn.fetchrow(
        "update tasks set status = $2, version = version + 1, updated_at = now() where id = $1 returning *",
        row["id"], status,
    )
    await count_move(conn, row["incident_id"], row["status"], status)
    return updated


async def started(conn: asyncpg.Connection, *, task_id: UUID, actor: Principal,
                  assignment_id: UUID | None = None) -> Task:
    """The first check-in starts the task: assigned → in_progress once (task.started); an in_progress
    task is returned as it is. Any other status is a 409: nobody checks in to an open or ended task.

    Call it in the check-in's transaction; `assignment_id` (the team checking in) gives the event its
    organization, so that team's subscriptions get it.
    """
    async with db.atomic(conn):
        row = await locked(conn, task_id)
        if row["status"] == TaskStatus.in_progress:
            return to_model(row)
        if row["status"] != TaskStatus.assigned:
            raise InvalidState(f"a task that is {row['status']} cannot start; assign a team first",
                               state=row["status"])
        organization_id = None
        if assignment_id is not None:
            organization_id = await conn.fetchval(
                "select organization_id from task_assignments where id = $1 and task_id = $2", assignment_id, task_id)
        before = to_model(row)
        row = await conn.fetchrow(
            """
            update tasks set status = 'in_progress', started_at = now(), version = version + 1, updated_at = now()
             where id = $1
            returning *
            """,
            task_id,
        )
        after = to_model(row)
        await count_move(conn, row["incident_id"], TaskStatus.assigned, TaskStatus.in_progress)
        await emit(conn, "task.started", actor, after, before, organization_id=organization_id)
    return after


async def _nobody_on_site(conn: asyncpg.Connection, task_id: UUID, action: str) -> None:
    # Asked under the task's lock, which every check-in also takes: no one can arrive in between.
    on_site = await conn.fetchval(
        "select count(*) from deployments where task_id = $1 and checked_out_at is null", task_id)
    if on_site:
        raise Conflict(f"{on_site} {'person is' if on_site == 1 else 'people are'} still on site; check them out "
                       f"before the task can be {action}", on_site=on_site)


async def finish(conn: asyncpg.Connection, *, actor: Principal, task_id: UUID, data: TaskDone) -> Task:
    """in_progress → done with its outcome figures (task.done); 409 while anyone is on site."""
    async with db.atomic(conn):
        row = await locked(conn, task_id)
        before = to_model(row)
        if before.status != TaskStatus.in_progress:
            raise InvalidState(f"only a task in progress can be done; this one is {before.status}",
                               state=before.status)
        await _nobody_on_site(conn, task_id, "done")
        row = await conn.fetchrow(
            """
            update tasks
               set status = 'done', people_rescued = $2, people_transferred = $3, outcome_note = $4,
                   ended_at = now(), version = version + 1, updated_at = now()
             where id = $1
            returning *
            """,
            task_id, data.people_rescued, data.people_transferred, data.note,
        )
        after = to_model(row)
        await count_move(conn, row["incident_id"], before.status, TaskStatus.done, {
            ("people_rescued", ""): data.people_rescued, ("people_transferred", ""): data.people_transferred})
        await emit(conn, "task.done", actor, after, before)
    return after


async def cancel(conn: asyncpg.Connection, *, actor: Principal, task_id: UUID, reason: str) -> Task:
    """open, assigned or in_progress → cancelled (task.cancelled); 409 while anyone is on site."""
    async with db.atomic(conn):
        row = await locked(conn, task_id)
        before = to_model(row)
        if before.status in ENDED:
            raise InvalidState(f"the task is already {before.status}", state=before.status)
        await _nobody_on_site(conn, task_id, "cancelled")
        row = await conn.fetchrow(
            """
            update tasks set status = 'cancelled', cancel_reason = $2, ended_at = now(), version = version + 1,
                             updated_at = now()
             where id = $1
            returning *
            """,
            task_id, reason,
        )
        after = to_model(row)
        await count_move(conn, row["incident_id"], before.status, TaskStatus.cancelled)
        await emit(conn, "task.cancelled", actor, after, before)
    return after


async def expected_counters(conn: asyncpg.Connection, incident_id: UUID) -> dict[tuple[str, str], Decimal]:
    """The counters this area moves, recomputed from the rows (for `relief reconcile`)."""
    rows = await conn.fetch(
        """
        select status, count(*) as n, coalesce(sum(people_rescued), 0) as rescued,
               coalesce(sum(people_transferred), 0) as transferred
          from tasks where incident_id = $1 group by status
        """,
        incident_id,
    )
    expected = {("tasks", str(s)): Decimal(0) for s in TaskStatus}
    expected[("people_rescued", "")] = expected[("people_transferred", "")] = Decimal(0)
    for r in rows:
        expected[("tasks", r["status"])] = Decimal(r["n"])
        if r["status"] == TaskStatus.done:  # a done task's figures, and only its, count (a check says so)
            expected[("people_rescued", "")] += r["rescued"]
            expected[("people_transferred", "")] += r["transferred"]
    return expected


def figures(tally: dict[tuple[str, str], Decimal]) -> TaskFigures:
    """The summary's task figures, from the counters alone."""
    return TaskFigures(
        by_status={str(s): int(tally.get(("tasks", s), 0)) for s in TaskStatus},
        people_rescued=tally.get(("people_rescued", ""), Decimal(0)),
        people_transferred=tally.get(("people_transferred", ""), Decimal(0)),
    )
