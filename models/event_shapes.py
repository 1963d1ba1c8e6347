"""The payloads that the code writes as plain dicts, not as a read model, each spelled out as one.

They let the catalog describe those events as exactly as the rest (models/event_payloads.py), and the
suite check that what is written still matches (tests/event_payloads.py). A field added where one of
these dicts is written must be added here too, or every test that writes the event fails.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from models.common import Output, Timestamp
from models.imports import ImportKind
from models.shelters import Location


class RosterCounts(Output):
    """roster.updated's `before`: the roster's counts, never its members."""

    pledge_id: UUID
    organization_id: UUID
    headcount: int = Field(description="The pledge's head count")
    members: int = Field(description="Members on the roster")
    leads: int = Field(description="Of them, team leads")
    version: int = Field(description="The roster's version")


class RosterChange(RosterCounts):
    """roster.updated's `after`: the counts after the change, and how many came and went."""

    added: int
    removed: int


class MinimumLevel(Output):
    item: str
    unit: str
    minimum: str = Field(description="A decimal string", examples=["200"])


class MinimumsListing(Output):
    """stock.minimums_set's `before` and `after`: a location's minimums, by item."""

    minimums: list[MinimumLevel]


class _TeamOnSite(Output):
    # One event per organization: its own members only, by id (never a phone).
    task_id: UUID
    organization_id: UUID
    pledge_ids: list[UUID]
    members: list[UUID] = Field(description="Roster member ids")
    count: int


class CheckedIn(_TeamOnSite):
    checked_in_at: Timestamp
    expected_back_at: Timestamp
    location: Location | None


class CheckedOut(_TeamOnSite):
    alarms_cleared: list[UUID] = Field(description="Members whose overdue alarm the check-out ended")
    hours: str = Field(description="The members' hours on site together, a decimal string", examples=["8.5"])


class Extended(_TeamOnSite):
    alarms_cleared: list[UUID] = Field(description="Members whose raised alarm the extension cleared")
    expected_back_at: Timestamp
    previous: dict[UUID, Timestamp] = Field(description="Each member's expected return before the extension")


class Overdue(Output):
    """deployment.overdue: one member past the expected return plus the grace."""

    deployment_id: UUID
    task_id: UUID
    member_id: UUID
    pledge_id: UUID
    organization_id: UUID
    checked_in_at: Timestamp
    expected_back_at: Timestamp
    overdue_since: Timestamp = Field(description="The expected return plus the grace")
    grace_seconds: int


class AlertEscalated(Output):
    """alert.escalated: one targeted team that had not acknowledged an alert in time."""

    alert_id: UUID
    organization_id: UUID
    organization_name: str
    headline: str
    msg_type: str = Field(description="Alert or Update (a cancel is never escalated)")
    sent_at: Timestamp
    escalated_at: Timestamp
    waited_seconds: int = Field(description="RELIEF_ALERT_ESCALATE_MINUTES, in seconds")


class PledgeLate(Output):
    """pledge.reminded and pledge.escalated: an accepted pledge not dispatched by its call's deadline."""

    pledge_id: UUID
    call_id: UUID
    call_title: str
    organization_id: UUID
    organization_name: str
    status: str = Field(description="accepted: still not dispatched")
    deadline: Timestamp
    reminded_at: Timestamp
    bureau_notified_at: Timestamp | None = Field(description="Set on pledge.escalated")


class ImportCompleted(Output):
    """import.completed: what relief/import_runner.py writes when a real run ends."""

    id: UUID
    kind: ImportKind
    resumed: bool
    read: int
    written: int
    present: int
    duplicate: int
    refused: int


class WebhookTest(Output):
    webhook_id: UUID
    message: str
