"""Many listeners on one incident's stream: one read per event per process, one rendering per audience,
and each listener still gets exactly what it may see, once, resumable."""

from __future__ import annotations

import asyncio
from typing import Any

from handlers import stream
from relief import events
from tests.conftest import incident_body
from tests.pledge_world import new_call, ok, personnel_call, personnel_pledge, pledge
from tests.test_stream import Stream, _open, _update

LEAD_PHONE = personnel_pledge()["lead"]["phone"]


async def _pledges(s: Stream, count: int) -> list[dict[str, Any]]:
    """The next `count` pledge.created messages (other events, e.g. the call's counters, pass by)."""
    found = []
    while len(found) < count:
        message = await s.next()
        if message["event"] == "pledge.created":
            found.append(message["data"]["data"])
    return found


async def test_many_listeners_share_one_read_per_event_and_get_their_own_masking(world, database_url, monkeypatch):
    call = await new_call(world.dispatcher, world.incident_id, personnel_call())
    readers = {"dispatcher": world.dispatcher, "viewer": world.viewer, "owner": world.owner.api,
               "other": world.other.api}
    counts = {"dispatcher": 4, "viewer": 3, "owner": 3, "other": 2}
    streams = {who: [await _open(readers[who], world.incident_id, database_url=database_url)
                     for _ in range(counts[who])] for who in readers}
    await asyncio.sleep(0.5)  # every listener has joined the one reader (and caught up, if it was behind)

    reads: list[int] = []
    renders: list[str] = []
    real_read, real_message = events.read_incident_after, stream._message

    async def counted_read(*args: Any, **kw: Any):  # type: ignore[no-untyped-def]
        found, position = await real_read(*args, **kw)
        reads.append(len(found))
        return found, position

    def counted_message(position: str, row: Any, audience: Any) -> bytes:
        renders.append(row["type"])
        return real_message(position, row, audience)

    monkeypatch.setattr(events, "read_incident_after", counted_read)
    monkeypatch.setattr(stream, "_message", counted_message)
    mine = await ok(await pledge(world.owner.api, call["id"], personnel_pledge()), 201)
    theirs = await ok(await pledge(world.other.api, call["id"], personnel_pledge(lead={"name": "张", "phone":
                                                                                     "13700002222"})), 201)

    for s in streams["dispatcher"]:  # dispatchers see every organization's lead in full
        got = await _pledges(s, 2)
        assert [p["id"] for p in got] == [mine["id"], theirs["id"]]
        assert [p["lead"]["phone"] for p in got] == [LEAD_PHONE, "13700002222"]
    for s in streams["viewer"]:  # viewers read all but contacts
        got = await _pledges(s, 2)
        assert [p["lead"]["phone"] for p in got] == ["139****1111", "137****2222"]
    for s in streams["owner"]:  # an organization: only its own pledges, its own lead in full
        got = await _pledges(s, 1)
        assert got[0]["id"] == mine["id"] and got[0]["lead"]["phone"] == LEAD_PHONE
    for s in streams["other"]:
        got = await _pledges(s, 1)  # the owner's pledge, committed first, never reached it
        assert got[0]["id"] == theirs["id"] and got[0]["lead"]["phone"] == "13700002222"

    listeners = sum(counts.values())
    # One read for each event at most (fewer when a burst is read together), not one per listener; the
    # rest are the reader's empty polls, once a second.
    assert 1 <= sum(1 for n in reads if n) <= 2, reads
    assert len(reads) < listeners, reads
    # Each pledge.created rendered once per audience that sees it (dispatcher, viewer, its organization),
    # not once per listener.
    assert renders.count("pledge.created") == 2 * 3, renders
    for group in streams.values():
        for s in group:
            s.close()


async def test_a_listener_resuming_behind_the_shared_reader_catches_up_without_loss_or_repeat(
        dispatcher, database_url):
    incident_id = (await ok(await dispatcher.post("/v1/incidents", json=incident_body()), 201))["id"]
    live = await _open(dispatcher, incident_id, database_url=database_url)
    for title in ("一", "二"):
        await _update(dispatcher, incident_id, title)
    first, second = await live.take(2)
    assert [first["data"]["data"]["title"], second["data"]["data"]["title"]] == ["一", "二"]
    # The reader is past both now; this listener resumes after the first.
    resumed = await _open(dispatcher, incident_id, last_event_id=first["id"])
    await _update(dispatcher, incident_id, "三")
    got = await resumed.take(2)
    assert [m["data"]["data"]["title"] for m in got] == ["二", "三"]
    assert got[0]["id"] == second["id"]
    assert (await live.next())["data"]["data"]["title"] == "三"
    await _update(dispatcher, incident_id, "四")
    assert (await resumed.next())["data"]["data"]["title"] == "四"  # nothing repeated before it
    live.close()
    resumed.close()


async def test_the_reader_stops_when_its_last_listener_leaves(dispatcher, database_url):
    incident_id = (await ok(await dispatcher.post("/v1/incidents", json=incident_body()), 201))["id"]
    hub = dispatcher.client.app[stream.HUB]
    listening = [await _open(dispatcher, incident_id, database_url=database_url) for _ in range(3)]
    assert list(hub.readers) == [incident_id]
    for s in listening:
        s.close()
    for _ in range(100):  # each listener notices within a second that its browser went away
        if not hub.readers:
            break
        await asyncio.sleep(0.05)
    assert hub.readers == {}
