"""Situation reports (灾情报告): numbered per incident, frozen at issue, rendered from the frozen copy alone.

A report is 初报 (initial), 续报 (update) or 核报 (verified), as the national natural-disaster statistics
system calls them. What it holds is written once, in the transaction that issued it; every rendering
(JSON, the printable page in either language, HXL CSV) is made from that document and nothing else.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from pydantic import Field, StringConstraints

from models.amounts import Counter
from models.common import Input, Output, Timestamp
from models.impacts import ImpactValue
from models.summary import GoodsItem, MoneyFigures, Summary


class SitrepKind(StrEnum):
    initial = "initial"  # 初报: the first report, and only the first
    update = "update"  # 续报
    verified = "verified"  # 核报: the figures checked; the public page shows the latest of these


Narrative = Annotated[str, StringConstraints(max_length=20_000)]


class SitrepCreate(Input):
    kind: SitrepKind = Field(description="initial (the first report, and only it), update or verified")
    narrative: Narrative = Field(default="", description="The bureau's text: what happened, what is being done. "
                                 "Bureau readers only; it is not in the public version")


class SitrepIncident(Output):
    id: UUID
    code: str
    title: str
    type: str
    severity: str
    status: str
    regions: list[str]
    started_at: Timestamp


class OpenNeed(Output):
    """A call still open, with what remains of it at the report's moment."""

    call_id: UUID
    title: str
    kind: str
    item: str | None = None
    unit: str | None = None
    currency: str | None = None
    skill: str | None = None
    priority: str
    requested: Counter
    committed: Counter
    delivered: Counter
    remaining: Counter = Field(description="requested − committed, never below 0")
    deadline: Timestamp | None = None


class TeamOnSite(Output):
    organization_id: UUID
    organization_name: str
    on_site: int


class Change(Output):
    """One figure that moved since the previous report (or appeared in this one)."""

    figure: str = Field(description="A path naming the figure, e.g. money.received.CNY, "
                        "impacts.320506.affected.government")
    previous: Counter | None = Field(description="null when the previous report did not have it")
    current: Counter | None = Field(description="null when this report no longer has it")
    delta: Counter | None = Field(description="current − previous, when both exist")


class PreviousReport(Output):
    id: UUID
    number: int
    kind: SitrepKind
    issued_at: Timestamp


class SitrepFigures(Output):
    """Everything a report says, as the counters said it in one snapshot."""

    incident: SitrepIncident
    as_of: Timestamp = Field(description="The database's time in the snapshot the figures were read in")
    time_zone: str = Field(description="The bureau's zone, frozen with the report: its pages give times in it")
    bureau: str = Field(description="The issuing bureau (RELIEF_CAP_SENDER), frozen with the report")
    summary: Summary
    impacts: list[ImpactValue] = Field(description="The current impact figures per region, figure and source")
    open_needs: list[OpenNeed]
    teams_on_site: list[TeamOnSite]
    previous: PreviousReport | None
    changes: list[Change] = Field(description="What moved since the previous report; every figure for the first")


class Issuer(Output):
    key_id: UUID | None
    name: str = Field(description="签发人: the issuing key's name")


class Sitrep(Output):
    id: UUID
    incident_id: UUID
    number: int = Field(description="1, 2, 3… per incident: no gaps, no duplicates")
    kind: SitrepKind
    narrative: str
    issued_by: Issuer
    issued_at: Timestamp
    position: str = Field(description="The event-stream position the report's snapshot saw: every event at or "
                          "before it is counted in the figures, none after it ('0-0' for an incident with no event)")
    figures: SitrepFigures
    version: int = Field(default=1, description="Always 1: an issued report never changes; a correction is a new one")


class SitrepListItem(Output):
    id: UUID
    incident_id: UUID
    number: int
    kind: SitrepKind
    issued_by: Issuer
    issued_at: Timestamp
    position: str


class SitrepList(Output):
    items: list[SitrepListItem]


class PublicImpact(Output):
    region: str
    figure: str
    value: Counter
    unit: str
    source: str
    organization_name: str | None = None
    as_of: Timestamp | None = None


class PublicNeed(Output):
    title: str
    kind: str
    item: str | None = None
    unit: str | None = None
    currency: str | None = None
    requested: Counter
    remaining: Counter


class PublicPeople(Output):
    evacuated: Counter
    sheltered_now: Counter
    returned: Counter


class PublicField(Output):
    on_site: Counter = Field(description="Rescuers on site at the report's moment")
    person_hours: Counter


class PublicSitrep(Output):
    """A report as the public may read it: aggregates only — no narrative, no issuer, no contacts."""

    id: UUID
    incident_id: UUID
    incident_code: str
    incident_title: str
    number: int
    kind: SitrepKind
    issued_at: Timestamp
    as_of: Timestamp
    time_zone: str
    bureau: str
    money: list[MoneyFigures]
    goods: list[GoodsItem]
    residents: PublicPeople
    field: PublicField
    impacts: list[PublicImpact]
    open_needs: list[PublicNeed]
    version: int = 1


class PublicSitrepRef(Output):
    id: UUID
    number: int
    kind: SitrepKind
    issued_at: Timestamp


class PublicSitrepList(Output):
    items: list[PublicSitrepRef] = Field(description="Every report, newest first")
    shown: PublicSitrep | None = Field(description="What the transparency page shows: the latest verified "
                                       "report, else the latest; null before the first")
    provisional: bool | None = Field(description="true when `shown` is not a verified report")


def public_version(report: dict[str, Any]) -> dict[str, Any]:
    """The public version of a report's JSON document (a Sitrep dumped): what leaves the building.

    Used by the API's public routes and, through relief/masking.py, by every channel that carries a
    sitrep event to an organization or the outside; so it works on the JSON form alone.
    """
    figures = report["figures"]
    summary = figures["summary"]
    return {
        "id": report["id"],
        "incident_id": report["incident_id"],
        "incident_code": figures["incident"]["code"],
        "incident_title": figures["incident"]["title"],
        "number": report["number"],
        "kind": report["kind"],
        "issued_at": report["issued_at"],
        "as_of": figures["as_of"],
        "time_zone": figures["time_zone"],
        "bureau": figures["bureau"],
        "money": [{k: m[k] for k in ("currency", "pledged", "received")} for m in summary["money"]],
        "goods": [{k: g[k] for k in ("item", "unit", "pledged", "received")} for g in summary["goods"]["items"]],
        "residents": {k: summary["residents"][k] for k in ("evacuated", "sheltered_now", "returned")},
        "field": {"on_site": summary["field"]["on_site"], "person_hours": summary["field"]["person_hours"]},
        "impacts": [{k: i.get(k) for k in ("region", "region_name", "figure", "value", "unit", "source",
                                           "organization_name", "as_of")}
                    for i in figures["impacts"]],
        "open_needs": [{k: n.get(k) for k in ("title", "kind", "item", "unit", "currency", "requested", "remaining")}
                       for n in figures["open_needs"]],
        "version": 1,
    }


def remaining(requested: Decimal, committed: Decimal) -> Decimal:
    return max(requested - committed, Decimal(0))


__all__ = [
    "Change", "Issuer", "OpenNeed", "PreviousReport", "PublicField", "PublicImpact", "PublicNeed", "PublicPeople",
    "PublicSitrep", "PublicSitrepList", "PublicSitrepRef", "Sitrep", "SitrepCreate", "SitrepFigures",
    "SitrepIncident", "SitrepKind", "SitrepList", "SitrepListItem", "TeamOnSite", "public_version", "remaining",
]
