"""A route table that also describes each operation, so /openapi.json is built from what is served."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    body_required: bool = True
    response: Any = None  # a model class, or None for an empty response
    status: int = 200
    also: tuple[int, ...] = ()  # other success statuses with the same body, e.g. 200 for a duplicate
    public: bool = False  # no API key needed
    roles: str = ""  # who may call it, for the docs
    errors: tuple[int, ...] = ()
    query: type[BaseModel] | None = None
    if_match: bool = False  # needs If-Match (PATCH)
    idempotent: bool = False  # needs Idempotency-Key; replays with Idempotent-Replayed: true
    idempotency_optional: bool = False  # takes an Idempotency-Key if sent (the same replay rules)
    location: bool = True  # a 201 names what it created in Location (False where there is no URL for it)
    database: bool | None = None  # touches the database (so may answer 503); default: not public
    cached: bool = False  # public and cacheable: ETag + Cache-Control, 304 for a matching If-None-Match
    content_type: str = "application/json"
    # A file upload the handler streams itself (content type → what it is), under its own size limit and
    # deadline: the body middleware does not buffer it (handlers/bodies.py).
    upload: dict[str, str] = field(default_factory=dict)
    # Response headers, name → description; a description starting "(request)" is a request header.
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def uses_database(self) -> bool:
        return (not self.public) if self.database is None else self.database


class Routes:
    """Like aiohttp's RouteTableDef, keeping the description of each operation beside its handler."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.operations: list[Operation] = []

    def route(self, method: str, path: str, **meta: Any) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            summary = meta.pop("summary", None) or (handler.__doc__ or "").strip().splitlines()[0]
            self.operations.append(
                Operation(method=method, path=path, handler=handler, summary=summary, tag=self.tag, **meta)
            )
            return handler

        return register

    def get(self, path: str, **meta: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **meta)

    def post(self, path: str, **meta: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **meta)

    def patch(self, path: str, **meta: Any) -> Callable[[Handler], Handler]:
        return self.route("PATCH", path, **meta)

    def put(self, path: str, **meta: Any) -> Callable[[Handler], Handler]:
        return self.route("PUT", path, **meta)

    def delete(self, path: str, **meta: Any) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, **meta)
