"""Events: the audit trail, and later the payload source of webhooks and streams."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import Field

from models.common import Actor, ListQuery, Output, Timestamp


class EntityRef(Output):
    type: str
    id: UUID


class Event(Output):
    id: int
    type: str
    entity: EntityRef
    incident_id: UUID | None
    organization_id: UUID | None
    actor: Actor
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
