"""Behind a reverse proxy: X-Forwarded-* believed only from RELIEF_TRUSTED_PROXIES, the cookie's Secure and
HSTS following the public URL's scheme, the Origin check that survives a proxy rewriting Host; and the
start-up defaults that go with deployment (private webhook addresses in development, what serve prints)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import structlog
from aiohttp.test_utils import make_mocked_request

from handlers import proxy
from handlers.ratelimits import client_address
from models.keys import Role
from relief import chain, cli, keys
from relief.app import create_app
from relief.auth import SYSTEM
from relief.settings import Settings
from tests.conftest import incident_body

PUBLIC = "https://relief.example.gov.cn"
# What nginx sends for https://relief.example.gov.cn/ when it talks to us on 127.0.0.1:8080.
FROM_NGINX = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "relief.example.gov.cn",
              "X-Forwarded-For": "198.51.100.7"}


def _settings(**extra: Any) -> Settings:
    base: dict[str, Any] = {"env": "development", "log_format": "json", "worker_in_process": False,
                            "imports_in_process": False}
    if extra.get("env") == "production":
        base.update(secret_key="s" * 40, ledger_key=chain.new_key(), database_url="postgresql://unused")
    return Settings(**{**base, **extra})


async def _serve(aiohttp_client: Any, database_url: str, **extra: Any) -> Any:
    return await aiohttp_client(create_app(_settings(**extra), database_url=database_url))


async def _sign_in(client: Any, conn: Any, headers: dict[str, str] | None = None) -> tuple[dict[str, str], str]:
    """The headers a console page sends with a change (cookie, CSRF token), and the Set-Cookie it got."""
    key = (await keys.create(conn, actor=SYSTEM, name="duty dispatcher", role=Role.dispatcher)).key
    response = await client.post("/console/session", json={"key": key}, headers=headers or {})
    assert response.status == 200, await response.text()
    cookie = response.headers["Set-Cookie"]
    # The test client speaks plain http, so its jar would keep a Secure cookie to itself: sent by hand.
    client.session.cookie_jar.clear()
    token = cookie.split(";")[0].partition("=")[2]
    return {"Cookie": f"relief_session={token}", "X-CSRF-Token": (await response.json())["csrf_token"]}, cookie


def _secure(cookie: str) -> bool:
    return "secure" in {part.strip().split("=")[0].lower() for part in cookie.split(";")}


def _request(remote: str, headers: dict[str, str] | None = None) -> Any:
    return make_mocked_request("GET", "/", headers=headers or {}).clone(remote=remote)


def test_forwarded_for_is_read_only_from_listed_proxies():
    trust = proxy.Trust(proxies=(proxy.ipaddress.ip_network("10.0.0.0/24"),))
    chain_ = {"X-Forwarded-For": "6.6.6.6, 198.51.100.7, 10.0.0.3"}
    # From the proxy: the first address from the right that is not a proxy of ours; what the client
    # wrote itself (6.6.6.6, left of it) counts for nothing.
    assert proxy.client(_request("10.0.0.2", chain_), trust) == "198.51.100.7"
    # Straight from the client, bypassing the proxy: its headers are its own invention.
    assert proxy.client(_request("203.0.113.9", chain_), trust) == "203.0.113.9"
    assert proxy.client(_request("10.0.0.2"), trust) == "10.0.0.2"  # the proxy itself, no header
    # A fixed number of hops, from listed proxies only.
    hops = proxy.Trust(proxies=trust.proxies, hops=2)
    assert proxy.client(_request("10.0.0.2", chain_), hops) == "198.51.100.7"
    assert proxy.client(_request("203.0.113.9", chain_), hops) == "203.0.113.9"
    # RELIEF_TRUSTED_PROXY_HOPS alone keeps its meaning (any peer), for the per-address limits.
    assert client_address(_request("203.0.113.9", chain_), 1) == "10.0.0.3"
    assert client_address(_request("::ffff:10.0.0.2", chain_), trust) == "198.51.100.7"  # v4 as v6 is v4


def test_the_setting_takes_a_comma_separated_list_and_refuses_what_is_not_an_address(monkeypatch):
    monkeypatch.setenv("RELIEF_TRUSTED_PROXIES", "10.0.0.5, 10.1.0.0/16 ::1")
    assert [str(n) for n in Settings().trusted_proxies] == ["10.0.0.5/32", "10.1.0.0/16", "::1/128"]
    monkeypatch.setenv("RELIEF_TRUSTED_PROXIES", "nginx.local")
    with pytest.raises(ValueError, match="not an IP address or CIDR block"):
        Settings()


async def test_a_proxy_that_rewrites_host_can_sign_in_and_change(aiohttp_client, database_url, conn):
    client = await _serve(aiohttp_client, database_url, trusted_proxies="127.0.0.1")
    session, cookie = await _sign_in(client, conn, FROM_NGINX)
    assert _secure(cookie)  # reached over https at the proxy
    ours = {**FROM_NGINX, "Origin": PUBLIC, **session}
    created = await client.post("/v1/incidents", json=incident_body(), headers=ours)
    assert created.status == 201, await created.text()
    assert created.headers["Strict-Transport-Security"].startswith("max-age=")
    # The request's own Host (127.0.0.1:port) is not where the browser is, so it is no longer asked for.
    own = f"http://{client.server.host}:{client.server.port}"
    refused = await client.post("/v1/incidents", json=incident_body(code="X-2"),
                                headers={**FROM_NGINX, "Origin": own, **session})
    assert refused.status == 403 and PUBLIC in (await refused.json())["detail"]


async def test_forwarded_headers_from_anyone_else_are_ignored(aiohttp_client, database_url, conn):
    client = await _serve(aiohttp_client, database_url, trusted_proxies="10.9.9.9")
    session, cookie = await _sign_in(client, conn, FROM_NGINX)
    assert not _secure(cookie)  # plain http, whatever the header says
    forged = await client.post("/v1/incidents", json=incident_body(),
                               headers={**FROM_NGINX, "Origin": PUBLIC, **session})
    assert forged.status == 403
    assert "Strict-Transport-Security" not in forged.headers
    own = f"http://{client.server.host}:{client.server.port}"
    direct = await client.post("/v1/incidents", json=incident_body(),
                               headers={**FROM_NGINX, "Origin": own, **session})
    assert direct.status == 201, await direct.text()


async def test_the_public_url_decides_secure_hsts_and_the_origin(aiohttp_client, database_url, conn):
    client = await _serve(aiohttp_client, database_url, public_url=PUBLIC)
    session, cookie = await _sign_in(client, conn)
    assert _secure(cookie)
    own = f"http://{client.server.host}:{client.server.port}"
    assert (await client.post("/v1/incidents", json=incident_body(),
                              headers={"Origin": own, **session})).status == 403
    good = await client.post("/v1/incidents", json=incident_body(),
                             headers={"Origin": PUBLIC + ":443", **session})  # the default port
    assert good.status == 201, await good.text()
    assert good.headers["Strict-Transport-Security"].startswith("max-age=")


async def test_an_http_intranet_url_in_production_keeps_its_sign_in(aiohttp_client, database_url, conn):
    intranet = "http://relief.intranet:8080"
    client = await _serve(aiohttp_client, database_url, env="production", public_url=intranet)
    session, cookie = await _sign_in(client, conn)
    assert not _secure(cookie)  # a Secure cookie would never come back over http: no sign-in at all
    response = await client.post("/v1/incidents", json=incident_body(),
                                 headers={"Origin": intranet, **session})
    assert response.status == 201, await response.text()
    assert "Strict-Transport-Security" not in response.headers
    with structlog.testing.capture_logs() as logs:
        cli.announce(_settings(env="production", public_url=intranet))
    warned = [e for e in logs if e["event"] == "public_url_not_https"]
    assert warned and warned[0]["log_level"] == "warning"


async def test_per_address_limits_count_the_address_the_proxy_saw(aiohttp_client, database_url):
    client = await _serve(aiohttp_client, database_url, trusted_proxies="127.0.0.0/8", auth_failures_per_minute=2)
    wrong = {"Authorization": "Bearer rk_" + "x" * 43}
    for _ in range(2):
        assert (await client.get("/v1/incidents", headers={**wrong, "X-Forwarded-For": "198.51.100.7"})).status == 401
    assert (await client.get("/v1/incidents", headers={**wrong, "X-Forwarded-For": "198.51.100.7"})).status == 429
    # Another client behind the same proxy has its own budget.
    assert (await client.get("/v1/incidents", headers={**wrong, "X-Forwarded-For": "198.51.100.8"})).status == 401

    direct = await _serve(aiohttp_client, database_url, auth_failures_per_minute=2)  # no proxy listed
    for forwarded in ("198.51.100.7", "198.51.100.8"):
        assert (await direct.get("/v1/incidents", headers={**wrong, "X-Forwarded-For": forwarded})).status == 401
    assert (await direct.get("/v1/incidents", headers={**wrong, "X-Forwarded-For": "198.51.100.9"})).status == 429


async def test_the_log_line_names_the_client_the_proxy_saw(aiohttp_client, database_url):
    client = await _serve(aiohttp_client, database_url, trusted_proxies="127.0.0.1")
    with structlog.testing.capture_logs() as logs:
        await client.get("/healthz", headers=FROM_NGINX)
        await client.get("/healthz")
    assert [e["client"] for e in logs if e["event"] == "request"] == ["198.51.100.7", "127.0.0.1"]


async def test_feed_links_follow_the_public_url_else_the_trusted_proxy(aiohttp_client, database_url):
    behind = await _serve(aiohttp_client, database_url, trusted_proxies="127.0.0.1")
    feed = await (await behind.get("/v1/public/alerts.atom", headers=FROM_NGINX)).text()
    assert f'href="{PUBLIC}/v1/public/alerts.atom"' in feed
    untrusted = await _serve(aiohttp_client, database_url)
    feed = await (await untrusted.get("/v1/public/alerts.atom", headers=FROM_NGINX)).text()
    assert f'href="http://{untrusted.server.host}:{untrusted.server.port}/v1/public/alerts.atom"' in feed
    mounted = await _serve(aiohttp_client, database_url, public_url="https://gov.example/relief/")
    feed = await (await mounted.get("/v1/public/alerts.atom", headers=FROM_NGINX)).text()
    assert 'href="https://gov.example/relief/v1/public/alerts.atom"' in feed


def test_development_allows_private_webhook_addresses_unless_told_otherwise(monkeypatch):
    assert _settings().webhook_allow_private is True
    assert _settings(webhook_allow_private=False).webhook_allow_private is False
    assert _settings(env="production").webhook_allow_private is False
    assert _settings(env="production", webhook_allow_private=True).webhook_allow_private is True
    with structlog.testing.capture_logs() as logs:
        cli.announce(_settings())
        cli.announce(_settings(env="production", webhook_allow_private=True, public_url=PUBLIC))
    said = [(e["event"], e["log_level"]) for e in logs]
    assert ("webhooks_to_private_addresses", "info") in said
    assert ("webhooks_to_private_addresses", "warning") in said
    monkeypatch.setenv("RELIEF_WEBHOOK_ALLOW_PRIVATE", "false")
    assert Settings().webhook_allow_private is False  # explicit in the environment wins too


async def test_a_development_server_takes_a_webhook_on_loopback(aiohttp_client, database_url, conn):
    client = await _serve(aiohttp_client, database_url)  # no RELIEF_WEBHOOK_ALLOW_PRIVATE set
    key = (await keys.create(conn, actor=SYSTEM, name="duty dispatcher", role=Role.dispatcher)).key
    response = await client.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "event_types": ["call.*"]},
                                 headers={"Authorization": f"Bearer {key}"})
    assert response.status == 201, await response.text()
    production = await _serve(aiohttp_client, database_url, env="production")
    response = await production.post("/v1/webhooks", json={"url": "https://127.0.0.1:9/hook",
                                                            "event_types": ["call.*"]},
                                     headers={"Authorization": f"Bearer {key}"})
    assert response.status == 422 and "loopback" in await response.text()


async def test_json_bodies_end_with_a_newline(client, dispatcher, anonymous):
    for response in (
        await client.get("/healthz"),
        await dispatcher.post("/v1/incidents", json=incident_body()),
        await dispatcher.get("/v1/incidents"),
        await anonymous.get("/v1/incidents"),  # a problem
        await dispatcher.post("/v1/incidents", json={"code": ""}),  # a validation problem
        await client.get("/console/session"),
    ):
        raw = await response.read()
        assert raw.endswith(b"}\n") and not raw.endswith(b"\n\n"), (response.url, raw[-40:])
        json.loads(raw)


def test_serve_prints_the_console_and_the_public_page(capsys):
    result = type("Result", (), {
        "incident_id": "0b0e5c55-0000-0000-0000-000000000000", "incident_code": "2023-DOKSURI-SZ-DEMO",
        "loaded": True, "dispatcher_key": "rk_d", "approver_key": "rk_a", "organization_key": "rk_o",
        "organization_name": "x"})()
    cli._print_demo(_settings(port=8123), result)
    out = capsys.readouterr().out
    assert "console: http://127.0.0.1:8123/" in out
    assert "public page: http://127.0.0.1:8123/public/incidents/0b0e5c55-" in out
    assert "public page: http://127.0.0.1:8123/v1/public" not in out
