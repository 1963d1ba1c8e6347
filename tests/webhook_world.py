"""What the webhook tests share: receivers that record and verify what they get, and workers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from standardwebhooks import Webhook as Verifier

from notifications.worker import Worker
from relief.settings import Settings


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A local endpoint: answers each path with the statuses queued for it (then 200), records all."""

    base_url: str = ""
    received: list[Received] = field(default_factory=list)
    answers: dict[str, list[int | tuple[int, dict[str, str]]]] = field(default_factory=dict)

    def url(self, path: str = "/hook") -> str:
        return self.base_url + path

    def at(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(Received(request.path, dict(request.headers), await request.text()))
        queued = self.answers.get(request.path)
        answer = queued.pop(0) if queued else 200
        status, headers = answer if isinstance(answer, tuple) else (answer, {})
        return web.Response(status=status, text=f"answer {status}", headers=headers)


def verify(secret: str, received: Received) -> dict[str, Any]:
    """What a receiver using the standardwebhooks package does; raises if the delivery is not genuine."""
    return Verifier(secret).verify(received.body, received.headers)


@pytest.fixture
async def receiver(aiohttp_server: Any) -> Receiver:
    return await start_receiver(aiohttp_server)


async def start_receiver(aiohttp_server: Any) -> Receiver:
    """A receiver on a port of its own (another host:port: another destination)."""
    endpoint = Receiver()
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", endpoint.handle)
    server = await aiohttp_server(app)
    endpoint.base_url = f"http://127.0.0.1:{server.port}"
    return endpoint


class Clock:
    """A clock the retry schedule reads; tests move it instead of sleeping."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def worker(settings: Settings, database_url: str, clock: Clock) -> AsyncIterator[Worker]:
    delivery = Worker(settings, database_url, clock=clock)
    await delivery.start()
    yield delivery
    await delivery.close()


async def subscribe(api: Any, url: str, **body: Any) -> dict[str, Any]:
    response = await api.post("/v1/webhooks", json={"url": url, **body})
    assert response.status == 201, await response.text()
    return await response.json()
