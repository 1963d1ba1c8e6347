"""Stock: what moves between locations (sites and shelters) and to people, and what each location holds."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import ConfigDict, Field, StringConstraints, ValidationInfo, field_validator, model_validator

from models.amounts import Counter, NonNegative, Quantity
from models.calls import Item, Unit
from models.codes import Region
from models.common import Input, ListQuery, Output, Timestamp, not_ahead
from models.pledges import Note
from models.residents import HouseholdId, People

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
AHEAD = "goods cannot move later than now (5 minutes of clock skew allowed)"


def _moved_at(value: datetime | None) -> datetime | None:
    return not_ahead(value, AHEAD)


class LocationRef(Input):
    """Where goods are: `{"site_id": …}` or `{"shelter_id": …}` (a shelter holds stock too)."""

    site_id: UUID | None = None
    shelter_id: UUID | None = None

    @model_validator(mode="after")
    def _one(self) -> LocationRef:
        if (self.site_id is None) == (self.shelter_id is None):
            raise ValueError('give exactly one of {"site_id": …} or {"shelter_id": …}')
        return self


class ShelterResidents(Input):
    """Everyone a shelter holds now: its occupancy counts as the people reached."""

    kind: Literal["shelter_residents"]
    shelter_id: UUID


class Household(Input):
    """A household (residents' household_id): people_reached as given, else its registered size."""

    kind: Literal["household"]
    household_id: HouseholdId
    people_reached: People | None = None


class OneResident(Input):
    """One registered resident of the incident: one person reached."""

    kind: Literal["resident"]
    resident_id: UUID


class Group(Input):
    """People not registered one by one: how many, and where."""

    kind: Literal["group"]
    people_reached: People
    region: Region | None = None


Recipient = Annotated[ShelterResidents | Household | OneResident | Group, Field(discriminator="kind")]


class WriteOffReason(StrEnum):
    damaged = "damaged"
    expired = "expired"
    lost = "lost"


class _MovementCreate(Input):
    item: Item
    unit: Unit
    quantity: Quantity
    from_: LocationRef = Field(alias="from", description="Where the goods leave from")
    note: Note = ""
    moved_at: Timestamp | None = Field(
        default=None,
        description="When the goods left (a transfer), were handed out or written off, if earlier than now; absent: "
        "the recording time (created_at). At most 5 minutes in the future",
    )

    _moved = field_validator("moved_at")(_moved_at)


class TransferCreate(_MovementCreate):
    """Goods leave `from` at once (in transit) and arrive at `to` when received."""

    kind: Literal["transfer"]
    to: LocationRef

    @field_validator("to")
    @classmethod
    def _elsewhere(cls, to: LocationRef, info: ValidationInfo) -> LocationRef:
        origin = info.data.get("from_")
        if origin is not None and (origin.site_id, origin.shelter_id) == (to.site_id, to.shelter_id):
            raise ValueError("a transfer goes to another location than the one it leaves")
        return to


class DistributionCreate(_MovementCreate):
    """Goods handed out to people: they leave the stock and add to the people reached (人次)."""

    kind: Literal["distribution"]
    to: Recipient


class WriteOffCreate(_MovementCreate):
    kind: Literal["write_off"]
    reason: WriteOffReason


StockMovementCreate = Annotated[TransferCreate | DistributionCreate | WriteOffCreate, Field(discriminator="kind")]


class StockReceive(Input):
    quantity: NonNegative = Field(description="What arrived, ≤ what was sent; the rest is recorded as lost")
    reason: Reason | None = Field(default=None, description="Why some did not arrive: required when any is lost")
    moved_at: Timestamp | None = Field(
        default=None,
        description="When it arrived, if earlier than now (not before the transfer left); absent: the recording "
        "time. At most 5 minutes in the future",
    )

    _moved = field_validator("moved_at")(_moved_at)


class StockReverse(Input):
    reason: Reason


class LocationView(Output):
    site_id: UUID | None
    shelter_id: UUID | None
    name: str | None = Field(default=None, description="The site's or the shelter's name")


class RecipientView(Output):
    kind: Literal["shelter_residents", "household", "resident", "group"]
    shelter_id: UUID | None = None
    household_id: str | None = None
    resident_id: UUID | None = None
    region: str | None = None


class StockMovement(Output):
    model_config = ConfigDict(from_attributes=True, serialize_by_alias=True)

    id: UUID
    incident_id: UUID
    kind: Literal["transfer", "arrival", "distribution", "write_off", "reversal"]
    item: str
    unit: str
    quantity: Counter = Field(description="arrival: what arrived; reversal: the quantity of the entry it reverses")
    from_: LocationView | None = Field(alias="from")
    to: LocationView | RecipientView | None = Field(
        description="transfer and arrival: a location; distribution: the recipient"
    )
    people_reached: int | None = Field(description="distribution: person-times (人次) reached")
    status: Literal["in_transit", "received", "done", "reversed"] = Field(
        description="transfer: in_transit until received; any entry: reversed once a reversal names it"
    )
    transfer_id: UUID | None = Field(description="arrival: the transfer it completes")
    arrival_id: UUID | None = Field(description="transfer: its arrival, once received")
    received: Counter | None = Field(description="transfer: what arrived, once received")
    lost: Counter = Field(description="arrival (and its transfer): what was sent but did not arrive")
    reverses: UUID | None
    reversed_by: UUID | None
    reason: str | None
    note: str
    version: int = Field(default=1, description="Always 1: stock movements never change (a reversal is a new entry)")
    moved_at: Timestamp = Field(
        description="When the goods moved: left (a transfer), arrived, were handed out or written off (a reversal: "
        "when it was recorded); the log's order and its hash chain follow created_at, the recording time"
    )
    created_at: Timestamp


class StockMovementQuery(ListQuery):
    kind: Literal["transfer", "arrival", "distribution", "write_off", "reversal"] | None = None
    item: str | None = Field(default=None, max_length=100)
    site_id: UUID | None = Field(default=None, description="Movements from or to this site")
    shelter_id: UUID | None = Field(default=None, description="Movements from or to this shelter")
    status: Literal["in_transit"] | None = Field(default=None, description="in_transit: transfers not yet received")


class StockLevel(Output):
    location: LocationView
    item: str
    unit: str
    received: Counter = Field(description="Donations received here (net of reversals) and transfers arrived")
    on_hand: Counter
    in_transit_out: Counter = Field(description="Sent by transfers not yet received")
    transferred_out: Counter = Field(description="Sent by transfers that arrived (the part lost is written off)")
    distributed: Counter
    written_off: Counter = Field(description="Write-offs, and losses of transfers sent from here")
    people_reached: Counter = Field(description="Person-times (人次) reached by distributions from here")
    minimum: Counter | None
    low: bool = Field(description="on_hand is below the minimum (stock.low was emitted when it crossed)")


class StockTotal(Output):
    item: str
    unit: str
    received: Counter
    on_hand: Counter = Field(description="At locations: received − distributed − written_off − in_transit")
    in_transit: Counter
    distributed: Counter
    written_off: Counter
    people_reached: Counter


class Stock(Output):
    levels: list[StockLevel] = Field(description="Per location, item and unit (no conversion between units)")
    totals: list[StockTotal] = Field(description="Per item for the whole incident (from its counters)")
    people_reached: Counter = Field(description="Person-times (人次) reached by every distribution of the incident")


class StockQuery(Input):
    site_id: UUID | None = None
    shelter_id: UUID | None = None
    item: str | None = Field(default=None, max_length=100)


class Minimum(Input):
    item: Item
    unit: Unit
    minimum: NonNegative


class Minimums(Output):
    levels: list[StockLevel] = Field(description="The location's levels after the change")
