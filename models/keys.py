"""API keys: who may call the API, and as what."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from pydantic import Field

from models.common import Input, ListQuery, Output, Patch, Text, Timestamp
from models.organizations import Email, Language


class Role(StrEnum):
    admin = "admin"
    dispatcher = "dispatcher"
    viewer = "viewer"
    organization = "organization"


LANGUAGE = "The language of the email Relief sends to the key's holder: zh (the default) or en"
NOTIFY_EMAIL = ("Where the bureau's notices to this person go. Bureau staff keys only (admin, dispatcher, "
                "viewer): an organization is written to at its contact's email")


class KeyCreate(Input):
    name: Text
    role: Role = Role.organization
    organization_id: UUID | None = Field(default=None, description="Required when role is organization")
    language: Language = Field(default=Language.zh, description=LANGUAGE)
    notify_email: Email | None = Field(default=None, description=NOTIFY_EMAIL)


class KeyUpdate(Patch):
    """What an admin may change of a key: never its role, organization or secret."""

    nullable = frozenset({"notify_email"})

    language: Language | None = Field(default=None, description=LANGUAGE)
    notify_email: Email | None = Field(default=None, description=NOTIFY_EMAIL + "; null removes it")


class OrganizationKeyCreate(Input):
    name: Text


class Key(Output):
    id: UUID
    name: str
    role: Role
    organization_id: UUID | None
    prefix: str = Field(description="The key's first characters, to tell keys apart")
    language: Language = Field(description=LANGUAGE)
    # Not the input pattern: an event's copy of a key may carry it masked (relief/masking.py).
    notify_email: str | None = Field(description=NOTIFY_EMAIL)
    created_at: Timestamp
    last_used_at: Timestamp | None
    revoked_at: Timestamp | None


class KeyCreated(Key):
    key: str = Field(description="The secret key itself. Shown once: store it now")


class KeyQuery(ListQuery):
    organization_id: UUID | None = None
    role: Role | None = None
    include_revoked: bool = False
