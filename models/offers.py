"""Offers: capacity an organization puts forward for an incident without being asked."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field, model_validator

from models.amounts import Counter, Currency, Quantity
from models.calls import CallKind, Item, Unit
from models.catalogue import Skill
from models.codes import Region
from models.common import Input, ListQuery, Output, Timestamp
from models.pledges import Note


class OfferCreate(Input):
    kind: CallKind
    item: Item | None = Field(default=None, description="goods offers")
    unit: Unit | None = None
    skill: Skill | None = Field(default=None, description="personnel offers")
    currency: Currency | None = Field(default=None, description="money offers (default CNY)")
    quantity: Quantity = Field(description="Amount, quantity or headcount offered")
    region: Region = Field(description="Where the capacity is")
    available_from: Timestamp | None = None
    available_until: Timestamp | None = None
    note: Note = ""

    @model_validator(mode="after")
    def _fits_kind(self) -> OfferCreate:
        if self.kind == CallKind.goods and self.item is None:
            raise ValueError("a goods offer names its item")
        if self.kind == CallKind.personnel and self.skill is None:
            raise ValueError("a personnel offer names its skill")
        if self.available_from and self.available_until and self.available_until <= self.available_from:
            raise ValueError("available_until must be after available_from")
        return self


class Offer(Output):
    id: UUID
    incident_id: UUID
    organization_id: UUID
    organization_name: str | None = None
    kind: CallKind
    item: str | None
    unit: str | None
    skill: str | None
    currency: str | None
    quantity: Counter
    region: str
    available_from: Timestamp | None
    available_until: Timestamp | None
    note: str
    status: str
    version: int
    created_at: Timestamp
    updated_at: Timestamp


class OfferQuery(ListQuery):
    kind: CallKind | None = None
    organization_id: UUID | None = None


class Match(Output):
    """An organization or an open offer that could fill a call, and why it ranks where it does."""

    rank: int
    score: float = Field(description="0–1; the sum of the weighted factors below")
    source: str = Field(description="organization or offer")
    organization_id: UUID
    organization_name: str
    offer_id: UUID | None = None
    capacity: Counter | None = Field(default=None, description="What the offer puts forward, if an offer")
    factors: dict[str, float] = Field(description="fit, region, capacity, record: each 0–1 before weighting")
    reasons: list[str]


class Matches(Output):
    call_id: UUID
    weights: dict[str, float]
    items: list[Match]
