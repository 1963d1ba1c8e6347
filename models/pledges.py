"""Pledges: an organization's promise against a call, tracked from promise to delivery."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated
from uuid import UUID

from pydantic import Field, StringConstraints, ValidationInfo, field_validator, model_validator

from models.amounts import Amount, Counter, Currency, Headcount, NonNegative, Quantity
from models.calls import CallKind
from models.common import Input, ListQuery, Output, Text, Timestamp
from models.organizations import Email, Phone

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)]


class PledgeStatus(StrEnum):
    pledged = "pledged"
    accepted = "accepted"
    rejected = "rejected"
    withdrawn = "withdrawn"
    dispatched = "dispatched"
    delivered = "delivered"


class Lead(Input):
    """The team lead who answers for a personnel pledge."""

    name: Text
    phone: Phone
    # Left out of the stored lead when not given, as leads written before it were stored.
    email: Email | None = Field(default=None, exclude_if=lambda email: email is None, description=(
        "Whole for dispatchers, admins and the pledging organization; w***@example.org for everyone else"))


class PledgeCreate(Input):
    """One body for every kind; the call's kind says which fields are needed.

    money: `amount` (and `currency`, which must be the call's); goods: `quantity` (and optionally
    `estimated_value`); personnel: `headcount`, `lead`, and optionally the availability period.
    """

    amount: Amount | None = None
    currency: Currency | None = None
    quantity: Quantity | None = None
    unit: str | None = Field(default=None, max_length=20, description="goods: must be the call's unit")
    estimated_value: NonNegative | None = Field(default=None, description="goods: value in CNY")
    headcount: Headcount | None = None
    available_from: Timestamp | None = None
    available_until: Timestamp | None = None
    lead: Lead | None = None
    note: Note = ""

    @model_validator(mode="after")
    def _period(self) -> PledgeCreate:
        if self.available_from and self.available_until and self.available_until <= self.available_from:
            raise ValueError("available_until must be after available_from")
        return self


class PledgeReject(Input):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class PledgeDeliver(Input):
    quantity: NonNegative | None = Field(
        default=None, description="What arrived, ≤ the pledged quantity; default: all of it"
    )
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = Field(
        default=None, description="What arrived, in words (damage, shortfall…); reads back as the pledge's "
        "delivery_note"
    )
    site_id: UUID | None = Field(default=None, description="goods: where they were received; neither: the intake site")
    shelter_id: UUID | None = Field(default=None, description="goods: …or the shelter where they were received")
    received_at: Timestamp | None = Field(
        default=None, description="When it arrived (default: now), for the donation its delivery records; at most "
        "5 minutes ahead of the server's clock",
    )

    @field_validator("received_at")
    @classmethod
    def _not_ahead(cls, value: datetime | None) -> datetime | None:
        if value is not None and value > datetime.now(UTC) + timedelta(minutes=5):
            raise ValueError("a donation cannot be received later than now (5 minutes of clock skew allowed)")
        return value

    @field_validator("shelter_id")
    @classmethod
    def _one_location(cls, value: UUID | None, info: ValidationInfo) -> UUID | None:
        if value is not None and info.data.get("site_id") is not None:
            raise ValueError('name one location: {"site_id": …} or {"shelter_id": …}, not both')
        return value


class Pledge(Output):
    id: UUID
    call_id: UUID
    incident_id: UUID
    organization_id: UUID
    organization_name: str | None = None
    kind: CallKind
    status: PledgeStatus
    quantity: Counter = Field(description="In the call's unit or currency")
    amount: Counter | None = None
    currency: str | None = None
    unit: str | None = None
    estimated_value: Counter | None = None
    headcount: int | None = None
    available_from: Timestamp | None = None
    available_until: Timestamp | None = None
    lead: dict | None = None
    note: str
    delivered_quantity: Counter | None
    reason: str | None = Field(description="Why it was rejected (null unless rejected)")
    # Default None: the pledge snapshots in events stored before this field (they carried the note in
    # `reason`) still validate.
    delivery_note: str | None = Field(default=None, description="The dispatcher's note on delivery (the "
                                      "`note` sent to deliver); null until one is given")
    version: int
    created_at: Timestamp
    updated_at: Timestamp


class PledgeQuery(ListQuery):
    status: PledgeStatus | None = None
    incident_id: UUID | None = None
    call_id: UUID | None = None
    organization_id: UUID | None = None


class CallPledgeQuery(ListQuery):
    status: PledgeStatus | None = None
