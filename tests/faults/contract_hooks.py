"""Schemathesis hooks for tests/faults/test_contract.py (loaded through SCHEMATHESIS_HOOKS)."""

from __future__ import annotations

import uuid
from typing import Any

import schemathesis


@schemathesis.hook
def before_call(ctx: Any, case: Any, **kwargs: Any) -> None:
    """Send schema-valid requests without a made-up cursor.

    A cursor is opaque: its schema (base64url, ≤ 500 characters) says what shape it has, but no schema
    can say which strings the server handed out, and every other one is rightly a 422. So a positive
    case, which must be accepted, leaves it out; negative and fuzzed cases keep theirs, and must still
    get a 4xx, never a 5xx.
    """
    meta = getattr(case, "meta", None)
    if meta is None or not meta.generation.mode.is_positive:
        return
    # An Idempotency-Key names one create, and its reuse with another body is rightly a 422; the
    # generator repeats short values ("0") across cases, so each positive case gets a key of its own.
    if case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = uuid.uuid4().hex
    if case.query and "cursor" in case.query:
        case.query = {name: value for name, value in case.query.items() if name != "cursor"}
