"""Region names (GB/T 2260): the vendored table, the names put beside codes, and the /v1/regions shapes.

The table is models/regions.json, made by bench/regions_table.py from a dataset package (its source,
edition and licence are at the top of the file). It is read once, on first use. A code it lacks is
still a valid region (models/codes.py checks the form, not the table): its name is null.
"""

from __future__ import annotations

import json
from enum import StrEnum
from functools import cache
from importlib import resources
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from models.codes import RegionPrefix


@cache
def _table() -> dict[str, Any]:
    return json.loads(resources.files("models").joinpath("regions.json").read_text(encoding="utf-8"))


def source() -> dict[str, str]:
    """Where the table comes from: source, package, licence, as_of, published."""
    return {k: v for k, v in _table().items() if k != "regions"}


def _full(code: Any) -> str | None:
    """A code or its prefix (32, 3205, 320505) as the 6-digit code it stands for; None if neither."""
    if not isinstance(code, str) or len(code) not in (2, 4, 6) or not (code.isascii() and code.isdigit()):
        return None
    return code.ljust(6, "0")


def name_of(code: Any) -> str | None:
    """The name of a division code or its prefix (3205 is 苏州市); None when the table lacks it."""
    full = _full(code)
    return None if full is None else _table()["regions"].get(full)


def names_of(value: Any) -> Any:
    """The names beside a region value: a name for a code, a list of names (same order) for a list."""
    if isinstance(value, list):
        return [name_of(v) for v in value]
    return None if value is None else name_of(value)


class Level(StrEnum):
    province = "province"
    city = "city"
    county = "county"


def level_of(code: str) -> Level:
    if code.endswith("0000"):
        return Level.province
    return Level.city if code.endswith("00") else Level.county


def parent_of(code: str) -> str | None:
    """The division one level up: 320505 → 320500 → 320000 → None."""
    level = level_of(code)
    if level is Level.province:
        return None
    return code[:2] + "0000" if level is Level.city else code[:4] + "00"


@cache
def _children() -> dict[str | None, list[str]]:
    index: dict[str | None, list[str]] = {}
    for code in _table()["regions"]:  # in code order
        index.setdefault(parent_of(code), []).append(code)
    return index


def known(code: str) -> bool:
    return code in _table()["regions"]


def children(parent: str | None) -> list[str]:
    """The codes one level below `parent` (a 6-digit code), in code order; the provinces for None."""
    return list(_children().get(parent, ()))


def has_children(code: str) -> bool:
    return bool(_children().get(code))


def _name_key(field: str) -> str | None:
    """Where a region field's name goes: region → region_name, regions → region_names (and
    origin_region, from_region…); None for other fields."""
    if field == "region" or field.endswith("_region"):
        return field + "_name"
    if field == "regions" or field.endswith("_regions"):
        return field[:-1] + "_names"
    return None


@cache
def _named_fields(model: type[BaseModel]) -> dict[str, str]:
    fields = model.model_fields
    found = {f: _name_key(f) for f in fields}
    return {f: key for f, key in found.items() if key is not None and key not in fields}


def _name_schema(field_schema: dict[str, Any], plural: bool) -> dict[str, Any]:
    nullable = {"type": "null"} in field_schema.get("anyOf", [])
    one: dict[str, Any] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    if plural:
        names: dict[str, Any] = {"type": "array", "items": one}
        shape = {"anyOf": [names, {"type": "null"}]} if nullable else names
        what = "The names of these regions (GB/T 2260), in the same order; null for a code the table lacks"
        example: Any = ["虎丘区"]
    else:
        shape = one
        what = "The name of this region (GB/T 2260); null for a code the table lacks"
        example = "虎丘区"
    # The example is 320505's name: the code handlers/openapi_examples.py gives region patterns.
    return {**shape, "description": what, "examples": [example], "readOnly": True}


class NamedRegions(BaseModel):
    """Base of read models: every region field gets its name beside it in JSON, `region` →
    `region_name`, `regions` → `region_names` (same order), found by the field's name, so every REST
    read, event payload, webhook and stream says the same (models/regions.json; null if unknown)."""

    @model_serializer(mode="wrap")
    def _with_region_names(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo):
        # No return annotation: with one, pydantic would take its schema for the model's own.
        data = handler(self)
        named = _named_fields(type(self))
        if not named or not info.mode_is_json() or not isinstance(data, dict):
            return data  # python-mode dumps (merging changes, building other models) stay as the fields are
        out: dict[str, Any] = {}
        for key, value in data.items():
            out[key] = value
            if key in named:
                out[named[key]] = names_of(value)
        return out

    @model_validator(mode="before")
    @classmethod
    def _without_region_names(cls, data: Any) -> Any:
        # A stored payload (an event's before/after) carries the names it was written with; they are
        # derived, so reading one back drops them rather than refusing them as unknown fields.
        if isinstance(data, dict):
            added = set(_named_fields(cls).values())
            if added and not added.isdisjoint(data):
                return {k: v for k, v in data.items() if k not in added}
        return data

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler(core_schema)
        named = _named_fields(cls)
        if not named or handler.mode != "serialization":
            return schema
        target = handler.resolve_ref_schema(schema)
        properties = target.get("properties", {})
        required = target.get("required", [])
        shown: dict[str, Any] = {}
        for name, prop in properties.items():
            shown[name] = prop
            if name in named:
                shown[named[name]] = _name_schema(handler.resolve_ref_schema(prop) if "$ref" in prop else prop,
                                                  plural=named[name].endswith("_names"))
        target["properties"] = shown
        if required:
            target["required"] = [n for name in required for n in ((name, named[name]) if name in named else (name,))]
        return schema


class RegionEntry(BaseModel):
    """One division of the table, for pickers: province → city → county."""

    model_config = ConfigDict(from_attributes=True)

    code: str = Field(description="The 6-digit division code", examples=["320500"])
    name: str = Field(description="Its name in GB/T 2260", examples=["苏州市"])
    level: Level = Field(description="province, city (prefecture level) or county (county level)")
    parent: str | None = Field(description="The division one level up; null for a province")
    has_children: bool = Field(description="Whether the table lists divisions under it")


class RegionList(BaseModel):
    items: list[RegionEntry] = Field(description="The divisions one level below `parent`, in code order")
    next_cursor: None = Field(default=None, description="Always null: a level is never more than one page")


class RegionQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parent: RegionPrefix | None = Field(
        default=None, description="A province or city: its code or prefix (320000 or 32, 320500 or 3205); "
        "absent: the provinces",
    )


def entry(code: str) -> RegionEntry:
    return RegionEntry(code=code, name=_table()["regions"][code], level=level_of(code), parent=parent_of(code),
                       has_children=has_children(code))
