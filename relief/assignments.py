"""Assignments: a dispatcher asks a team (a personnel pledge) to do a task; the team accepts or declines.

A task with a team asked is `assigned`; when every team asked has declined it is `open` again. Events
name the team's organization, so its subscriptions get what concerns it (event_visible_to, 0011).
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

from models.calls import CallKind
from models.common import Page
from models.keys import Role
from models.tasks import ASSIGNABLE, Assignment, AssignmentStatus, TaskStatus
from relief import cursors, db, events, tasks
from relief.auth import Principal
from relief.errors import Conflict, Forbidden, Invalid, InvalidState, NotFound


async def emit(conn: asyncpg.Connection, type: str, actor: Principal, after: Assignment,
               before: Assignment | None = None) -> None:
    await events.emit(conn, type=type, actor=actor, entity_type="task_assignment", entity_id=after.id,
                      incident_id=after.incident_id, organization_id=after.organization_id, before=before,
                      after=after)


async def _read(conn: asyncpg.Connection, assignment_id: UUID) -> Assignment:
    found = await tasks.get_assignment(conn, assignment_id)
    if found is None:  # the row was written in this transaction: a missing one is a bug
        raise RuntimeError(f"assignment {assignment_id} vanished")
    return found


def _no_pledge(detail: str) -> Invalid:
    return Invalid(detail, errors=[{"pointer": "/pledge_id", "detail": detail}])


async def assign(conn: asyncpg.Connection, *, actor: Principal, task_id: UUID, pledge_id: UUID) -> Assignment:
    """Ask the team of an accepted, dispatched or delivered personnel pledge of the incident to do the
    task (task.assigned); an open task becomes assigned. A team that declined may be asked again."""
    async with db.atomic(conn):
        task = await tasks.locked(conn, task_id)
        if task["status"] in tasks.ENDED:
            raise InvalidState(f"the task is {task['status']}; no team can be assigned", state=task["status"])
        # Shared, so that the pledge cannot be withdrawn while the team is being assigned.
        pledge = await conn.fetchrow(
            """
            select p.incident_id, p.kind, p.status, p.organization_id, o.status as organization_status
              from pledges p join organizations o on o.id = p.organization_id
             where p.id = $1 for share of p
            """,
            pledge_id,
        )
        if pledge is None or pledge["incident_id"] != task["incident_id"]:
            raise _no_pledge("no such pledge in this task's incident")
        if pledge["kind"] != CallKind.personnel:
            raise _no_pledge(f"a {pledge['kind']} pledge sends no team; assign a personnel pledge")
        if pledge["status"] not in ASSIGNABLE:
            raise InvalidState(f"the pledge is {pledge['status']}; only an accepted, dispatched or delivered "
                               "pledge's team can be assigned", state=pledge["status"])
        if pledge["organization_status"] != "approved":
            raise InvalidState(f"the team's organization is {pledge['organization_status']}",
                               state=pledge["organization_status"])
        existing = await conn.fetchrow(
            "select id, status from task_assignments where task_id = $1 and pledge_id = $2 for update",
            task_id, pledge_id,
        )
        if existing is not None and existing["status"] != AssignmentStatus.declined:
            raise Conflict(f"this team is already assigned to the task ({existing['status']})",
                           assignment_id=str(existing["id"]))
        if existing is not None:  # asked again after declining: the same assignment, pending once more
            before = await _read(conn, existing["id"])
            assignment_id = await conn.fetchval(
                """
                update task_assignments
                   set status = 'pending', decided_at = null, decided_by = null, assigned_by = $2,
                       version = version + 1
                 where id = $1 returning id
                """,
                existing["id"], actor.key_id,
            )
        else:
            before = None
            assignment_id = await conn.fetchval(
                """
                insert into task_assignments (task_id, pledge_id, organization_id, incident_id, assigned_by)
                values ($1, $2, $3, $4, $5) returning id
                """,
                task_id, pledge_id, pledge["organization_id"], task["incident_id"], actor.key_id,
            )
        if task["status"] == TaskStatus.open:
            await tasks.set_status(conn, task, TaskStatus.assigned)
        after = await _read(conn, assignment_id)
        await emit(conn, "task.assigned", actor, after, before)
    return after


EVENTS = {"accept": "task.accepted", "decline": "task.declined"}


def _authorize(actor: Principal, assignment: Assignment, action: str) -> None:
    """The team's organization answers for itself; a dispatcher may record its answer (given by phone)."""
    if actor.role == Role.organization:
        if not actor.owns(assignment.organization_id):
            raise NotFound(f"assignment {assignment.id} does not exist")
        if action == "accept" and actor.organization_status != "approved":
            raise Forbidden(f"your organization is {actor.organization_status}; only approved organizations "
                            "take on tasks")
    elif not actor.at_least(Role.dispatcher):
        raise Forbidden("only the assigned team's organization or a dispatcher answers an assignment")


async def answer(conn: asyncpg.Connection, *, actor: Principal, assignment_id: UUID, action: str) -> Assignment:
    """accept or decline a pending assignment (task.accepted, task.declined); a task whose assignments
    are all declined is open again."""
    async with db.atomic(conn):
        found = await tasks.get_assignment(conn, assignment_id)
        if found is None:
            raise NotFound(f"assignment {assignment_id} does not exist")
        _authorize(actor, found, action)
        task = await tasks.locked(conn, found.task_id)  # lock order: the task, then its assignment
        await conn.execute("select 1 from task_assignments where id = $1 for update", assignment_id)
        before = await _read(conn, assignment_id)
        if before.status != AssignmentStatus.pending:
            raise InvalidState(f"the assignment is already {before.status}", state=before.status)
        if task["status"] in tasks.ENDED:
            raise InvalidState(f"the task is {task['status']}", state=task["status"])
        target = AssignmentStatus.accepted if action == "accept" else AssignmentStatus.declined
        await conn.execute(
            """
            update task_assignments set status = $2, decided_at = now(), decided_by = $3, version = version + 1
             where id = $1
            """,
            assignment_id, target, actor.key_id,
        )
        if target == AssignmentStatus.declined and task["status"] == TaskStatus.assigned:
            others = await conn.fetchval(
                "select count(*) from task_assignments where task_id = $1 and status <> 'declined'", task["id"])
            if others == 0:
                await tasks.set_status(conn, task, TaskStatus.open)
        after = await _read(conn, assignment_id)
        await emit(conn, EVENTS[action], actor, after, before)
    return after


async def list_assignments(
    conn: asyncpg.Connection,
    *,
    task_id: UUID,
    limit: int,
    cursor: str | None = None,
    status: str | None = None,
    organization_id: UUID | None = None,
) -> Page[Assignment]:
    """A task's assignments, newest first; with `organization_id`, only that organization's."""
    position = cursors.decode_position(cursor) if cursor else (None, None)
    rows = await conn.fetch(
        f"""
        {tasks.ASSIGNMENT_SELECT}
         where a.task_id = $3
           and ($1::timestamptz is null or (a.created_at, a.id) < ($1, $2::uuid))
           and ($4::text is null or a.status = $4)
           and ($5::uuid is null or a.organization_id = $5)
         order by a.created_at desc, a.id desc
         limit $6
        """,
        *position, task_id, status, organization_id, limit + 1,
    )
    return cursors.page(rows, limit, Assignment, tasks.to_assignment)
