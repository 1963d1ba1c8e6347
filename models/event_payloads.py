"""What each event type carries: the model of its `after` and `before`, and of the envelope's `data`.

The catalog (GET /v1/event-types) and the OpenAPI document's `webhooks` are generated from this, and
the suite checks every event it writes against it (tests/event_payloads.py), so a payload that drifts
from its model fails a test rather than a receiver.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any
from uuid import UUID

from pydantic import Field, TypeAdapter

from models.alerts import Ack, Alert
from models.calls import Call
from models.common import Output, Timestamp
from models.disbursements import Disbursement
from models.donations import Donation
from models.event_shapes import (
    AlertEscalated,
    CheckedIn,
    CheckedOut,
    Extended,
    ImportCompleted,
    MinimumsListing,
    Overdue,
    PledgeLate,
    RosterChange,
    RosterCounts,
    WebhookTest,
)
from models.impacts import Impact
from models.incidents import Incident
from models.keys import Key
from models.offers import Offer
from models.organizations import Organization
from models.pledges import Pledge
from models.residents import Evacuation, Resident, ResidentStatus
from models.shelters import Shelter
from models.sites import Site
from models.sitreps import PublicSitrep, Sitrep
from models.stock import StockLevel, StockMovement
from models.tasks import Assignment, Task
from models.webhooks import Recovery, Webhook


class ResidentCount(Output):
    """What a resident event carries outside: what a head count needs, never who (the envelope's
    whitelist, notifications/envelope.py; the audit trail keeps the whole, masked, resident)."""

    id: UUID
    incident_id: UUID
    status: ResidentStatus
    shelter_id: UUID | None
    household_size: int
    origin_region: str
    assisted_by: UUID | None
    sheltered_at: Timestamp | None
    returned_at: Timestamp | None
    version: int
    created_at: Timestamp
    updated_at: Timestamp


class MaskedManager(Output):
    """A contact as it leaves the building: the phone masked (relief/masking.py), so no input pattern."""

    name: str
    phone: str | None = Field(default=None, description="Masked outside its owner: 139****5678")


class MaskedContact(MaskedManager):
    email: str | None = None


class OrganizationSent(Organization):
    contact: MaskedContact  # type: ignore[assignment]


class SiteSent(Site):
    manager: MaskedManager | None  # type: ignore[assignment]


@dataclass(frozen=True)
class Payload:
    """The types of one event type's payloads; None where the code never writes that side."""

    after: Any
    before: Any = None
    data: Any = None  # the envelope's `data`, where it is not the model written (`after`, else `before`)

    @property
    def sent(self) -> Any:
        return self.data or self.after or self.before


def _new(model: Any, data: Any = None) -> Payload:
    return Payload(after=model, data=data)


def _change(model: Any, data: Any = None) -> Payload:
    return Payload(after=model, before=model, data=data)


_RESIDENT = _change(Resident, ResidentCount)

# An organization's webhooks and streams get a report's public version, the bureau's own the whole report.
_SITREP = Sitrep | PublicSitrep

PAYLOADS: dict[str, Payload] = {
    "incident.opened": _new(Incident),
    **dict.fromkeys(("incident.updated", "incident.closed", "incident.reopened"), _change(Incident)),
    "call.created": _new(Call),
    **dict.fromkeys(("call.published", "call.updated", "call.fulfilled", "call.closed", "call.cancelled"),
                    _change(Call)),
    "pledge.created": _new(Pledge),
    **dict.fromkeys(("pledge.accepted", "pledge.rejected", "pledge.withdrawn", "pledge.dispatched",
                     "pledge.delivered", "pledge.delivery_reversed"), _change(Pledge)),
    "roster.updated": Payload(after=RosterChange, before=RosterCounts),
    "offer.created": _new(Offer),
    "donation.recorded": _new(Donation),
    "donation.reversed": _change(Donation),
    "evacuation.recorded": _new(Evacuation),
    "impact.recorded": _new(Impact),
    "import.completed": _new(ImportCompleted),
    "sitrep.issued": _new(Sitrep, _SITREP),
    "resident.registered": _new(Resident, ResidentCount),
    **dict.fromkeys(("resident.sheltered", "resident.moved", "resident.returned"), _RESIDENT),
    "shelter.opened": _new(Shelter),
    **dict.fromkeys(("shelter.updated", "shelter.closed", "shelter.reopened"), _change(Shelter)),
    **dict.fromkeys(("shelter.near_capacity", "shelter.full"), _new(Shelter)),
    "site.opened": _new(Site, SiteSent),
    "site.updated": _change(Site, SiteSent),
    **dict.fromkeys(("stock.transferred", "stock.distributed", "stock.written_off"), _new(StockMovement)),
    # An arrival's `before` is the transfer it ends; a reversal's, the movement it corrects.
    **dict.fromkeys(("stock.received", "stock.reversed"), _change(StockMovement)),
    "stock.low": _new(StockLevel),
    "stock.minimums_set": _change(MinimumsListing),
    "disbursement.proposed": _new(Disbursement),
    **dict.fromkeys(("disbursement.approved", "disbursement.rejected", "disbursement.reversed"),
                    _change(Disbursement)),
    "task.created": _new(Task),
    **dict.fromkeys(("task.updated", "task.started", "task.done", "task.cancelled"), _change(Task)),
    **dict.fromkeys(("task.assigned", "task.accepted", "task.declined"), _change(Assignment)),
    "deployment.checked_in": _new(CheckedIn),
    "deployment.checked_out": _new(CheckedOut),
    "deployment.extended": _new(Extended),
    "deployment.overdue": _new(Overdue),
    "alert.broadcast": _new(Alert),
    "alert.acknowledged": _change(Ack),
    "alert.escalated": _new(AlertEscalated),
    **dict.fromkeys(("pledge.reminded", "pledge.escalated"), _new(PledgeLate)),
    "organization.created": _new(Organization, OrganizationSent),
    **dict.fromkeys(("organization.updated", "organization.approved", "organization.suspended"),
                    _change(Organization, OrganizationSent)),
    "key.created": _new(Key),
    **dict.fromkeys(("key.updated", "key.revoked"), _change(Key)),
    "webhook.created": _new(Webhook),
    **dict.fromkeys(("webhook.updated", "webhook.rotated", "webhook.paused", "webhook.resumed",
                     "webhook.disabled", "webhook.failing"), _change(Webhook)),
    "webhook.deleted": Payload(after=None, before=Webhook),  # the envelope's data is the removed subscription
    "webhook.recovered": _new(Recovery),
    "webhook.test": _new(WebhookTest),
}

@cache
def adapter(tp: Any) -> TypeAdapter[Any]:
    """One TypeAdapter per payload type: building one compiles a validator, so it is done once."""
    return TypeAdapter(tp)


@cache
def payload_schema(event_type: str) -> dict[str, Any]:
    """The JSON Schema of the envelope's `data` for `event_type`: what a receiver gets, self-contained."""
    return adapter(PAYLOADS[event_type].sent).json_schema(mode="serialization")


class Envelope(Output):
    """The body of every webhook delivery and the data of every stream message (notifications/envelope.py)."""

    id: int = Field(description="The event's id: the same in every subscription's delivery of it (deduplicate "
                    "across subscriptions on it)")
    type: str = Field(description="The event type", examples=["call.published"])
    timestamp: Timestamp = Field(description="When the event committed, UTC (ISO 8601, ending in Z)")
    incident_id: UUID | None = Field(description="The incident the event belongs to, if one")
    data: Any = Field(description="The payload: its schema depends on the type (GET /v1/event-types)")
