"""Organizations: the social organizations (and volunteer teams) that pledge and receive alerts."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import Field, StringConstraints

from models.codes import CreditCode, Region, RegionPrefix
from models.common import Input, ListQuery, Output, Patch, Text, Timestamp

Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64,
                                       pattern=r"^[a-z0-9_]+$")]
Email = Annotated[str, StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 -]{4,19}$")]


class OrganizationKind(StrEnum):
    foundation = "foundation"
    charity = "charity"
    social_service_agency = "social_service_agency"
    association = "association"
    volunteer_team = "volunteer_team"
    enterprise = "enterprise"
    other = "other"


class Language(StrEnum):
    """The language of the email Relief sends: Chinese (the default) or English."""

    zh = "zh"
    en = "en"


LANGUAGE = "The language of the email Relief sends it: zh (the default) or en"


class OrganizationStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    suspended = "suspended"


class Contact(Input):
    name: Text
    phone: Phone | None = None
    email: Email | None = Field(default=None, description=(
        "Whole for dispatchers, admins and the organization itself; w***@example.org for everyone else"))


class Capabilities(Input):
    skills: list[Tag] = Field(default_factory=list, max_length=50, description="e.g. boat_rescue, medical")
    goods: list[Tag] = Field(default_factory=list, max_length=100, description="e.g. life_jacket, tent")


class OrganizationCreate(Input):
    name: Text
    credit_code: CreditCode = Field(description="18-character unified social credit code (GB 32100-2015)")
    kind: OrganizationKind
    region: Region
    contact: Contact
    capabilities: Capabilities = Field(default_factory=Capabilities)
    language: Language = Field(default=Language.zh, description=LANGUAGE)


class OrganizationUpdate(Patch):
    name: Text | None = None
    credit_code: CreditCode | None = None
    kind: OrganizationKind | None = None
    region: Region | None = None
    contact: Contact | None = None
    capabilities: Capabilities | None = None
    language: Language | None = Field(default=None, description=LANGUAGE)


class Organization(Output):
    id: UUID
    name: str
    credit_code: str
    kind: OrganizationKind
    region: str
    contact: Contact
    capabilities: Capabilities
    language: Language = Field(description=LANGUAGE)
    status: OrganizationStatus
    version: int
    created_at: Timestamp
    updated_at: Timestamp


class OrganizationQuery(ListQuery):
    status: OrganizationStatus | None = None
    kind: OrganizationKind | None = None
    region: RegionPrefix | None = Field(
        default=None, description="A code or its prefix: 32 (or 320000) takes all Jiangsu, 3205 (or 320500) all Suzhou"
    )
