"""Deployments: members checked in to a task on site and out again, their hours, and the muster."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from uuid import UUID

from pydantic import Field, field_validator

from models.amounts import Counter
from models.common import Input, Output, Timestamp
from models.shelters import Location

# One request names at most this many members: a team, not a city (the bench checks in 7,000 members
# in requests of a team each).
MAX_MEMBERS = 500
HOUR = Decimal(3600)
HUNDREDTH = Decimal("0.01")


def hours(seconds: Decimal | int | None) -> Decimal:
    """Exact seconds as hours to the hundredth (36 s), without trailing zeros: 30600 s reads 8.5."""
    value = (Decimal(seconds or 0) / HOUR).quantize(HUNDREDTH, rounding=ROUND_HALF_EVEN)
    return value.normalize() if value else Decimal(0)


Members = list[UUID]


def _distinct(members: Members) -> Members:
    if len(set(members)) != len(members):
        raise ValueError("names a member twice")
    return members


class _MembersBody(Input):
    members: Members = Field(min_length=1, max_length=MAX_MEMBERS, description="Roster member ids")

    @field_validator("members")
    @classmethod
    def _unique(cls, members: Members) -> Members:
        return _distinct(members)


class CheckinCreate(_MembersBody):
    """Members of an assigned team arriving on site for the task."""

    expected_back_at: Timestamp = Field(description="When they are due back; past it (and the grace) is an alarm")
    location: Location | None = Field(default=None, description="Where they checked in")


class CheckoutCreate(_MembersBody):
    """Members of the team leaving the site: back safe."""


class ExtensionCreate(_MembersBody):
    """A new deadline for members on site; it clears a raised alarm and arms it again for the new time."""

    expected_back_at: Timestamp


class Deployment(Output):
    """One stint on site: a member checked in to a task, and out again."""

    id: UUID
    incident_id: UUID
    task_id: UUID
    assignment_id: UUID
    member_id: UUID
    pledge_id: UUID
    organization_id: UUID
    checked_in_at: Timestamp
    expected_back_at: Timestamp
    location: Location | None
    checked_out_at: Timestamp | None
    overdue_raised_at: Timestamp | None = Field(description="When the alarm for the current deadline was raised")
    hours: Counter | None = Field(description="Hours of the stint once checked out, to the hundredth")
    version: int


class Deployments(Output):
    """What one check-in, check-out or extension changed."""

    task_id: UUID
    incident_id: UUID
    items: list[Deployment]


class MusterMember(Output):
    deployment_id: UUID
    member_id: UUID
    name: str
    phone: str = Field(description="Masked (139****5678) for viewers")
    role: str
    checked_in_at: Timestamp
    expected_back_at: Timestamp
    overdue: bool = Field(description="Past expected_back_at plus the grace: an alarm until checked out or extended")
    overdue_since: Timestamp = Field(description="expected_back_at plus the grace")
    alarm_raised_at: Timestamp | None
    location: Location | None


class MusterTeam(Output):
    organization_id: UUID
    organization_name: str
    pledge_id: UUID
    on_site: int
    overdue: int
    members: list[MusterMember] = Field(description="Overdue first (longest overdue first), then by name")


class MusterTask(Output):
    task_id: UUID
    title: str
    status: str
    priority: str
    on_site: int
    overdue: int
    teams: list[MusterTeam]


class Muster(Output):
    """Who is on site now. Tasks and teams with overdue members come first."""

    incident_id: UUID
    as_of: Timestamp
    grace_seconds: int
    on_site: int
    overdue: int
    alarms: list[MusterMember] = Field(description="Every overdue member, longest overdue first")
    tasks: list[MusterTask]


class MusterQuery(Input):
    task_id: UUID | None = None


class MemberHours(Output):
    member_id: UUID
    name: str
    stints: int
    hours: Counter = Field(description="Completed stints, to the hundredth of an hour")
    on_site: bool
    on_site_hours: Counter = Field(description="The stint in progress, up to as_of")


class OrganizationHours(Output):
    organization_id: UUID
    organization_name: str
    hours: Counter = Field(description="From the exact seconds of its completed stints (not a sum of rounded ones)")
    on_site_hours: Counter
    members: list[MemberHours]


class Hours(Output):
    incident_id: UUID
    as_of: Timestamp
    hours: Counter
    on_site_hours: Counter
    organizations: list[OrganizationHours]
