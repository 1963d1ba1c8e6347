"""Webhook subscriptions and their delivery log."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, Field, StringConstraints

from models.catalogue import Skill
from models.common import Input, ListQuery, Output, Patch, Timestamp
from models.events import EVENT_TYPES

# The event families a subscription may name; `family.*` takes a whole family, `*` everything. Taken from
# the catalog, so that an area's new family (stock, roster, task…) can be subscribed to as soon as it exists.
FAMILIES = tuple(dict.fromkeys(t.partition(".")[0] for t in EVENT_TYPES))


def _check_pattern(value: str) -> str:
    if value == "*":
        return value
    family, dot, name = value.partition(".")
    if not dot or not name:
        raise ValueError("an event type is family.name, family.* or *, e.g. pledge.* or call.published")
    if family not in FAMILIES:
        raise ValueError(f"unknown event family {family!r}; known: {', '.join(FAMILIES)}")
    if name != "*" and not name.replace("_", "").isalpha():
        raise ValueError("an event name is lower-case letters and underscores, or *")
    return value


EventPattern = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True), AfterValidator(_check_pattern)]
RegionPrefix = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{2,6}$"),
    Field(description="An administrative code or its prefix: 32 (Jiangsu), 3205 (Suzhou), 320505"),
]
Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class WebhookStatus(StrEnum):
    active = "active"
    paused = "paused"  # deliveries are kept and sent on resume
    disabled = "disabled"  # by 410 Gone or days of failures; resume re-enables


class WebhookCreate(Input):
    url: Url = Field(description="Where to POST events; https outside development; public addresses only")
    event_types: list[EventPattern] = Field(default=["*"], min_length=1, max_length=50)
    incidents: list[UUID] = Field(default=[], max_length=100, description="Only these incidents' events")
    regions: list[RegionPrefix] = Field(
        default=[], max_length=100, description="Only events of incidents with a region under one of these"
    )
    skills: list[Skill] = Field(
        default=[], max_length=50, description="Personnel calls only for these skills (other events pass)"
    )
    description: Description = ""


class WebhookUpdate(Patch):
    url: Url | None = None
    event_types: list[EventPattern] | None = Field(default=None, min_length=1, max_length=50)
    incidents: list[UUID] | None = Field(default=None, max_length=100)
    regions: list[RegionPrefix] | None = Field(default=None, max_length=100)
    skills: list[Skill] | None = Field(default=None, max_length=50)
    description: Description | None = None


class Webhook(Output):
    id: UUID
    organization_id: UUID | None = Field(description="The owner; null for the bureau's own subscriptions")
    url: str
    description: str
    event_types: list[str]
    incidents: list[UUID]
    regions: list[str]
    skills: list[str]
    status: WebhookStatus
    held: bool = Field(
        default=False,
        description="True while the owning organization is suspended: deliveries wait (nothing is lost) and "
        "the subscription accepts no change until the organization is approved again; `status` is kept as it was",
    )
    disabled_reason: str | None
    failing_since: Timestamp | None = Field(description="Deliveries have failed since then; null when healthy")
    previous_secret_expires_at: Timestamp | None = Field(
        description="After a rotation the previous secret also signs until then"
    )
    version: int
    created_at: Timestamp
    updated_at: Timestamp


class WebhookWithSecret(Webhook):
    secret: str = Field(description="whsec_… signing secret. Shown once (here and at rotate): store it now")


class WebhookQuery(ListQuery):
    status: WebhookStatus | None = None
    organization_id: UUID | None = Field(default=None, description="Staff only: one organization's subscriptions")


class DeliveryStatus(StrEnum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"


class Attempt(Output):
    number: int
    attempted_at: Timestamp
    status_code: int | None = Field(description="null when no response came (refused, timeout)")
    latency_ms: int
    error: str | None
    response_body: str | None = Field(description="The first 4 KB of the response")


class Delivery(Output):
    id: UUID = Field(description="Also the webhook-id header: the same on every attempt")
    webhook_id: UUID
    event_id: int
    event_type: str
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: Timestamp | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: Timestamp | None
    created_at: Timestamp
    attempts: list[Attempt]


class DeliveryQuery(ListQuery):
    status: DeliveryStatus | None = None
    event_type: str | None = Field(default=None, max_length=100)

