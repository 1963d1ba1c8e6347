"""Opaque list cursors: a position (created_at, id) or an id, base64url-encoded."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar
from uuid import UUID

import asyncpg
from pydantic import BaseModel

from models.common import Page
from relief.errors import Invalid


def _bad(param: str) -> Invalid:
    return Invalid(
        "the cursor is not one this service handed out",
        errors=[{"parameter": param, "detail": "invalid cursor; use next_cursor from the previous page"}],
    )


def _encode(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _decode(cursor: str, param: str) -> object:
    if len(cursor) > 500:  # ours are short; a long one is not ours (and deep nesting would recurse)
        raise _bad(param)
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError as exc:
        raise _bad(param) from exc


def encode_position(created_at: datetime, id: UUID) -> str:
    return _encode([created_at.isoformat(), str(id)])


def decode_position(cursor: str, *, param: str = "cursor") -> tuple[datetime, UUID]:
    """The (created_at, id) a cursor of ours holds; anything else, however it was made, is a 422.

    Every check is a plain `if` (not `assert`, which `python -O` removes), and every value is
    type-checked before use: a fuzzer's `["…", 123]` must not reach `UUID(123)`.
    """
    value = _decode(cursor, param)
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise _bad(param)
    stamp, id_text = value
    if len(stamp) > 40 or not stamp.isascii() or len(id_text) != 36:
        raise _bad(param)
    try:
        created_at = datetime.fromisoformat(stamp)
        id = UUID(id_text)
        utc_year = created_at.astimezone(UTC).year if created_at.tzinfo is not None else 0
    except (TypeError, ValueError, OverflowError) as exc:
        raise _bad(param) from exc
    if created_at.tzinfo is None or not (1900 <= created_at.year <= 2200 and 1900 <= utc_year <= 2200):
        raise _bad(param)
    return created_at, id


def encode_id(id: int) -> str:
    return _encode(id)


def decode_id(cursor: str, *, param: str = "cursor") -> int:
    value = _decode(cursor, param)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise _bad(param)
    return value


M = TypeVar("M", bound=BaseModel)


def page(
    rows: Sequence[asyncpg.Record],
    limit: int,
    model: type[M],
    convert: Callable[[asyncpg.Record], M] | None = None,
) -> Page[M]:
    """A page of `model` from `limit + 1` rows fetched newest first (created_at, id): the extra row
    only says that another page exists. `convert` turns a row into the model when a plain
    model_validate will not do."""
    convert = convert or (lambda row: model.model_validate(dict(row)))
    items = [convert(row) for row in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_position(last["created_at"], last["id"])
    return Page[model](items=items, next_cursor=next_cursor)  # type: ignore[valid-type]
