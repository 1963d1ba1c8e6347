"""What anyone may see of an incident: aggregates and organization names, nothing personal."""

from __future__ import annotations

from uuid import UUID

from models.amounts import Counter
from models.common import Output, Timestamp
from models.summary import GoodsFigures, MoneyFigures, PersonnelFigures, ResidentFigures, Summary


class PublicShelter(Output):
    name: str
    capacity: int
    occupancy: int
    status: str


class PublicCall(Output):
    title: str
    kind: str
    status: str
    requested: Counter
    delivered: Counter
    coverage: Counter


class PublicIncident(Output):
    incident_id: UUID
    code: str
    title: str
    status: str
    as_of: Timestamp
    organizations: list[str]
    money: list[MoneyFigures]
    goods: GoodsFigures
    personnel: PersonnelFigures
    residents: ResidentFigures
    shelters: list[PublicShelter]
    calls: list[PublicCall]

    @classmethod
    def from_summary(cls, figures: Summary, organizations: list[str]) -> PublicIncident:
        return cls(
            incident_id=figures.incident_id,
            code=figures.code,
            title=figures.title,
            status=figures.status,
            as_of=figures.as_of,
            organizations=organizations,
            money=figures.money,
            goods=figures.goods,
            personnel=figures.personnel,
            residents=figures.residents,
            shelters=[PublicShelter(**s.model_dump(include={"name", "capacity", "occupancy", "status"}))
                      for s in figures.shelters],
            calls=[PublicCall(**c.model_dump(include={"title", "kind", "status", "requested", "delivered", "coverage"}))
                   for c in figures.calls],
        )
