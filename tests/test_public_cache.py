"""The public answers come from an in-process cache that a commit invalidates, on this replica and every
other (LISTEN/NOTIFY), and that never serves an answer older than RELIEF_PUBLIC_MAX_AGE while it cannot
hear the commits."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import pydantic
import pytest

from handlers import public_cache, stream
from relief.app import create_app
from relief.settings import Settings
from tests.conftest import Api, incident_body


async def _incident(api: Api) -> str:
    response = await api.post("/v1/incidents", json=incident_body())
    assert response.status == 201, await response.text()
    return (await response.json())["id"]


async def _retitle(api: Api, incident_id: str, title: str) -> None:
    current = await api.get(f"/v1/incidents/{incident_id}")
    response = await api.patch(f"/v1/incidents/{incident_id}", json={"title": title},
                               headers={"If-Match": current.headers["ETag"]})
    assert response.status == 200, await response.text()


async def _public_title(api: Api, incident_id: str) -> str:
    response = await api.get(f"/v1/public/incidents/{incident_id}")
    assert response.status == 200, await response.text()
    return (await response.json())["title"]


async def _until(condition: Any, seconds: float = 5.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not within {seconds} s")


def _hub(api: Api) -> stream.Hub:
    return api.client.app[stream.HUB]


async def _replica(aiohttp_client: Any, settings: Settings, database_url: str, key: str | None) -> Api:
    """A second `relief serve` on the same database, as another machine behind the load balancer."""
    return Api(await aiohttp_client(create_app(settings, database_url=database_url)), key)


async def test_answers_are_cached_until_a_commit_through_this_replica(dispatcher, anonymous):
    incident_id = await _incident(dispatcher)
    cache = dispatcher.client.app[public_cache.CACHE]
    await _until(lambda: _hub(dispatcher).live(time.monotonic()))
    first = await anonymous.get(f"/v1/public/incidents/{incident_id}")
    made = cache.made
    again = await anonymous.get(f"/v1/public/incidents/{incident_id}")
    assert (await again.json())["as_of"] == (await first.json())["as_of"] and cache.made == made  # from the cache
    await _retitle(dispatcher, incident_id, "苏州 · 第二报")
    assert await _public_title(anonymous, incident_id) == "苏州 · 第二报"  # the very next request


async def test_a_commit_through_another_replica_reaches_the_next_request_once_heard(
        dispatcher, anonymous, aiohttp_client, settings, database_url):
    incident_id = await _incident(dispatcher)
    other = await _replica(aiohttp_client, settings, database_url, dispatcher.key)
    await _until(lambda: _hub(dispatcher).live(time.monotonic()))
    assert await _public_title(anonymous, incident_id) == incident_body()["title"]  # cached now
    heard = asyncio.ensure_future(_hub(dispatcher).wait(incident_id, 5))
    await _retitle(other, incident_id, "经另一台副本修改")
    assert await heard  # the NOTIFY, well within a second; no max-age had to pass
    assert await _public_title(anonymous, incident_id) == "经另一台副本修改"


@pytest.mark.parametrize("settings", [{"public_max_age": 1}, {"public_max_age": 0}], indirect=True)
async def test_while_not_listening_no_answer_is_older_than_max_age(
        dispatcher, anonymous, aiohttp_client, settings, database_url, conn, monkeypatch):
    incident_id = await _incident(dispatcher)
    other = await _replica(aiohttp_client, settings, database_url, dispatcher.key)
    hub = _hub(dispatcher)
    await _until(lambda: hub.connection is not None and hub.live(time.monotonic()))
    monkeypatch.setattr(stream, "RECONNECT_SECONDS", (30.0, 30.0))  # it stays down for this test
    await conn.execute("select pg_terminate_backend($1)", hub.connection.get_server_pid())
    await _until(lambda: not hub.live(time.monotonic()))
    assert await _public_title(anonymous, incident_id) == incident_body()["title"]  # cached, for max-age at most
    await _retitle(other, incident_id, "无人监听时的修改")  # nobody hears this commit
    committed = time.monotonic()
    while (title := await _public_title(anonymous, incident_id)) != "无人监听时的修改":
        assert time.monotonic() - committed < settings.public_max_age + 0.2, "stale past max-age"
        await asyncio.sleep(0.05)
    if settings.public_max_age == 0:
        assert time.monotonic() - committed < 0.2  # no cache at all: the first read after the commit
    assert not hub.live(time.monotonic()) and title


@pytest.mark.parametrize("settings", [{"public_max_age": 0}, {}], indirect=True)
async def test_etag_304_and_cache_control_follow_the_setting(dispatcher, anonymous, settings):
    incident_id = await _incident(dispatcher)
    paths = [f"/v1/public/incidents/{incident_id}", f"/v1/public/incidents/{incident_id}/use",
             f"/v1/public/incidents/{incident_id}/ledger", f"/v1/public/incidents/{incident_id}/ledger/entries",
             f"/v1/public/incidents/{incident_id}/sitreps", "/v1/public/incidents", "/v1/public/alerts.atom"]
    for path in paths:
        response = await anonymous.get(path)
        assert response.status == 200, (path, await response.text())
        assert response.headers["Cache-Control"] == f"public, max-age={settings.public_max_age}", path
        tag = response.headers["ETag"]
        again = await anonymous.get(path, headers={"If-None-Match": f'"other", W/{tag}'})
        assert again.status == 304 and again.headers["ETag"] == tag and await again.read() == b"", path
        assert again.headers["Cache-Control"] == response.headers["Cache-Control"]
        assert (await anonymous.get(path, headers={"If-None-Match": "*"})).status == 200, path
    tag = (await anonymous.get(paths[0])).headers["ETag"]
    await _retitle(dispatcher, incident_id, "改名之后")
    changed = await anonymous.get(paths[0], headers={"If-None-Match": tag})
    assert changed.status == 200 and (await changed.json())["title"] == "改名之后"


def test_the_max_age_setting_is_bounded_to_one_second():
    assert Settings().public_max_age == 1
    for wrong in (-1, 2, 30):
        with pytest.raises(pydantic.ValidationError):
            Settings(public_max_age=wrong)


async def test_a_crowd_missing_at_once_makes_the_answer_once(dispatcher, anonymous):
    incident_id = await _incident(dispatcher)
    cache = dispatcher.client.app[public_cache.CACHE]
    await _until(lambda: _hub(dispatcher).live(time.monotonic()))
    made = cache.made
    answers = await asyncio.gather(*(anonymous.get(f"/v1/public/incidents/{incident_id}") for _ in range(40)))
    assert {r.status for r in answers} == {200} and cache.made == made + 1
    assert len({r.headers["ETag"] for r in answers}) == 1


async def test_an_unknown_incident_is_a_404_each_time_never_cached(anonymous):
    path = "/v1/public/incidents/00000000-0000-4000-8000-000000000000"
    assert [(await anonymous.get(path)).status for _ in range(2)] == [404, 404]


@dataclass
class _Hub:
    epoch: int = 1
    listening: bool = True

    def live(self, _now: float) -> bool:
        return self.listening


async def test_an_answer_made_across_a_commit_is_not_kept():
    """A read that began before a commit, ending after its notification, would otherwise stay forever."""
    hub, now = _Hub(), [100.0]
    cache = public_cache.PublicCache(hub, max_age=1, clock=lambda: now[0])
    release, versions = asyncio.Event(), iter(["old", "new", "newer"])

    async def make() -> public_cache.Answer:
        version = next(versions)
        if version == "old":
            await release.wait()
        return public_cache.Answer(version.encode(), f'"{version}"', "text/plain")

    slow = asyncio.ensure_future(cache.get(("/x",), "incident-1", make))
    await asyncio.sleep(0)
    cache.invalidate("incident-1")  # the commit is heard while the slow read is under way
    release.set()
    assert (await slow).body == b"old"  # its own request gets it (it asked before the commit)
    assert (await cache.get(("/x",), "incident-1", make)).body == b"new"  # but nobody after
    assert (await cache.get(("/x",), "incident-1", make)).body == b"new"  # kept: nothing since
    cache.invalidate("incident-2")  # another incident's commit
    assert (await cache.get(("/x",), "incident-1", make)).body == b"new"
    cache.invalidate("")  # a commit outside any incident (an organization renamed): everything
    assert (await cache.get(("/x",), "incident-1", make)).body == b"newer"


async def test_not_listening_an_entry_lives_max_age_and_a_new_connection_trusts_nothing_older():
    hub, now = _Hub(), [100.0]
    cache = public_cache.PublicCache(hub, max_age=1, clock=lambda: now[0])
    count = iter(range(100))

    async def make() -> public_cache.Answer:
        return public_cache.Answer(str(next(count)).encode(), '"x"', "text/plain")

    assert (await cache.get(("/x",), "i", make)).body == b"0"
    now[0] += 60
    assert (await cache.get(("/x",), "i", make)).body == b"0"  # listening: valid until a commit
    hub.listening = False
    assert (await cache.get(("/x",), "i", make)).body == b"1"  # older than max-age, and nobody listens
    now[0] += 0.9
    assert (await cache.get(("/x",), "i", make)).body == b"1"
    now[0] += 0.2
    assert (await cache.get(("/x",), "i", make)).body == b"2"
    hub.listening, hub.epoch = True, 2  # listening again, on a new connection
    now[0] += 5
    assert (await cache.get(("/x",), "i", make)).body == b"3"  # made while not listening: not trusted
    now[0] += 60
    assert (await cache.get(("/x",), "i", make)).body == b"3"
