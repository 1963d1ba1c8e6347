"""Relief calls: what the bureau needs (money, goods or personnel), and how much of it is promised."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import Field, StringConstraints, model_validator

from models.amounts import Amount, Counter, Currency, Headcount, Quantity, check_money
from models.catalogue import Skill
from models.common import Input, Latitude, ListQuery, Longitude, LongText, Output, Patch, Timestamp

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Item = Annotated[
    str,
    # No "|": the summary's counters key goods by "item|unit".
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[^|]+$"),
    Field(description="A catalogue item (drinking_water, tent, life_jacket…; see /docs) or free text"),
]
Unit = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20, pattern=r"^[^|]+$")]


class CallKind(StrEnum):
    money = "money"
    goods = "goods"
    personnel = "personnel"


class CallStatus(StrEnum):
    draft = "draft"
    open = "open"
    fulfilled = "fulfilled"
    closed = "closed"
    cancelled = "cancelled"


class Priority(StrEnum):
    critical = "critical"
    high = "high"
    medium = "medium"
    low = "low"


class Place(Input):
    """Where to deliver goods or report for duty."""

    address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    lat: Latitude | None = None
    lon: Longitude | None = None
    contact: Annotated[str, StringConstraints(max_length=200)] | None = None

    @model_validator(mode="after")
    def _both_or_neither(self) -> Place:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("give both lat and lon, or neither")
        return self


class _CallCreate(Input):
    title: Title
    description: LongText = ""
    priority: Priority = Priority.medium
    deadline: Timestamp | None = None
    deliver_to: Place | None = None
    allow_overpledge: bool = False
    status: Literal["draft", "open"] = Field(
        default="draft", description="open publishes the call at once (call.published)"
    )


class MoneyCallCreate(_CallCreate):
    kind: Literal["money"]
    amount: Amount
    currency: Currency = "CNY"

    @model_validator(mode="after")
    def _minor_units(self) -> MoneyCallCreate:
        check_money(self.amount, self.currency)
        return self


class GoodsCallCreate(_CallCreate):
    kind: Literal["goods"]
    item: Item
    unit: Unit
    quantity: Quantity


class PersonnelCallCreate(_CallCreate):
    kind: Literal["personnel"]
    skill: Skill
    headcount: Headcount
    needed_from: Timestamp | None = None
    needed_until: Timestamp | None = None

    @model_validator(mode="after")
    def _period(self) -> PersonnelCallCreate:
        if self.needed_from and self.needed_until and self.needed_until <= self.needed_from:
            raise ValueError("needed_until must be after needed_from")
        return self


CallCreate = Annotated[
    MoneyCallCreate | GoodsCallCreate | PersonnelCallCreate, Field(discriminator="kind")
]


class CallUpdate(Patch):
    """Change a call; the requested amount may not go below what is already committed."""

    nullable: ClassVar[frozenset[str]] = frozenset({"deadline", "deliver_to", "needed_from", "needed_until"})

    title: Title | None = None
    description: LongText | None = None
    priority: Priority | None = None
    deadline: Timestamp | None = None
    deliver_to: Place | None = None
    allow_overpledge: bool | None = None
    amount: Amount | None = Field(default=None, description="money calls")
    quantity: Quantity | None = Field(default=None, description="goods calls")
    headcount: Headcount | None = Field(default=None, description="personnel calls")
    needed_from: Timestamp | None = None
    needed_until: Timestamp | None = None


class Call(Output):
    id: UUID
    incident_id: UUID
    kind: CallKind
    title: str
    description: str
    status: CallStatus
    priority: Priority
    deadline: Timestamp | None
    overdue: bool = Field(description="Open and past its deadline")
    deliver_to: Place | None
    allow_overpledge: bool
    amount: Counter | None = Field(default=None, description="money calls: the amount asked for")
    currency: str | None = None
    item: str | None = None
    unit: str | None = None
    quantity: Counter | None = Field(default=None, description="goods calls: the quantity asked for")
    skill: str | None = None
    headcount: int | None = None
    needed_from: Timestamp | None = None
    needed_until: Timestamp | None = None
    requested: Counter = Field(description="In the call's unit or currency")
    committed: Counter = Field(description="pledged + accepted + dispatched + delivered")
    in_transit: Counter = Field(description="dispatched, not yet delivered")
    delivered: Counter
    remaining: Counter = Field(description="requested − committed (negative when over-pledged)")
    published_at: Timestamp | None
    closed_at: Timestamp | None
    version: int
    created_at: Timestamp
    updated_at: Timestamp


class CallQuery(ListQuery):
    status: CallStatus | None = None
    kind: CallKind | None = None
    priority: Priority | None = None
    skill: Skill | None = None
    item: str | None = Field(default=None, max_length=100)


__all__ = ["Call", "CallCreate", "CallKind", "CallQuery", "CallStatus", "CallUpdate", "Place", "Priority"]
