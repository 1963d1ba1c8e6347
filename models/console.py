"""The console's own endpoints: sign-in sessions and the settings the browser needs."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field, StringConstraints

from models.common import Input, Output, Timestamp


class SessionCreate(Input):
    key: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = Field(
        description="An API key of the bureau (admin, dispatcher or viewer), pasted once"
    )


class ConsoleSession(Output):
    role: str
    name: str = Field(description="The key's name")
    organization_id: UUID | None
    csrf_token: str = Field(description="Send as X-CSRF-Token on every change made with the session cookie")
    expires_at: Timestamp


class ConsoleConfig(Output):
    timezone: str = Field(description="RELIEF_TIMEZONE: the zone the console shows times in")
    env: str
