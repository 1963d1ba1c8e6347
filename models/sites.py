"""Sites: where goods are held — warehouses, collection points, distribution points."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import Field, StringConstraints

from models.common import Input, ListQuery, Output, Patch, Text, Timestamp
from models.organizations import Phone
from models.shelters import Location

SiteAddress = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class SiteKind(StrEnum):
    warehouse = "warehouse"
    collection_point = "collection_point"
    distribution_point = "distribution_point"


class Manager(Input):
    """Who answers for the site; the phone is masked for viewers (relief/masking.py)."""

    name: Text
    phone: Phone | None = None


class SiteCreate(Input):
    kind: SiteKind
    name: Text = Field(description="Unique within the incident")
    address: SiteAddress = ""
    location: Location | None = None
    manager: Manager | None = None


class SiteUpdate(Patch):
    """Change a site; `location` and `manager` may be cleared with null."""

    nullable: ClassVar[frozenset[str]] = frozenset({"location", "manager"})

    kind: SiteKind | None = None
    name: Text | None = None
    address: SiteAddress | None = None
    location: Location | None = None
    manager: Manager | None = None


class Site(Output):
    id: UUID
    incident_id: UUID
    kind: SiteKind
    name: str
    address: str
    location: Location | None
    manager: Manager | None
    intake: bool = Field(description="The incident's intake site: where goods received at no named location land")
    version: int
    created_at: Timestamp
    updated_at: Timestamp


class SiteQuery(ListQuery):
    kind: SiteKind | None = None


__all__ = ["Manager", "Site", "SiteCreate", "SiteKind", "SiteQuery", "SiteUpdate"]
