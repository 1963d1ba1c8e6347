"""Rate limits with the default settings and a clock the test moves: 50 requests/s per key with bursts
of 100, 10 failed authentications a minute per address, none on public routes."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from handlers.ratelimits import CLOCK, client_address
from relief import auth
from relief.app import create_app
from relief.ratelimits import Buckets
from relief.settings import Settings
from tests.conftest import Api, incident_body

WRONG_KEY = "rk_" + "x" * 43


class FakeClock:
    """Monotonic seconds that move only when the test says."""

    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def limit_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(settings: Settings, database_url: str, limit_clock: FakeClock) -> web.Application:
    assert settings.rate_limit_per_second == 50 and settings.rate_limit_burst == 100
    assert settings.auth_failures_per_minute == 10 and settings.trusted_proxy_hops == 0
    app = create_app(settings, database_url=database_url)
    app[CLOCK] = limit_clock
    return app


async def _problem(response: Any) -> dict[str, Any]:
    assert response.status == 429, await response.text()
    assert response.content_type == "application/problem+json"
    body = await response.json()
    assert body["type"] == "/docs#problem-rate-limited" and body["status"] == 429
    assert body["title"] == "Too many requests"
    return body


async def test_a_key_past_its_burst_waits_for_tokens_while_other_keys_go_on(viewer: Api, organization, limit_clock):
    first = await viewer.get("/v1/incidents")
    assert first.status == 200
    assert (first.headers["RateLimit-Limit"], first.headers["RateLimit-Remaining"]) == ("100", "99")
    assert first.headers["RateLimit-Reset"] == "1"
    assert first.headers["RateLimit-Policy"] == '"key";q=100;w=2'
    assert first.headers["RateLimit"] == '"key";r=99;t=1'
    for _ in range(99):
        response = await viewer.get("/v1/incidents")
        assert response.status == 200
    assert response.headers["RateLimit-Remaining"] == "0" and response.headers["RateLimit-Reset"] == "2"

    refused = await viewer.get("/v1/incidents")
    await _problem(refused)
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["RateLimit-Remaining"] == "0" and refused.headers["RateLimit-Reset"] == "2"
    assert refused.headers["RateLimit-Policy"] == '"key";q=100;w=2'
    # Another key has its own bucket.
    other = await organization.api.get("/v1/incidents")
    assert other.status == 200 and other.headers["RateLimit-Remaining"] == "99"

    # 50 tokens a second: 0.02 s makes one, which one request spends.
    limit_clock.advance(0.01)
    assert (await viewer.get("/v1/incidents")).status == 429
    limit_clock.advance(0.01)
    assert (await viewer.get("/v1/incidents")).status == 200
    assert (await viewer.get("/v1/incidents")).status == 429
    limit_clock.advance(2)
    refilled = await viewer.get("/v1/incidents")
    assert refilled.status == 200 and refilled.headers["RateLimit-Remaining"] == "99"


async def test_a_console_session_spends_its_keys_bucket(client, viewer: Api):
    signed = await client.post("/console/session", json={"key": viewer.key})
    assert signed.status == 200
    assert "RateLimit-Limit" not in signed.headers  # signing in is not a request made with the key
    for _ in range(100):
        assert (await viewer.get("/v1/incidents")).status == 200
    by_cookie = await client.get("/v1/incidents")  # the cookie jar's session, no Authorization
    await _problem(by_cookie)


async def test_the_eleventh_failed_sign_in_in_a_minute_is_refused_without_a_lookup(
    client, viewer: Api, anonymous: Api, limit_clock
):
    for _ in range(10):
        response = await anonymous.post("/console/session", json={"key": WRONG_KEY})
        assert response.status == 401
    refused = await anonymous.post("/console/session", json={"key": WRONG_KEY})
    body = await _problem(refused)
    assert "failed sign-ins" in body["detail"]
    assert refused.headers["Retry-After"] == "6"  # one failure back every 6 s
    assert refused.headers["RateLimit-Policy"] == '"auth-failures";q=10;w=60'
    assert refused.headers["RateLimit-Remaining"] == "0" and refused.headers["RateLimit-Reset"] == "60"
    # The address is refused whatever it sends as credentials, a good key included …
    await _problem(await anonymous.post("/console/session", json={"key": viewer.key}))
    await _problem(await viewer.get("/v1/incidents"))
    # … but a request with none costs no query, so it gets its 401 as before.
    assert (await anonymous.get("/v1/incidents")).status == 401

    limit_clock.advance(5)
    await _problem(await anonymous.post("/console/session", json={"key": WRONG_KEY}))
    limit_clock.advance(1)  # 6 s: one failure's worth is back; a good key does not spend it
    assert (await anonymous.post("/console/session", json={"key": viewer.key})).status == 200
    assert (await anonymous.post("/console/session", json={"key": WRONG_KEY})).status == 401
    await _problem(await anonymous.post("/console/session", json={"key": WRONG_KEY}))
    limit_clock.advance(60)  # after a minute, the whole allowance again
    for _ in range(10):
        assert (await anonymous.post("/console/session", json={"key": WRONG_KEY})).status == 401
    await _problem(await anonymous.post("/console/session", json={"key": WRONG_KEY}))


async def test_wrong_bearer_keys_are_limited_per_address(client, anonymous: Api, limit_clock, monkeypatch):
    lookups: list[str] = []
    real = auth.authenticate

    async def counted(conn: Any, key: str) -> Any:
        lookups.append(key)
        return await real(conn, key)

    monkeypatch.setattr(auth, "authenticate", counted)
    wrong = {"Authorization": f"Bearer {WRONG_KEY}"}
    for attempt in range(10):
        headers = wrong if attempt % 2 else {"Authorization": "Bearer not a key"}
        assert (await anonymous.get("/v1/incidents", headers=headers)).status == 401
    assert len(lookups) == 5  # the malformed ones were refused without one
    await _problem(await anonymous.get("/v1/incidents", headers=wrong))
    await _problem(await client.get("/v1/incidents", cookies={"relief_session": "forged"}))
    assert len(lookups) == 5  # refused before any database query

    limit_clock.advance(6)  # one failure's worth
    assert (await anonymous.get("/v1/incidents", headers=wrong)).status == 401
    await _problem(await anonymous.get("/v1/incidents", headers=wrong))
    limit_clock.advance(60)
    assert (await anonymous.get("/v1/incidents", headers=wrong)).status == 401


async def test_public_routes_are_never_limited(dispatcher: Api, anonymous: Api):
    created = await dispatcher.post("/v1/incidents", json=incident_body())
    assert created.status == 201
    public = f"/v1/public/incidents/{(await created.json())['id']}"
    wrong = {"Authorization": f"Bearer {WRONG_KEY}"}
    for _ in range(11):
        await anonymous.get("/v1/incidents", headers=wrong)
    await _problem(await anonymous.get("/v1/incidents", headers=wrong))
    # More than a key's burst, from the address that is refused elsewhere, even sending the wrong key.
    for _ in range(120):
        response = await anonymous.get(public, headers=wrong)
        assert response.status == 200
        assert "RateLimit-Limit" not in response.headers
    assert (await anonymous.get("/healthz", headers=wrong)).status == 200


async def test_metrics_count_the_refusals(client, viewer: Api, anonymous: Api):
    for _ in range(101):
        await viewer.get("/v1/incidents")
    for _ in range(12):
        await anonymous.post("/console/session", json={"key": WRONG_KEY})
    text = await (await client.get("/metrics")).text()
    assert 'relief_rate_limited_total{limit="key"} 1.0' in text
    assert 'relief_rate_limited_total{limit="auth_failures"} 2.0' in text


async def test_zero_turns_the_limits_off(database_url: str, aiohttp_client):
    settings = Settings(env="development", log_format="json", worker_in_process=False,
                        rate_limit_per_second=0, auth_failures_per_minute=0)
    client = await aiohttp_client(create_app(settings, database_url=database_url))
    wrong = {"Authorization": f"Bearer {WRONG_KEY}"}
    for _ in range(30):
        response = await client.get("/v1/incidents", headers=wrong)
        assert response.status == 401 and "RateLimit-Limit" not in response.headers


def test_the_client_address_is_the_peer_unless_proxies_are_trusted():
    request = make_mocked_request(
        "GET", "/", headers={"X-Forwarded-For": "198.51.100.7, 203.0.113.5, 10.0.0.1"}
    ).clone(remote="10.0.0.2")
    assert client_address(request, 0) == "10.0.0.2"  # a header anyone can write counts for nothing
    assert client_address(request, 1) == "10.0.0.1"
    assert client_address(request, 2) == "203.0.113.5"
    assert client_address(request, 5) == "10.0.0.2"  # fewer entries than proxies: it bypassed them
    v6 = make_mocked_request("GET", "/").clone(remote="2001:db8:1:2:aaaa::1")
    assert client_address(v6, 0) == "2001:db8:1:2::/64"  # one subscriber's block is one address
    mapped = make_mocked_request("GET", "/").clone(remote="::ffff:192.0.2.9")
    assert client_address(mapped, 0) == "192.0.2.9"


def test_the_registry_forgets_full_buckets_and_stays_bounded():
    clock = FakeClock()
    buckets = Buckets(capacity=2, rate=1, clock=clock, max_buckets=50)
    for i in range(1000):  # random addresses, each failing once
        buckets.spend(f"addr-{i}")
        assert len(buckets) <= 50
    kept = buckets.take("addr-999")  # a recent bucket is kept: one token left of two
    assert kept.allowed and kept.remaining == 0
    assert not buckets.take("addr-999").allowed
    clock.advance(120)  # every bucket refilled: the next new key sweeps them all out
    buckets.take("fresh")
    assert len(buckets) == 1
