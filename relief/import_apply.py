"""One import row through its API path: the same model, the same use case, the same event.

Each row returns "written" or "present" (already in Relief: the same person by ID number, the same
receipt, or the same row key), or raises RowError naming the column and the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import asyncpg
from pydantic import TypeAdapter, ValidationError

from models.donations import DonationCreate
from models.impacts import ImpactCreate
from models.residents import EvacuationCreate, ResidentCreate
from relief import donations, impacts, residents
from relief.auth import Principal
from relief.errors import Conflict, Invalid, NotFound, ReliefError

_DONATION: TypeAdapter[Any] = TypeAdapter(DonationCreate)


class RowError(Exception):
    """A refused row: the field (or column letter) and the reason in English; `error` is pydantic's own
    record of it when the model refused, so the reason can be told in Chinese (relief/import_reasons.py)."""

    def __init__(self, column: str, reason: str, error: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.column, self.reason, self.error = column, reason, error


@dataclass
class Context:
    """What every row of one import shares: who writes, where, and the references already resolved."""

    incident_id: UUID
    import_id: UUID
    actor: Principal
    secret: bytes
    shelters: dict[str, UUID] = field(default_factory=dict)  # name or id → id
    sites: dict[str, UUID] = field(default_factory=dict)
    organizations: dict[str, UUID] = field(default_factory=dict)  # credit code or id → id

    async def load(self, conn: asyncpg.Connection) -> None:
        for r in await conn.fetch("select id, name from shelters where incident_id = $1", self.incident_id):
            self.shelters.setdefault(r["name"], r["id"])
            self.shelters[str(r["id"])] = r["id"]
        for r in await conn.fetch("select id, name from sites where incident_id = $1", self.incident_id):
            self.sites.setdefault(r["name"], r["id"])
            self.sites[str(r["id"])] = r["id"]
        for r in await conn.fetch("select id, credit_code from organizations where status = 'approved'"):
            self.organizations[r["credit_code"]] = r["id"]
            self.organizations[str(r["id"])] = r["id"]


def _ref(table: dict[str, UUID], value: str | None, column: str, what: str) -> UUID | None:
    if not value:
        return None
    found = table.get(value.strip())
    if found is None:
        raise RowError(column, f"no {what} {value!r} in this incident" if what != "organization"
                       else f"no approved organization with credit code {value!r}")
    return found


def validation_error(exc: ValidationError, fields: list[str]) -> RowError:
    """The first problem pydantic found, as (field, reason). A rule over the whole row (a model
    validator: "CNY amounts have at most 2 decimal places") names no field; the first of `fields`
    its message speaks of stands in, and an unknown kind of donation is the kind column's."""
    first = exc.errors()[0]
    reason = str(first["msg"]).removeprefix("Value error, ")
    loc = [str(p) for p in first["loc"] if not isinstance(p, int) and p not in ("money", "goods")]
    if not loc and first["type"] == "union_tag_invalid":
        loc = ["kind"]
    if not loc:
        words = set(re.findall(r"[a-z_]+", reason.lower()))
        loc = [next((f for f in fields if f in words or f + "s" in words), "")]
    return RowError(".".join(loc), reason, dict(first))


def domain_error(exc: ReliefError) -> RowError:
    """A use case's refusal: its first JSON pointer names the field."""
    errors = exc.extra.get("errors") or []
    pointer = errors[0].get("pointer", "") if errors else ""
    return RowError(pointer.strip("/").replace("/", "."), exc.detail)


async def _row_key(conn: asyncpg.Connection, ctx: Context, kind: str, key: str) -> bool:
    """Claim the row key; False when an earlier import (or row) already wrote it."""
    return await conn.fetchval(
        """
        insert into import_row_keys (incident_id, kind, row_key, import_id) values ($1, $2, $3, $4)
        on conflict do nothing returning true
        """,
        ctx.incident_id, kind, key, ctx.import_id,
    ) is not None


@dataclass
class Prepared:
    """A row past its model: the validated body, and where a resident checks in."""

    data: Any
    shelter: UUID | None = None


def prepare(ctx: Context, kind: str, body: dict[str, Any], refs: dict[str, str]) -> Prepared:
    """The row's model, by the API's own validation, references resolved; RowError when refused.
    No database: the runner validates a whole batch first, then writes it (relief/import_bulk.py)."""
    try:
        if kind == "residents":
            assisted = _ref(ctx.organizations, refs.get("assisted_by"), "assisted_by", "organization")
            shelter = _ref(ctx.shelters, refs.get("shelter"), "shelter", "shelter")
            data = ResidentCreate.model_validate({**body, **({"assisted_by": str(assisted)} if assisted else {})})
            return Prepared(data, shelter)
        if kind == "evacuations":
            assisted = _ref(ctx.organizations, refs.get("assisted_by"), "assisted_by", "organization")
            shelter = _ref(ctx.shelters, refs.get("shelter"), "shelter", "shelter")
            extra = {k: str(v) for k, v in (("assisted_by", assisted), ("shelter_id", shelter)) if v}
            return Prepared(EvacuationCreate.model_validate({**body, **extra}))
        if kind == "donations":
            donor = dict(body.get("donor") or {})
            organization = _ref(ctx.organizations, refs.get("donor.organization"), "donor.organization",
                                "organization")
            if organization:
                donor["organization_id"] = str(organization)
            site = _ref(ctx.sites, refs.get("site"), "site", "site")
            shelter = _ref(ctx.shelters, refs.get("shelter"), "shelter", "shelter")
            extra = {k: str(v) for k, v in (("site_id", site), ("shelter_id", shelter)) if v}
            return Prepared(_DONATION.validate_python({**body, **({"donor": donor} if donor else {}), **extra}))
        organization = _ref(ctx.organizations, refs.get("organization"), "organization", "organization")
        return Prepared(ImpactCreate.model_validate(
            {**body, **({"organization_id": str(organization)} if organization else {})}))
    except ValidationError as exc:
        raise validation_error(exc, [*body, *refs]) from None


async def apply(conn: asyncpg.Connection, ctx: Context, kind: str, row: Prepared, key: str) -> str:
    """Write one prepared row through its API use case: "written" or "present"; RowError when refused."""
    try:
        if kind == "residents":
            return await _resident(conn, ctx, row)
        if kind == "evacuations":
            return await _evacuation(conn, ctx, row.data, key)
        if kind == "donations":
            return await _donation(conn, ctx, row.data, key)
        return await _impact(conn, ctx, row.data, key)
    except (Invalid, Conflict, NotFound) as exc:
        raise domain_error(exc) from None


async def _resident(conn: asyncpg.Connection, ctx: Context, row: Prepared) -> str:
    resident, duplicate = await residents.register(conn, actor=ctx.actor, incident_id=ctx.incident_id, data=row.data,
                                                   secret=ctx.secret)
    if duplicate:
        return "present"
    if row.shelter is not None:
        try:
            await residents.checkin(conn, actor=ctx.actor, resident_id=resident.id, shelter_id=row.shelter)
        except Conflict as exc:
            raise RowError("shelter", exc.detail) from None
    return "written"


async def _evacuation(conn: asyncpg.Connection, ctx: Context, data: EvacuationCreate, key: str) -> str:
    if not await _row_key(conn, ctx, "evacuations", key):
        return "present"
    await residents.record_evacuation(conn, actor=ctx.actor, incident_id=ctx.incident_id, data=data)
    return "written"


async def _donation(conn: asyncpg.Connection, ctx: Context, data: Any, key: str) -> str:
    if data.receipt_no is not None:
        if await conn.fetchval("select 1 from donations where incident_id = $1 and receipt_no = $2",
                               ctx.incident_id, data.receipt_no):
            return "present"  # that receipt is in the ledger already (asked first: a refused insert aborts)
    elif not await _row_key(conn, ctx, "donations", key):
        return "present"
    await donations.record(conn, actor=ctx.actor, incident_id=ctx.incident_id, data=data)
    return "written"


async def _impact(conn: asyncpg.Connection, ctx: Context, data: ImpactCreate, key: str) -> str:
    if not await _row_key(conn, ctx, "impacts", key):
        return "present"
    await impacts.record(conn, actor=ctx.actor, incident_id=ctx.incident_id, data=data)
    return "written"


__all__ = ["Context", "Prepared", "RowError", "apply", "prepare"]
