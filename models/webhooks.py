"""Webhook subscriptions and their delivery log."""

from __future__ import annotations

import difflib
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar
from uuid import UUID

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints, WithJsonSchema, model_validator

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
    # A misspelt type would subscribe to nothing, silently: refuse it, and name what was probably meant.
    if name != "*" and value not in EVENT_TYPES:
        close = difflib.get_close_matches(value, EVENT_TYPES, n=3, cutoff=0.8)
        hint = f"; did you mean {' or '.join(close)}?" if close else f"; GET /v1/event-types lists them, or {family}.*"
        raise ValueError(f"no event type {value!r}{hint}")
    return value


EventPattern = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True), AfterValidator(_check_pattern)]
RegionPrefix = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{2,6}$"),
    Field(description="An administrative code or its prefix: 32 (Jiangsu), 3205 (Suzhou), 320505"),
]
Url = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Description = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]

RATE_LIMIT_MAX = 1000  # the migration's check (0016): rate_limit > 0 and <= 1000


def _rate_number(value: Any) -> Any:
    # Bodies are parsed with parse_float=Decimal, so 0.5 arrives exact; a numeric string or true/false is
    # not the number the schema promises (bool is an int, hence the first test).
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValueError("must be a JSON number of deliveries per second, e.g. 2 or 0.5")
    return value


# Six decimal places at most: the slowest pace is then one delivery in 11.6 days, and the interval the
# workers add to rate_next_at (slots / rate) always stays a sensible time. The schema has no multipleOf:
# 0.3 is no float multiple of 0.000001, and clients checking it would refuse what the server takes.
RateLimit = Annotated[
    Decimal,
    BeforeValidator(_rate_number),
    Field(gt=0, le=RATE_LIMIT_MAX, decimal_places=6),
    WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "maximum": RATE_LIMIT_MAX}),
]
RATE_LIMIT_DESCRIPTION = (
    "At most this many deliveries per second to this subscription (0.5: one every two seconds), shared by "
    "every worker; more wait their turn in order, nothing is dropped. Null: as fast as the worker sends "
    "(the default). Above 0, at most 1000, up to six decimal places"
)


class WebhookStatus(StrEnum):
    active = "active"
    paused = "paused"  # deliveries are kept and sent on resume
    disabled = "disabled"  # by 410 Gone or days of failures; resume re-enables


class WebhookFormat(StrEnum):
    json = "json"  # the event envelope {"id", "type", "timestamp", "incident_id", "data"}
    cap = "cap"  # alerts as CAP 1.2 documents (application/cap+xml), signed with the same headers


CAP_EVENT_TYPES = ("alert.broadcast", "alert.*")


def cap_refusal(format: WebhookFormat, event_types: list[str]) -> str | None:
    """Why a subscription's format and event types do not go together, or None."""
    if format == WebhookFormat.cap and any(t not in CAP_EVENT_TYPES for t in event_types):
        return "a CAP subscription takes alert.broadcast (or alert.*) only: CAP documents carry alerts"
    return None


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
    format: WebhookFormat = Field(default=WebhookFormat.json, description="json: the event envelope; cap: alerts "
                                  "as CAP 1.2 XML (event_types then alert.broadcast or alert.* only)")
    rate_limit: RateLimit | None = Field(default=None, description=RATE_LIMIT_DESCRIPTION)

    @model_validator(mode="after")
    def _cap_takes_alerts(self) -> WebhookCreate:
        refusal = cap_refusal(self.format, self.event_types)
        if refusal:
            raise ValueError(refusal)
        return self


class WebhookUpdate(Patch):
    nullable: ClassVar[frozenset[str]] = frozenset({"rate_limit"})  # null: no pace any more

    url: Url | None = None
    event_types: list[EventPattern] | None = Field(default=None, min_length=1, max_length=50)
    incidents: list[UUID] | None = Field(default=None, max_length=100)
    regions: list[RegionPrefix] | None = Field(default=None, max_length=100)
    skills: list[Skill] | None = Field(default=None, max_length=50)
    description: Description | None = None
    format: WebhookFormat | None = None
    rate_limit: RateLimit | None = Field(default=None, description=RATE_LIMIT_DESCRIPTION + "; null clears it")


class BreakerState(StrEnum):
    closed = "closed"  # attempts go out as scheduled
    open = "open"  # the destination failed too often in a row: one probe per interval until it answers
    held = "held"  # the destination asked for a pause (Retry-After): nothing goes to it until then


class Breaker(Output):
    """The health of the subscription's destination (its host:port), shared by every subscription there."""

    state: BreakerState = BreakerState.closed
    consecutive_failures: int = Field(default=0, description="No answer, timeouts, 429, 502, 503 or 504 in a row")
    opened_at: Timestamp | None = None
    held_until: Timestamp | None = Field(default=None, description="No attempt before then (the next probe, or "
                                         "the receiver's Retry-After)")


class Webhook(Output):
    id: UUID
    organization_id: UUID | None = Field(description="The owner; null for the bureau's own subscriptions")
    url: str
    description: str
    event_types: list[str]
    incidents: list[UUID]
    regions: list[str]
    skills: list[str]
    format: WebhookFormat = WebhookFormat.json
    # A float, so the API and the events show a JSON number (a Decimal would be written as a string).
    rate_limit: float | None = Field(default=None, description="Deliveries per second at most (0.5: one every "
                                     "two seconds), shared by every worker; null: no limit")
    status: WebhookStatus
    held: bool = Field(
        default=False,
        description="True while the owning organization is suspended: deliveries wait (nothing is lost) and "
        "the subscription accepts no change until the organization is approved again; `status` is kept as it was",
    )
    disabled_reason: str | None
    failing_since: Timestamp | None = Field(description="Deliveries have failed since then; null when healthy")
    breaker: Breaker = Field(default_factory=Breaker, description="Its destination's circuit breaker")
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



class RecoverRequest(Input):
    since: Timestamp = Field(description="Events committed from then on (within the delivery retention)",
                             examples=["2023-07-29T08:00:00+08:00"])
    until: Timestamp | None = Field(default=None, description="…and before then; now when left out")


class Recovery(Output):
    """What a recovery queued: failed deliveries sent again, and deliveries made for events that matched
    while the subscription was disabled (or otherwise got none)."""

    webhook_id: UUID
    since: Timestamp
    until: Timestamp
    resent: int = Field(description="Failed deliveries put back to pending, sent again with their webhook-id")
    created: int = Field(description="New deliveries for events that had none for this subscription")
    more: bool = Field(description="The range held more than one call handles: call again with the same range "
                                   "(what is queued already is not queued twice)")
    handled_until: Timestamp | None = Field(description="When `more`: the commit time of the last event handled")
