"""What anyone may see of an incident: aggregates and organization names, nothing personal."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

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
    item: str | None = Field(default=None, description="A goods call's item (the goods catalogue's code)")
    unit: str | None = Field(default=None, description="A goods call's unit: requested and delivered count in it")
    currency: str | None = Field(default=None, description="A money call's currency (ISO 4217)")


class PublicIncidentItem(Output):
    """An open incident as the public list shows it: what it is and where, nothing more."""

    incident_id: UUID = Field(description="Its transparency figures are at /v1/public/incidents/{incident_id}",
                              examples=["5f0c6b1e-4a53-4d0e-9a43-1d2b3c4d5e6f"])
    code: str = Field(description="The incident's unique code", examples=["2023-DOKSURI-SZ"])
    title: str = Field(description="The incident's title", examples=["台风杜苏芮苏州救援"])
    type: str = Field(description="typhoon, flood, earthquake, fire, epidemic or other", examples=["typhoon"])
    severity: str = Field(description="Emergency response level, I (most severe) to IV", examples=["II"])
    status: str = Field(description="Always open in this list", examples=["open"])
    regions: list[str] = Field(description="6-digit administrative division codes", examples=[["320500"]])
    started_at: Timestamp = Field(description="When it began (UTC)", examples=["2023-07-28T01:55:00Z"])


class PublicIncidents(Output):
    """Every open incident, newest first (the public list at /public)."""

    items: list[PublicIncidentItem] = Field(description="Newest first, at most 200")


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
            calls=[PublicCall(**c.model_dump(include={"title", "kind", "status", "requested", "delivered", "coverage",
                                                      "item", "unit", "currency"}))
                   for c in figures.calls],
        )
