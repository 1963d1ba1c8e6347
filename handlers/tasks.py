"""/v1/incidents/{id}/tasks, /v1/tasks and /v1/assignments: what needs doing in the field, and which team
does it.

Organizations see only the tasks their teams were asked to do (and only their own assignments): unlike
a call, which asks everyone, a task is the bureau's order to particular teams, and where other teams are
sent is not theirs to read.
"""

from __future__ import annotations

from uuid import UUID

from aiohttp import web

from handlers.common import body, if_match, path_id, pool, principal, query, respond
from handlers.problems import HttpProblem
from handlers.routing import Routes
from models.common import Page
from models.keys import Role
from models.tasks import (
    Assignment,
    AssignmentCreate,
    AssignmentQuery,
    Task,
    TaskCancel,
    TaskCreate,
    TaskDone,
    TaskQuery,
    TaskUpdate,
)
from relief import assignments, incidents, tasks
from relief.auth import Principal

routes = Routes("tasks")

DISPATCHERS = "admin, dispatcher"
READERS = "admin, dispatcher, viewer; an organization: the tasks its teams are assigned to"
OWN_OR_STAFF = "admin, dispatcher, viewer; an organization: its own assignments"
ANSWERERS = "the assigned team's organization (approved, to accept), or a dispatcher recording its answer"


async def _visible(request: web.Request, caller: Principal, task_id: UUID) -> Task:
    async with pool(request).acquire() as conn:
        task = await tasks.get(conn, task_id=task_id)
        if task is not None and not caller.is_staff:
            if not await tasks.assigned_to(conn, task_id=task_id, organization_id=caller.organization_id):
                task = None
    if task is None:
        raise HttpProblem("not-found", f"task {task_id} does not exist")
    return task


@routes.post("/v1/incidents/{id}/tasks", body=TaskCreate, response=Task, status=201, roles=DISPATCHERS,
             errors=(403, 404, 409, 422))
async def create_task(request: web.Request) -> web.Response:
    """Create a task under an open incident: title, skill, area (CAP notation), headcount, priority."""
    caller, incident_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    data = await body(request, TaskCreate)
    async with pool(request).acquire() as conn:
        task = await tasks.create(conn, actor=caller, incident_id=incident_id, data=data)
    return respond(task, status=201, headers={"Location": f"/v1/tasks/{task.id}"})


@routes.get("/v1/incidents/{id}/tasks", query=TaskQuery, response=Page[Task], roles=READERS, errors=(404, 422))
async def list_tasks(request: web.Request) -> web.Response:
    """An incident's tasks, newest first, filtered by status, priority or skill."""
    caller, incident_id = principal(request), path_id(request)
    params = query(request, TaskQuery)
    async with pool(request).acquire() as conn:
        await incidents.require(conn, incident_id)
        page = await tasks.list_tasks(
            conn, incident_id=incident_id, limit=params.limit, cursor=params.cursor, status=params.status,
            priority=params.priority, skill=params.skill,
            organization_id=None if caller.is_staff else caller.organization_id,
        )
    return respond(page)


@routes.get("/v1/tasks/{id}", response=Task, roles=READERS, errors=(404,))
async def get_task(request: web.Request) -> web.Response:
    """Read a task: its area, status and, once done, its outcome."""
    caller = principal(request)
    return respond(await _visible(request, caller, path_id(request)))


@routes.patch("/v1/tasks/{id}", body=TaskUpdate, response=Task, if_match=True, roles=DISPATCHERS,
              errors=(403, 404, 409, 412, 422, 428))
async def update_task(request: web.Request) -> web.Response:
    """Edit a task that has not ended (If-Match); `area` is replaced as a whole."""
    caller, task_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    version = if_match(request)
    data = await body(request, TaskUpdate)
    async with pool(request).acquire() as conn:
        task = await tasks.update(conn, actor=caller, task_id=task_id, version=version, data=data)
    return respond(task)


@routes.post("/v1/tasks/{id}/done", body=TaskDone, response=Task, roles=DISPATCHERS, errors=(403, 404, 409, 422))
async def finish_task(request: web.Request) -> web.Response:
    """Mark a task in progress done, with its outcome figures; 409 while anyone is on site."""
    caller, task_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    data = await body(request, TaskDone)
    async with pool(request).acquire() as conn:
        return respond(await tasks.finish(conn, actor=caller, task_id=task_id, data=data))


@routes.post("/v1/tasks/{id}/cancel", body=TaskCancel, response=Task, roles=DISPATCHERS,
             errors=(403, 404, 409, 422))
async def cancel_task(request: web.Request) -> web.Response:
    """Cancel a task that has not ended, with a reason; 409 while anyone is on site."""
    caller, task_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    data = await body(request, TaskCancel)
    async with pool(request).acquire() as conn:
        return respond(await tasks.cancel(conn, actor=caller, task_id=task_id, reason=data.reason))


@routes.post("/v1/tasks/{id}/assignments", body=AssignmentCreate, response=Assignment, status=201,
             roles=DISPATCHERS, errors=(403, 404, 409, 422))
async def assign_task(request: web.Request) -> web.Response:
    """Assign the team of an accepted, dispatched or delivered personnel pledge to a task (task.assigned)."""
    caller, task_id = principal(request), path_id(request)
    caller.require(Role.dispatcher)
    data = await body(request, AssignmentCreate)
    async with pool(request).acquire() as conn:
        assignment = await assignments.assign(conn, actor=caller, task_id=task_id, pledge_id=data.pledge_id)
    return respond(assignment, status=201, headers={"Location": f"/v1/assignments/{assignment.id}"})


@routes.get("/v1/tasks/{id}/assignments", query=AssignmentQuery, response=Page[Assignment], roles=READERS,
            errors=(404, 422))
async def list_assignments(request: web.Request) -> web.Response:
    """A task's assignments, newest first (an organization sees its own)."""
    caller, task_id = principal(request), path_id(request)
    params = query(request, AssignmentQuery)
    await _visible(request, caller, task_id)
    async with pool(request).acquire() as conn:
        page = await assignments.list_assignments(
            conn, task_id=task_id, limit=params.limit, cursor=params.cursor, status=params.status,
            organization_id=None if caller.is_staff else caller.organization_id,
        )
    return respond(page)


@routes.get("/v1/assignments/{id}", response=Assignment, roles=OWN_OR_STAFF, errors=(404,))
async def get_assignment(request: web.Request) -> web.Response:
    """Read one assignment: the team, its answer, and its task's status."""
    caller, assignment_id = principal(request), path_id(request)
    async with pool(request).acquire() as conn:
        assignment = await tasks.get_assignment(conn, assignment_id)
    if assignment is None or not (caller.is_staff or caller.owns(assignment.organization_id)):
        raise HttpProblem("not-found", f"assignment {assignment_id} does not exist")
    return respond(assignment)


@routes.post("/v1/assignments/{id}/accept", response=Assignment, roles=ANSWERERS, errors=(403, 404, 409))
async def accept_assignment(request: web.Request) -> web.Response:
    """Accept a pending assignment: the team will do the task (task.accepted)."""
    caller, assignment_id = principal(request), path_id(request)
    async with pool(request).acquire() as conn:
        return respond(await assignments.answer(conn, actor=caller, assignment_id=assignment_id, action="accept"))


@routes.post("/v1/assignments/{id}/decline", response=Assignment, roles=ANSWERERS, errors=(403, 404, 409))
async def decline_assignment(request: web.Request) -> web.Response:
    """Decline a pending assignment (task.declined); a task every team declined is open again."""
    caller, assignment_id = principal(request), path_id(request)
    async with pool(request).acquire() as conn:
        return respond(await assignments.answer(conn, actor=caller, assignment_id=assignment_id, action="decline"))
