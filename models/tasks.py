"""Tasks: what a dispatcher needs done in the field, where (the alerts' CAP area notation), and the teams
(personnel pledges) assigned to it."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import Field, field_validator, model_validator

# The alerts' own CAP validators and patterns, so that a task's area and an alert's obey one rule.
from models.alerts import (
    _POINT_TEXT,
    CIRCLE_PATTERN,
    POLYGON_PATTERN,
    AreaDescription,
    _circle,
    _point,
    _polygon,
)
from models.amounts import Headcount, whole
from models.calls import Title
from models.catalogue import Skill
from models.codes import Region
from models.common import Input, ListQuery, Output, Patch, Text, Timestamp
from models.pledges import PledgeStatus

Minutes = whole(1, 10_080, "Expected duration in minutes (at most a week)")
People = whole(0, 10_000_000)
Note = Annotated[str, Field(max_length=2000)]

# A CAP point is not a CAP element of its own (CAP writes one as a circle of radius 0); a task may name
# one because a rescue is often at an address, not over an area. Same "lat,lon" rules as circles.
POINT_PATTERN = rf"^{_POINT_TEXT}$"


class TaskStatus(StrEnum):
    open = "open"
    assigned = "assigned"
    in_progress = "in_progress"
    done = "done"
    cancelled = "cancelled"


class TaskPriority(StrEnum):
    critical = "critical"
    high = "high"
    normal = "normal"
    low = "low"


class AssignmentStatus(StrEnum):
    pending = "pending"
    accepted = "accepted"
    declined = "declined"


# The pledges whose team may be assigned: promised and accepted by the bureau, on the way or arrived.
ASSIGNABLE = frozenset({PledgeStatus.accepted, PledgeStatus.dispatched, PledgeStatus.delivered})


class TaskArea(Input):
    """Where the task is: a description plus exactly one of a point, a circle or a polygon (CAP notation,
    validated by the alerts' own rules), and the region code."""

    description: AreaDescription
    point: str | None = Field(default=None, max_length=100, json_schema_extra={"pattern": POINT_PATTERN},
                              description="'lat,lon' in WGS 84 decimal degrees")
    circle: str | None = Field(default=None, max_length=100, json_schema_extra={"pattern": CIRCLE_PATTERN},
                               description="CAP circle: 'lat,lon radius_km'")
    polygon: str | None = Field(
        default=None, max_length=20_000, json_schema_extra={"pattern": POLYGON_PATTERN},
        description="CAP polygon: 'lat,lon lat,lon …', at least 4 points, the first repeated last",
    )
    region: Region | None = None

    @field_validator("point")
    @classmethod
    def _valid_point(cls, value: str | None) -> str | None:
        return None if value is None else _point(value)

    @field_validator("circle")
    @classmethod
    def _valid_circle(cls, value: str | None) -> str | None:
        return None if value is None else _circle(value)

    @field_validator("polygon")
    @classmethod
    def _valid_polygon(cls, value: str | None) -> str | None:
        return None if value is None else _polygon(value)

    @model_validator(mode="after")
    def _one_shape(self) -> TaskArea:
        # One shape, so that a team is sent to one place and the console draws one thing.
        shapes = [s for s in (self.point, self.circle, self.polygon) if s is not None]
        if len(shapes) != 1:
            raise ValueError("give exactly one of point, circle or polygon besides the description")
        return self


class TaskCreate(Input):
    title: Title
    skill: Skill | None = None
    area: TaskArea
    headcount: Headcount = Field(description="How many people the task needs")
    priority: TaskPriority = TaskPriority.normal
    expected_minutes: Minutes | None = None


class TaskUpdate(Patch):
    """Change a task that is not yet done or cancelled; `area` is replaced as a whole."""

    nullable: ClassVar[frozenset[str]] = frozenset({"skill", "expected_minutes"})

    title: Title | None = None
    skill: Skill | None = None
    area: TaskArea | None = None
    headcount: Headcount | None = None
    priority: TaskPriority | None = None
    expected_minutes: Minutes | None = None


class TaskDone(Input):
    people_rescued: People = Field(description="People brought out of danger")
    people_transferred: People = Field(description="People moved to safety")
    note: Note = ""


class TaskCancel(Input):
    reason: Text


class AreaOut(Output):
    description: str
    point: str | None
    circle: str | None
    polygon: str | None
    region: str | None


class Outcome(Output):
    people_rescued: int
    people_transferred: int
    note: str


class Task(Output):
    id: UUID
    incident_id: UUID
    title: str
    skill: str | None
    area: AreaOut
    headcount: int
    priority: TaskPriority
    expected_minutes: int | None
    status: TaskStatus
    outcome: Outcome | None = Field(description="What was achieved; set when the task is done")
    cancel_reason: str | None
    started_at: Timestamp | None = Field(description="The first check-in")
    ended_at: Timestamp | None
    version: int
    created_at: Timestamp
    updated_at: Timestamp


class TaskQuery(ListQuery):
    status: TaskStatus | None = None
    priority: TaskPriority | None = None
    skill: Skill | None = None


class AssignmentCreate(Input):
    pledge_id: UUID = Field(description="An accepted, dispatched or delivered personnel pledge of the incident")


class Assignment(Output):
    id: UUID
    task_id: UUID
    task_title: str
    task_status: TaskStatus = Field(description="The task's status (after the change, in an event)")
    incident_id: UUID
    pledge_id: UUID
    organization_id: UUID
    organization_name: str
    headcount: int = Field(description="The pledge's head count")
    status: AssignmentStatus
    decided_at: Timestamp | None
    version: int
    created_at: Timestamp


class AssignmentQuery(ListQuery):
    status: AssignmentStatus | None = None


__all__ = [
    "ASSIGNABLE", "Assignment", "AssignmentCreate", "AssignmentQuery", "AssignmentStatus", "Task", "TaskArea",
    "TaskCancel", "TaskCreate", "TaskDone", "TaskPriority", "TaskQuery", "TaskStatus", "TaskUpdate",
]
