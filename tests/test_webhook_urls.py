"""The SSRF line at subscription time, as production runs it (RELIEF_WEBHOOK_ALLOW_PRIVATE=false): a refused
URL is a 422 pointing at /url, on create and on PATCH, and nothing is stored."""

from __future__ import annotations

import pytest

from relief.settings import Settings
from tests.webhook_world import subscribe


@pytest.fixture
def settings() -> Settings:
    return Settings(env="development", log_format="json", worker_in_process=False, webhook_allow_private=False)


REFUSED = [
    ("http://127.0.0.1/h", "loopback"),
    ("http://10.0.0.1/h", "private"),
    ("http://169.254.169.254/latest/meta-data", "metadata"),
    ("http://[::1]/h", "loopback"),
    ("http://localhost/h", "loopback"),  # a name that resolves to loopback
    ("http://[::ffff:10.0.0.1]/h", "private"),
    ("http://192.168.0.10:8080/h", "private"),
    ("http://0.0.0.0/h", "unspecified"),
]


@pytest.mark.parametrize(("url", "reason"), REFUSED)
async def test_internal_addresses_are_refused(organization, dispatcher, conn, url, reason):
    for api in (organization.api, dispatcher):
        response = await api.post("/v1/webhooks", json={"url": url, "event_types": ["call.*"]})
        assert response.status == 422, await response.text()
        assert response.content_type == "application/problem+json"
        body = await response.json()
        assert body["errors"][0]["pointer"] == "/url"
        assert reason in body["errors"][0]["detail"]
    assert await conn.fetchval("select count(*) from webhooks") == 0
    assert await conn.fetchval("select count(*) from events where type like 'webhook.%'") == 0


async def test_a_public_address_is_accepted_and_patching_to_an_internal_one_is_refused(organization, conn):
    # A literal public address: no DNS needed, and nothing is sent to it here (no worker runs).
    hook = await subscribe(organization.api, "http://8.8.8.8/relief-hook", event_types=["call.*"])
    assert hook["url"] == "http://8.8.8.8/relief-hook"
    assert await conn.fetchval("select destination from webhooks") == "8.8.8.8:80"
    path = f"/v1/webhooks/{hook['id']}"
    for url, reason in REFUSED:
        response = await organization.api.patch(path, json={"url": url}, headers={"If-Match": '"1"'})
        assert response.status == 422, (url, await response.text())
        body = await response.json()
        assert body["errors"][0]["pointer"] == "/url"
        assert reason in body["errors"][0]["detail"]
    read = await (await organization.api.get(path)).json()
    assert (read["url"], read["version"]) == ("http://8.8.8.8/relief-hook", 1)
    response = await organization.api.patch(path, json={"url": "https://8.8.4.4/h"}, headers={"If-Match": '"1"'})
    assert response.status == 200, await response.text()
    assert await conn.fetchval("select destination from webhooks") == "8.8.4.4:443"


async def test_a_name_that_does_not_resolve_is_refused(organization):
    response = await organization.api.post("/v1/webhooks", json={"url": "http://no-such-host.invalid/h"})
    assert response.status == 422
    body = await response.json()
    assert body["errors"][0]["pointer"] == "/url"
    assert "does not resolve" in body["errors"][0]["detail"]
