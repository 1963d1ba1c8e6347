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
    signed_in: bool = Field(default=True, description="False when this browser has no live session (then "
                            "nothing else is given)")
    role: str | None = None
    name: str | None = Field(default=None, description="The key's name")
    organization_id: UUID | None = None
    csrf_token: str | None = Field(default=None, description="Send as X-CSRF-Token on every change made with "
                                   "the session cookie")
    expires_at: Timestamp | None = None


class MapTiles(Output):
    url: str = Field(description="RELIEF_MAP_TILES: the tile server's URL template ({z}, {x}, {y}, {s})")
    attribution: str = Field(description="RELIEF_MAP_TILES_ATTRIBUTION, shown on the map as plain text")
    subdomains: str = Field(description="RELIEF_MAP_TILES_SUBDOMAINS: what {s} stands for, one character each")


class ConsoleConfig(Output):
    timezone: str = Field(description="RELIEF_TIMEZONE: the zone the console shows times in")
    env: str
    map_tiles: MapTiles | None = Field(
        default=None, description="The map's tile server; null: the map loads no tiles (no request leaves the machine)"
    )
