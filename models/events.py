"""Events: the audit trail, and later the payload source of webhooks and streams."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import Field

from models.common import Actor, ListQuery, Output, Timestamp


class EntityRef(Output):
    type: str
    id: UUID


class EventActor(Actor):
    """Who acted, as the audit trail shows it to staff: the key by its name and prefix too, not only its role."""

    key_name: str | None = Field(default=None, description="The acting key's name (null for the system)")
    key_prefix: str | None = Field(default=None, description="The acting key's first characters (never the secret)")


class Event(Output):
    id: int
    type: str
    entity: EntityRef
    incident_id: UUID | None
    organization_id: UUID | None
    actor: EventActor
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    created_at: Timestamp


class EventQuery(ListQuery):
    type: str | None = Field(default=None, description="An event type, or a family such as incident.*",
                             pattern=r"^[a-z_]+(\.([a-z_]+|\*))?$")
    entity_type: str | None = Field(default=None, pattern=r"^[a-z_]+$")
    entity_id: UUID | None = None
    incident_id: UUID | None = None
    organization_id: UUID | None = None


class IncidentEventQuery(ListQuery):
    type: str | None = Field(default=None, pattern=r"^[a-z_]+(\.([a-z_]+|\*))?$")


class EventType(Output):
    type: str = Field(examples=["sitrep.issued"])
    description: str
    payload_schema: dict[str, Any] = Field(
        description="The JSON Schema (2020-12) of the envelope's `data` for this type, as webhooks and streams "
        "send it (models/event_payloads.py)")


class EventTypes(Output):
    items: list[EventType]


# Every event type Relief emits, with what it means: the catalog behind webhook filters and the README's
# table (tests/test_event_catalog.py holds the code, this list and the README to each other).
EVENT_TYPES: dict[str, str] = {
    "incident.opened": "an incident was opened",
    "incident.updated": "an incident's title, severity, regions… changed",
    "incident.closed": "an incident was closed (its open calls close with it)",
    "incident.reopened": "a closed incident was reopened",
    "call.created": "a relief call was drafted",
    "call.published": "a relief call was opened to pledges",
    "call.updated": "a call changed (quantity, deadline, or reopened when short again)",
    "call.fulfilled": "what a call asked for has been delivered",
    "call.closed": "a call was closed",
    "call.cancelled": "a call was cancelled",
    "pledge.created": "an organization pledged against a call",
    "pledge.accepted": "a dispatcher accepted a pledge",
    "pledge.rejected": "a dispatcher rejected a pledge",
    "pledge.withdrawn": "an organization withdrew its pledge",
    "pledge.dispatched": "an organization sent what it pledged",
    "pledge.delivered": "a pledge arrived (money and goods also enter the ledger)",
    "pledge.delivery_reversed": "the ledger entry of a delivery was reversed; the pledge is accepted again",
    "roster.updated": "an organization set who its personnel pledge sends (the event carries counts, never names)",
    "offer.created": "an organization offered capacity unasked",
    "donation.recorded": "money or goods entered the ledger",
    "donation.reversed": "a ledger entry was corrected by a reversal",
    "evacuation.recorded": "an aggregate head count of people evacuated",
    "impact.recorded": "an impact figure (people affected, houses collapsed…) was recorded for a region and source",
    "import.completed": "a spreadsheet import ended, with its counts (the rows' own events reach no webhook or "
                        "stream)",
    "sitrep.issued": "a situation report was issued, its figures frozen (organizations get its public version)",
    "resident.registered": "a resident was registered",
    "resident.sheltered": "a resident was checked in to a shelter",
    "resident.moved": "a resident moved to another shelter",
    "resident.returned": "a resident returned home",
    "shelter.opened": "a shelter was opened",
    "shelter.updated": "a shelter's name, address or capacity changed",
    "shelter.closed": "a shelter was closed",
    "shelter.reopened": "a closed shelter was reopened",
    "shelter.near_capacity": "a shelter reached 90 % of its capacity",
    "shelter.full": "a shelter reached its capacity",
    "site.opened": "a warehouse, collection or distribution point was registered",
    "site.updated": "a site's name, address, location or manager changed",
    "stock.transferred": "goods left a location for another (in transit)",
    "stock.received": "a transfer arrived (what did not is recorded as lost)",
    "stock.distributed": "goods were given out to people",
    "stock.written_off": "goods were written off (damaged, expired, lost)",
    "stock.reversed": "a stock movement was corrected by a reversal",
    "stock.low": "a location's stock of an item fell below its minimum",
    "stock.minimums_set": "a location's minimums were set",
    "disbursement.proposed": "a dispatcher proposed a payment",
    "disbursement.approved": "another dispatcher approved it: the money is paid from its fund",
    "disbursement.rejected": "another dispatcher rejected it",
    "disbursement.reversed": "a payment was corrected by a reversal; the money is back in its fund",
    "task.created": "a dispatcher created a task (what to do, where, how many people)",
    "task.updated": "a task's title, area, headcount, priority… changed",
    "task.assigned": "a team (a personnel pledge) was asked to do a task",
    "task.accepted": "the team accepted its assignment",
    "task.declined": "the team declined its assignment (a task every team declined is open again)",
    "task.started": "the first check-in on site started the task",
    "task.done": "a task was done, with its outcome (people rescued and transferred)",
    "task.cancelled": "a task was cancelled",
    "deployment.checked_in": "members of a team checked in on site for a task (ids and counts, never phones)",
    "deployment.checked_out": "members checked out, back safe (it ends any overdue alarm of theirs)",
    "deployment.extended": "members on site were given a new expected return (a raised alarm is cleared and re-armed)",
    "deployment.overdue": "a member is still on site past the expected return plus the grace: an alarm",
    "alert.broadcast": "an alert (CAP) was broadcast, updated or cancelled",
    "alert.acknowledged": "an organization acknowledged an alert",
    "alert.escalated": "a targeted team did not acknowledge an alert in time: it is sent to them again (email)",
    "pledge.reminded": "an accepted pledge was not dispatched by its call's deadline: its organization is reminded",
    "pledge.escalated": "a reminded pledge is still not dispatched: the bureau is told",
    "organization.created": "an organization registered",
    "organization.updated": "an organization's details changed",
    "organization.approved": "a dispatcher approved an organization",
    "organization.suspended": "a dispatcher suspended an organization",
    "key.created": "an API key was issued",
    "key.updated": "an admin changed a key's language or notify_email",
    "key.revoked": "an API key was revoked",
    "webhook.created": "a subscription was created",
    "webhook.updated": "a subscription changed",
    "webhook.deleted": "a subscription was deleted",
    "webhook.rotated": "a subscription's secret was rotated",
    "webhook.paused": "a subscription was paused",
    "webhook.resumed": "a subscription was resumed",
    "webhook.disabled": "a subscription failing for days was disabled",
    "webhook.failing": "a subscription's deliveries have failed for an hour (its owner is told)",
    "webhook.recovered": "what a subscription missed in a time range was queued again (POST …/recover)",
    "webhook.test": "a test delivery asked for by the owner",
}
