"""The smaller holes the probes found: /metrics in production, caching, HSTS, tokens in webhook URLs."""

from __future__ import annotations

from typing import Any

from relief import chain
from relief.app import create_app
from relief.settings import Settings
from tests.conftest import Api, incident_body
from tests.webhook_world import subscribe

SECRET = "s" * 40


async def _production(aiohttp_client: Any, database_url: str, **extra: Any) -> Any:
    settings = Settings(env="production", secret_key=SECRET, ledger_key=chain.new_key(), database_url=database_url,
                        log_format="json", worker_in_process=False, **extra)
    return await aiohttp_client(create_app(settings, database_url=database_url))


async def test_metrics_in_production_needs_the_metrics_token(aiohttp_client, database_url):
    closed = await _production(aiohttp_client, database_url)
    response = await closed.get("/metrics")
    assert response.status == 404 and "RELIEF_METRICS_TOKEN" in (await response.json())["detail"]

    scraped = await _production(aiohttp_client, database_url, metrics_token="m" * 32)
    assert (await scraped.get("/metrics")).status == 401
    assert (await scraped.get("/metrics", headers={"Authorization": "Bearer wrong"})).status == 401
    response = await scraped.get("/metrics", headers={"Authorization": f"Bearer {'m' * 32}"})
    assert response.status == 200 and "relief_http_requests_total" in await response.text()


async def test_development_metrics_stay_open(anonymous):
    assert (await anonymous.get("/metrics")).status == 200


async def test_answers_carry_hsts_when_the_service_is_reached_over_https(aiohttp_client, database_url, anonymous):
    # HSTS follows the public URL's scheme (tests/test_proxy.py: else the request's, through trusted proxies).
    production = await _production(aiohttp_client, database_url, public_url="https://relief.example.gov.cn")
    response = await production.get("/healthz")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Strict-Transport-Security" not in (await anonymous.get("/healthz")).headers
    intranet = await _production(aiohttp_client, database_url, public_url="http://relief.intranet:8080")
    assert "Strict-Transport-Security" not in (await intranet.get("/healthz")).headers


async def test_what_a_key_reads_is_never_stored_by_a_cache(viewer, anonymous, dispatcher):
    incident = await (await dispatcher.post("/v1/incidents", json=incident_body())).json()
    for response in (
        await viewer.get("/v1/incidents"),
        await viewer.get(f"/v1/incidents/{incident['id']}"),
        await viewer.get("/v1/nowhere"),  # an error for a key is the key's too
        await Api(viewer.client, "rk_wrong").get("/v1/incidents"),
    ):
        assert response.headers.get("Cache-Control") == "no-store", (response.url, response.status)
    public = await anonymous.get(f"/v1/public/incidents/{incident['id']}")
    assert public.headers["Cache-Control"].startswith("public, max-age=")


async def test_a_webhook_urls_query_is_shown_to_its_owner_only(dispatcher, viewer, organization):
    url_query = "token=abc123secret&team=7"
    theirs = await subscribe(organization.api, f"https://127.0.0.1:9/hook?{url_query}", event_types=["call.*"])
    ours = await subscribe(dispatcher, f"https://127.0.0.1:9/bureau?{url_query}", event_types=["call.*"])
    masked = "?token=***&team=***"
    assert theirs["url"].endswith(url_query)  # the owner, at creation
    seen = {
        ("owner", "theirs"): await organization.api.get(f"/v1/webhooks/{theirs['id']}"),
        ("dispatcher", "theirs"): await dispatcher.get(f"/v1/webhooks/{theirs['id']}"),
        ("viewer", "theirs"): await viewer.get(f"/v1/webhooks/{theirs['id']}"),
        ("dispatcher", "ours"): await dispatcher.get(f"/v1/webhooks/{ours['id']}"),
        ("viewer", "ours"): await viewer.get(f"/v1/webhooks/{ours['id']}"),
    }
    urls = {who: (await response.json())["url"] for who, response in seen.items()}
    assert urls[("owner", "theirs")].endswith(url_query)
    assert urls[("dispatcher", "ours")].endswith(url_query)
    for who in (("dispatcher", "theirs"), ("viewer", "theirs"), ("viewer", "ours")):
        assert urls[who].endswith(masked), (who, urls[who])
    listed = await (await viewer.get("/v1/webhooks")).text()
    assert "abc123secret" not in listed and masked in listed
    trail = await (await dispatcher.get(f"/v1/events?entity_id={theirs['id']}")).text()
    assert "abc123secret" not in trail
