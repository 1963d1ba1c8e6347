"""API keys: who may call the API, and as what."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import Field

from models.common import Input, ListQuery, Output, Text, Timestamp


class Role(StrEnum):
    admin = "admin"
    dispatcher = "dispatcher"
    viewer = "viewer"
    organization = "organization"


class KeyCreate(Input):
    name: Text
    role: Role = Role.organization
    organization_id: UUID | None = Field(default=None, description="Required when role is organization")


class OrganizationKeyCreate(Input):
    name: Text


class Key(Output):
    id: UUID
    name: str
    role: Role
    organization_id: UUID | None
    prefix: str = Field(description="The key's first characters, to tell keys apart")
    created_at: Timestamp
    last_used_at: Timestamp | None
    revoked_at: Timestamp | None


class KeyCreated(Key):
    key: str = Field(description="The secret key itself. Shown once: store it now")


class KeyQuery(ListQuery):
    organization_id: UUID | None = None
    role: Role | None = None
    include_revoked: bool = False
