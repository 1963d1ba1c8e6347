"""Donations: the ledger of what was actually received, money or goods, with its receipt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field, StringConstraints, ValidationInfo, field_validator, model_validator

from models.amounts import Amount, Counter, Currency, NonNegative, Quantity, check_money
from models.calls import Item, Unit
from models.common import Input, ListQuery, Output, Text, Timestamp
from models.disbursements import Earmark, EarmarkView
from models.pledges import Note

# A received time may run a little ahead of the server's clock (a phone's, a laptop's), never further.
CLOCK_SKEW = timedelta(minutes=5)


def _not_in_future(value: datetime | None) -> datetime | None:
    if value is not None and value > datetime.now(UTC) + CLOCK_SKEW:
        raise ValueError("a donation cannot be received later than now (5 minutes of clock skew allowed)")
    return value


ReceiptNo = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class Channel(StrEnum):
    bank_transfer = "bank_transfer"
    online_platform = "online_platform"
    cash = "cash"
    in_kind = "in_kind"
    other = "other"


class Donor(Input):
    """Who gave it: a registered organization, a named donor, or nobody named."""

    organization_id: UUID | None = None
    name: Text | None = None
    anonymous: bool = False

    @model_validator(mode="after")
    def _one_form(self) -> Donor:
        forms = sum([self.organization_id is not None, self.name is not None, self.anonymous])
        if forms != 1:
            raise ValueError('give exactly one of {"organization_id"}, {"name"} or {"anonymous": true}')
        return self


class _DonationCreate(Input):
    donor: Donor = Field(default_factory=lambda: Donor(anonymous=True))
    receipt_no: ReceiptNo | None = Field(default=None, description="Unique within the incident")
    pledge_id: UUID | None = Field(default=None, description="Receiving it delivers this pledge")
    call_id: UUID | None = Field(default=None, description="The need it answers, for the record")
    note: Note = ""
    received_at: Timestamp | None = Field(
        default=None,
        description="When the money or goods were received, if earlier than now; absent: the recording time "
        "(created_at). At most 5 minutes in the future",
    )

    _received_at = field_validator("received_at")(_not_in_future)


class MoneyDonationCreate(_DonationCreate):
    kind: Literal["money"]
    amount: Amount
    currency: Currency = "CNY"
    channel: Channel = Channel.other
    earmark: Earmark | None = Field(default=None, description="定向: the donor's designated use; null: unearmarked")

    @model_validator(mode="after")
    def _minor_units(self) -> MoneyDonationCreate:
        check_money(self.amount, self.currency)
        return self


class GoodsDonationCreate(_DonationCreate):
    kind: Literal["goods"]
    item: Item
    unit: Unit
    quantity: Quantity
    estimated_value: NonNegative | None = None
    currency: Currency = Field(default="CNY", description="The currency of estimated_value")
    channel: Channel = Channel.in_kind
    site_id: UUID | None = Field(default=None, description="Where it was received; neither: the intake site")
    shelter_id: UUID | None = Field(default=None, description="…or the shelter where it was received")

    @field_validator("shelter_id")
    @classmethod
    def _one_location(cls, value: UUID | None, info: ValidationInfo) -> UUID | None:
        if value is not None and info.data.get("site_id") is not None:
            raise ValueError('name one location: {"site_id": …} or {"shelter_id": …}, not both')
        return value


DonationCreate = Annotated[MoneyDonationCreate | GoodsDonationCreate, Field(discriminator="kind")]


class DonationReverse(Input):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class DonorView(Output):
    organization_id: UUID | None
    organization_name: str | None = None
    name: str | None
    anonymous: bool


class Donation(Output):
    id: UUID
    incident_id: UUID
    kind: Literal["money", "goods"]
    entry: Literal["receipt", "reversal"] = Field(description="A reversal negates the entry it names")
    amount: Counter | None = Field(default=None, description="money: negative on a reversal")
    currency: str | None = Field(default=None, description="money: the amount's; goods: the estimated value's")
    item: str | None = None
    unit: str | None = None
    quantity: Counter | None = Field(default=None, description="goods: negative on a reversal")
    estimated_value: Counter | None = None
    channel: str | None
    receipt_no: str | None
    donor: DonorView
    pledge_id: UUID | None
    call_id: UUID | None
    reverses: UUID | None
    reversed_by: UUID | None = None
    earmark: EarmarkView | None = Field(default=None, description="money: the donor's designated use (定向)")
    site_id: UUID | None = Field(default=None, description="goods: the site where they were received")
    shelter_id: UUID | None = Field(default=None, description="goods: the shelter where they were received")
    reason: str | None
    note: str
    version: int = Field(default=1, description="Always 1: ledger entries never change (a reversal is a new entry)")
    received_at: Timestamp = Field(
        description="When the money or goods were received (a reversal: when it was recorded); the ledger's "
        "order and its hash chain follow created_at, the recording time"
    )
    created_at: Timestamp


class DonationQuery(ListQuery):
    kind: Literal["money", "goods"] | None = None
    entry: Literal["receipt", "reversal"] | None = None
    organization_id: UUID | None = Field(default=None, description="The donor organization")
    pledge_id: UUID | None = None
    call_id: UUID | None = None
