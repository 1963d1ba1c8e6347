"""Rosters: who exactly a personnel pledge sends into the field, each member with a stable id."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import AfterValidator, Field, StringConstraints

from models.common import Input, Output, Text, Timestamp
from models.organizations import Email, Phone, Tag
from models.pledges import PledgeStatus

MAX_MEMBERS = 2000
"""Members one PUT may list: far above a real team (Zhuozhou: 6,913 people in 300+ teams), and under
the 1 MiB body limit."""


def _one_person(phone: str) -> str:
    # "A phone is one person in an incident" is decided by a unique index on the stored text, so
    # "139-1234-5678" and "13912345678" must be stored alike: digits only (and a leading +).
    compact = re.sub(r"[\s-]", "", phone)
    if not 5 <= len(compact.lstrip("+")) <= 20:
        raise ValueError("a phone number has 5 to 20 digits")
    return compact


MemberPhone = Annotated[Phone, AfterValidator(_one_person)]
CertificateType = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"\S")]
CertificateNumber = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"\S")]


class MemberRole(StrEnum):
    lead = "lead"
    member = "member"


class MemberState(StrEnum):
    standby = "standby"
    on_site = "on_site"
    back = "back"


class Certificate(Input):
    """A qualification a dispatcher may check before accepting (boat licence, first aid…)."""

    type: CertificateType = Field(description="e.g. boat_operator, first_aid, 船艇驾驶证")
    number: CertificateNumber = Field(description="Whole for dispatchers and the organization; ****1234 for viewers")


class EmergencyContact(Input):
    name: Text
    phone: MemberPhone


class RosterMemberIn(Input):
    """One person on the roster. With `id`, the member of that id is kept (and changed as written);
    without, a new member is added."""

    id: UUID | None = Field(default=None, description="A current member's id, to keep them; omit for a new member")
    name: Text
    phone: MemberPhone = Field(description="Unique among the live rosters of the incident: a phone is one person")
    email: Email | None = None
    skills: list[Tag] = Field(default_factory=list, max_length=50)
    certificates: list[Certificate] = Field(default_factory=list, max_length=20)
    role: MemberRole = MemberRole.member
    emergency_contact: EmergencyContact | None = None


class RosterSet(Input):
    """The whole roster: listed members stay or join, live members not listed leave (PUT replaces)."""

    members: list[RosterMemberIn] = Field(max_length=MAX_MEMBERS, description=(
        "At most the pledge's headcount (else 409); at most one lead; each id and phone once"))


class CertificateOut(Output):
    type: str
    number: str


class EmergencyContactOut(Output):
    name: str
    phone: str


class RosterMember(Output):
    id: UUID
    pledge_id: UUID
    organization_id: UUID
    name: str
    phone: str = Field(description="Whole for dispatchers, admins and the organization; 139****5678 for viewers")
    email: str | None = Field(default=None, description=(
        "Whole for dispatchers, admins and the organization; w***@example.org for viewers"))
    skills: list[str]
    certificates: list[CertificateOut]
    role: MemberRole
    emergency_contact: EmergencyContactOut | None
    state: MemberState = Field(description="standby → on_site → back, moved by check-ins and check-outs")
    created_at: Timestamp
    updated_at: Timestamp


class Roster(Output):
    pledge_id: UUID
    incident_id: UUID
    organization_id: UUID
    pledge_status: PledgeStatus
    headcount: int = Field(description="What the pledge promises: the most members the roster may name")
    members: list[RosterMember]
    version: int = Field(description="The roster's ETag: 0 until it is first set")
