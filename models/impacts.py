"""Impact figures (灾情统计): people affected, dead, houses collapsed… per region, by source and time."""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, Field, ValidationInfo, WithJsonSchema, field_validator

from models.amounts import Counter, NonNegative
from models.codes import Region, region_prefix
from models.common import Input, ListQuery, Output, Timestamp
from models.pledges import Note


class Figure(StrEnum):
    """The national natural-disaster statistics system's figures (自然灾害情况统计调查制度)."""

    affected = "affected"  # 受灾人口
    dead = "dead"  # 因灾死亡人口
    missing = "missing"  # 因灾失踪人口
    injured = "injured"  # 受伤人口
    emergency_relocated = "emergency_relocated"  # 紧急转移安置人口
    needs_living_aid = "needs_living_aid"  # 需紧急生活救助人口
    houses_collapsed = "houses_collapsed"  # 倒塌房屋
    houses_severely_damaged = "houses_severely_damaged"  # 严重损坏房屋
    houses_damaged = "houses_damaged"  # 一般损坏房屋
    crops_affected_ha = "crops_affected_ha"  # 农作物受灾面积
    direct_loss = "direct_loss"  # 直接经济损失


# Each figure fixes its unit.
UNITS: dict[Figure, str] = {
    **{f: "people" for f in (Figure.affected, Figure.dead, Figure.missing, Figure.injured,
                             Figure.emergency_relocated, Figure.needs_living_aid)},
    **{f: "houses" for f in (Figure.houses_collapsed, Figure.houses_severely_damaged, Figure.houses_damaged)},
    Figure.crops_affected_ha: "ha",
    Figure.direct_loss: "CNY",
}
Unit = Literal["people", "houses", "ha", "CNY"]


class Source(StrEnum):
    government = "government"
    organization = "organization"
    media = "media"
    other = "other"


# What the current values may show besides: Relief's own count of people relocated (computed, never posted).
ShownSource = Literal["government", "organization", "media", "other", "relief"]


class ImpactCreate(Input):
    region: Region
    figure: Figure
    source: Source
    organization_id: UUID | None = Field(
        default=None, validate_default=True, description="The reporting organization: required for source "
        "organization, refused otherwise")
    value: NonNegative = Field(description="Whole numbers for people and houses; at most 2 decimals for ha and CNY")
    unit: Unit | None = Field(default=None, description="Implied by the figure; if sent, it must be the figure's")
    as_of: Timestamp | None = Field(default=None, description="When the count holds for; defaults to now")
    note: Note = ""

    @field_validator("source", mode="before")
    @classmethod
    def _not_relief(cls, value: Any) -> Any:
        if value == "relief":
            raise ValueError("source relief is computed from Relief's own evacuation records and is never posted")
        return value

    @field_validator("organization_id")
    @classmethod
    def _organization_for_organization(cls, value: UUID | None, info: ValidationInfo) -> UUID | None:
        source = info.data.get("source")
        if source == Source.organization and value is None:
            raise ValueError("a figure from an organization names that organization")
        if source is not None and source != Source.organization and value is not None:
            raise ValueError("only a figure of source organization names an organization")
        return value

    @field_validator("value")
    @classmethod
    def _value_for_unit(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        figure = info.data.get("figure")
        if figure is None:
            return value
        exponent = value.normalize().as_tuple().exponent
        places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        if UNITS[figure] in ("people", "houses") and places > 0:
            raise ValueError(f"{figure} counts {UNITS[figure]}: a whole number")
        if places > 2:
            raise ValueError(f"{figure} is in {UNITS[figure]}: at most 2 decimal places")
        return value

    @field_validator("unit")
    @classmethod
    def _unit_of_figure(cls, value: str | None, info: ValidationInfo) -> str | None:
        figure = info.data.get("figure")
        if value is not None and figure is not None and value != UNITS[figure]:
            raise ValueError(f"{figure} is counted in {UNITS[figure]}; leave unit out or send {UNITS[figure]!r}")
        return value


class Impact(Output):
    id: UUID
    incident_id: UUID
    region: str
    figure: Figure
    value: Counter
    unit: Unit
    source: Source
    organization_id: UUID | None
    organization_name: str | None = None
    as_of: Timestamp
    note: str
    recorded_by: UUID | None
    created_at: Timestamp
    version: int = Field(default=1, description="Always 1: observations never change (a new count is a new one)")


_PREFIX_PATTERN = r"^(?:1[1-9]|[2-7][0-9]|8[0-2])(?:[0-9]{2}){0,2}$"


def _prefix(value: str) -> str:
    if not re.fullmatch(_PREFIX_PATTERN, value):
        raise ValueError("a region is a division code or its prefix: 2, 4 or 6 digits whose first two name a "
                         "province (11–82), e.g. 32, 3205, 320505")
    return region_prefix(value.ljust(6, "0"))


RegionPrefix = Annotated[
    str,
    AfterValidator(_prefix),
    WithJsonSchema({"type": "string", "pattern": _PREFIX_PATTERN,
                    "description": "A division code or its prefix (2, 4 or 6 digits); 320500 holds all of Suzhou"}),
]


class ImpactQuery(ListQuery):
    region: RegionPrefix | None = Field(default=None, description="Regions within this code or prefix")
    figure: Figure | None = None
    source: Source | None = None


class ImpactCurrentQuery(Input):
    region: RegionPrefix | None = Field(default=None, description="Regions within this code or prefix")
    figure: Figure | None = None
    source: ShownSource | None = None


class ImpactValue(Output):
    region: str
    figure: Figure
    value: Counter
    unit: Unit
    source: ShownSource
    organization_id: UUID | None = None
    organization_name: str | None = None
    as_of: Timestamp | None = Field(description="The time the value holds for (relief: its latest record)")
    impact_id: UUID | None = Field(default=None, description="The observation it comes from; null for relief")


class ImpactCurrent(Output):
    """The current value per region, figure, source and organization: the latest observation by as_of."""

    incident_id: UUID
    items: list[ImpactValue]


__all__ = [
    "UNITS", "Figure", "Impact", "ImpactCreate", "ImpactCurrent", "ImpactCurrentQuery", "ImpactQuery",
    "ImpactValue", "Source",
]
