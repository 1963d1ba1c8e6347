"""The incident summary: the bureau's figures, served from counters kept with the rows."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from models.amounts import Counter
from models.common import Output, Timestamp
from models.use import UseFigures


class MoneyFigures(Output):
    currency: str
    pledged: Counter = Field(description="Committed by pledges not rejected or withdrawn (delivered included)")
    received: Counter = Field(description="Net of the ledger: receipts minus reversals")


class GoodsItem(Output):
    item: str
    unit: str
    pledged: Counter
    received: Counter


class GoodsFigures(Output):
    value_pledged: Counter = Field(description="CNY: the estimates of goods pledges not rejected or withdrawn")
    value_received: dict[str, Counter] = Field(description="By currency: the ledger's estimated values")
    items: list[GoodsItem]


class PersonnelFigures(Output):
    pledged: Counter
    delivered: Counter


class ResidentFigures(Output):
    evacuated: Counter = Field(description="individual + aggregate")
    individual: Counter
    aggregate: Counter
    sheltered_now: Counter
    centralized: Counter
    dispersed: Counter
    returned: Counter


class FieldFigures(Output):
    """Rescuers in the field (issue 12), from counters moved with the check-ins and check-outs."""

    on_site: Counter = Field(description="Members on site now")
    person_hours: Counter = Field(description="Hours worked on site, stints in progress counted up to as_of; "
                                  "to the hundredth, from exact seconds")
    person_hours_completed: Counter = Field(description="Hours of the stints already checked out")


class TaskFigures(Output):
    """Tasks in the field (issue 12), from counters moved with each change of a task's status."""

    by_status: dict[str, int] = Field(description="open, assigned, in_progress, done, cancelled")
    people_rescued: Counter = Field(description="Outcome figures of the tasks done")
    people_transferred: Counter


class ShelterFigures(Output):
    id: UUID
    name: str
    capacity: int
    occupancy: int
    status: str


class CallFigures(Output):
    id: UUID
    title: str
    kind: str
    status: str
    requested: Counter
    committed: Counter
    delivered: Counter
    coverage: Counter = Field(description="delivered ÷ requested, 0–1 (4 decimals)")
    item: str | None = Field(default=None, description="A goods call's item (the goods catalogue's code)")
    unit: str | None = Field(default=None, description="A goods call's unit: requested and delivered count in it")
    currency: str | None = Field(default=None, description="A money call's currency (ISO 4217)")


class Summary(Output):
    incident_id: UUID
    code: str
    title: str
    status: str
    as_of: Timestamp
    organizations_participating: int
    money: list[MoneyFigures]
    goods: GoodsFigures
    personnel: PersonnelFigures
    residents: ResidentFigures
    shelters: list[ShelterFigures]
    calls_by_status: dict[str, int]
    calls: list[CallFigures]
    use: UseFigures = Field(description="Where it went: money paid out and its balance, goods distributed and on hand")
    field: FieldFigures = Field(description="People on site now and person-hours")
    tasks: TaskFigures = Field(description="Tasks by status, and the people they rescued and transferred")


class Difference(Output):
    incident_id: UUID
    counter: str
    key: str
    stored: Counter
    recomputed: Counter
