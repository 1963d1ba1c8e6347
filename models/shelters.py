"""Shelters: places with a capacity where evacuated people stay, and how full they are."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import Field, StringConstraints

from models.amounts import whole
from models.common import Input, Latitude, ListQuery, Longitude, Output, Patch, Text, Timestamp

Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


Capacity = whole(1, 1_000_000, "Places (people)")


class ShelterStatus(StrEnum):
    open = "open"
    full = "full"
    closed = "closed"


class Location(Input):
    lat: Latitude
    lon: Longitude


class ShelterCreate(Input):
    name: Text
    address: Address
    capacity: Capacity
    location: Location | None = None


class ShelterUpdate(Patch):
    """Change a shelter; its capacity may not go below the people it holds now."""

    nullable: ClassVar[frozenset[str]] = frozenset({"location"})

    name: Text | None = None
    address: Address | None = None
    capacity: Capacity | None = None
    location: Location | None = None


class Shelter(Output):
    id: UUID
    incident_id: UUID
    name: str
    address: str
    location: Location | None
    capacity: int
    occupancy: int = Field(description="Residents checked in now + centralized aggregate evacuations into it")
    available: int = Field(description="capacity − occupancy")
    status: ShelterStatus = Field(description="full when occupancy reaches capacity; closed by a dispatcher")
    closed_at: Timestamp | None
    version: int
    created_at: Timestamp
    updated_at: Timestamp


class ShelterQuery(ListQuery):
    status: ShelterStatus | None = None


__all__ = ["Location", "Shelter", "ShelterCreate", "ShelterQuery", "ShelterStatus", "ShelterUpdate"]
