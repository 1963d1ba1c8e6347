"""Residents evacuated one by one (with their ID kept as a keyed hash), and aggregate evacuations."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, Field, StringConstraints, ValidationInfo, field_validator

from models.amounts import whole
from models.codes import Region
from models.common import Input, ListQuery, Output, Text, Timestamp
from models.organizations import Phone

# GB 11643-1999: the weights of positions 1–17 of a resident ID, and the check character for each
# remainder of the weighted sum mod 11.
RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
RESIDENT_ID_CHECK = "10X98765432"

IdNumber = Annotated[
    str,
    # At least 8 characters, so that the last 4 kept for search never show more than half of it.
    StringConstraints(strip_whitespace=True, to_upper=True, min_length=8, max_length=64),
    Field(description="Stored only as a keyed hash plus its last 4 characters; never shown in full"),
]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]
HouseholdId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


def resident_id_check_character(first17: str) -> str:
    """The 18th character GB 11643 assigns to a resident ID's first 17 digits."""
    total = sum(int(c) * w for c, w in zip(first17, RESIDENT_ID_WEIGHTS, strict=True))
    return RESIDENT_ID_CHECK[total % 11]


def check_resident_id(value: str) -> str:
    """Validate an 18-character PRC resident ID; the messages never repeat the number."""
    if len(value) != 18 or not value[:17].isascii() or not value[:17].isdigit() or value[17] not in "0123456789X":
        raise ValueError("a resident ID is 17 digits and a check character (a digit or X)")
    if value[17] != resident_id_check_character(value[:17]):
        raise ValueError("the check character does not match (GB 11643)")
    return value


class IdType(StrEnum):
    resident_id = "resident_id"
    passport = "passport"
    other = "other"


class Vulnerability(StrEnum):
    elderly = "elderly"
    child = "child"
    disabled = "disabled"
    pregnant = "pregnant"
    needs_medical_care = "needs_medical_care"


class ResidentStatus(StrEnum):
    registered = "registered"
    sheltered = "sheltered"
    returned = "returned"


class Placement(StrEnum):
    centralized = "centralized"
    dispersed = "dispersed"


def _distinct(values: list[Vulnerability]) -> list[Vulnerability]:
    return sorted(set(values))


People = whole(1, 10_000_000)
HouseholdSize = whole(1, 100)


class ResidentCreate(Input):
    name: Text
    id_type: IdType
    id_number: IdNumber
    phone: Phone | None = None
    household_id: HouseholdId | None = None
    household_size: HouseholdSize = 1
    origin_region: Region
    origin_address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
    vulnerabilities: Annotated[list[Vulnerability], AfterValidator(_distinct)] = Field(
        default_factory=list, max_length=10
    )
    assisted_by: UUID | None = Field(default=None, description="The organization that helped move them")

    @field_validator("id_number")
    @classmethod
    def _resident_id(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("id_type") == IdType.resident_id:
            return check_resident_id(value)
        return value


class ShelterRef(Input):
    shelter_id: UUID


class Resident(Output):
    id: UUID
    incident_id: UUID
    name: str | None = Field(description="null for viewers")
    id_type: IdType
    id_number_masked: str = Field(description="****1234: the last 4 characters only")
    phone: str | None = Field(description="Masked: 139****5678")
    household_id: str | None
    household_size: int
    origin_region: str
    origin_address: str
    vulnerabilities: list[Vulnerability]
    assisted_by: UUID | None
    status: ResidentStatus
    shelter_id: UUID | None
    sheltered_at: Timestamp | None = Field(description="First check-in")
    returned_at: Timestamp | None
    version: int
    created_at: Timestamp
    updated_at: Timestamp


class ResidentRegistered(Resident):
    duplicate: bool = Field(description="true: already registered in the incident (200); this is that resident")


class ResidentQuery(ListQuery):
    q: str | None = Field(
        default=None, min_length=1, max_length=100,
        description="A name (dispatchers) or the last 4 characters of the ID number",
    )
    status: ResidentStatus | None = None
    shelter_id: UUID | None = None


class EvacuationCreate(Input):
    count: People
    from_region: Region
    placement: Placement
    shelter_id: UUID | None = Field(
        default=None, validate_default=True, description="Required for centralized, refused for dispersed"
    )
    assisted_by: UUID | None = None
    occurred_at: Timestamp | None = Field(default=None, description="Defaults to now")
    note: Note = ""

    @field_validator("shelter_id")
    @classmethod
    def _shelter_for_centralized(cls, value: UUID | None, info: ValidationInfo) -> UUID | None:
        placement = info.data.get("placement")
        if placement == Placement.centralized and value is None:
            raise ValueError("a centralized evacuation names the shelter")
        if placement == Placement.dispersed and value is not None:
            raise ValueError("a dispersed evacuation has no shelter")
        return value


class Evacuation(Output):
    id: UUID
    incident_id: UUID
    count: int
    from_region: str
    placement: Placement
    shelter_id: UUID | None
    assisted_by: UUID | None
    occurred_at: Timestamp
    note: str
    version: int
    created_at: Timestamp


class EvacuationQuery(ListQuery):
    placement: Placement | None = None
    shelter_id: UUID | None = None


__all__ = [
    "Evacuation", "EvacuationCreate", "EvacuationQuery", "IdType", "Placement", "Resident", "ResidentCreate",
    "ResidentQuery", "ResidentRegistered", "ResidentStatus", "ShelterRef", "Vulnerability",
]
