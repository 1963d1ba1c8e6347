"""Incidents: a disaster the bureau responds to."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import Field, StringConstraints

from models.codes import Region, RegionPrefix
from models.common import Input, ListQuery, LongText, Output, Patch, Timestamp

IncidentCode = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]


class IncidentType(StrEnum):
    typhoon = "typhoon"
    flood = "flood"
    earthquake = "earthquake"
    fire = "fire"
    epidemic = "epidemic"
    other = "other"


class Severity(StrEnum):
    """China's emergency response levels: I is the most severe."""

    I = "I"  # noqa: E741
    II = "II"
    III = "III"
    IV = "IV"


class IncidentStatus(StrEnum):
    open = "open"
    closed = "closed"


class IncidentCreate(Input):
    code: IncidentCode = Field(description="Unique, e.g. 2023-DOKSURI-SZ")
    title: Title
    type: IncidentType
    severity: Severity
    regions: list[Region] = Field(min_length=1, max_length=100)
    started_at: Timestamp
    description: LongText = ""


class IncidentUpdate(Patch):
    title: Title | None = None
    type: IncidentType | None = None
    severity: Severity | None = None
    regions: list[Region] | None = Field(default=None, min_length=1, max_length=100)
    started_at: Timestamp | None = None
    description: LongText | None = None


class Incident(Output):
    id: UUID
    code: str
    title: str
    type: IncidentType
    severity: Severity
    regions: list[str]
    started_at: Timestamp
    description: str
    status: IncidentStatus
    closed_at: Timestamp | None
    version: int
    created_at: Timestamp
    updated_at: Timestamp


class IncidentQuery(ListQuery):
    status: IncidentStatus | None = None
    type: IncidentType | None = None
    severity: Severity | None = None
    region: RegionPrefix | None = Field(
        default=None, description="A code or its prefix (32, 3205, 320505), matched up and down: 3205 (or 320500) "
        "finds incidents of Suzhou, of its districts (320505) and of all Jiangsu (320000)"
    )
