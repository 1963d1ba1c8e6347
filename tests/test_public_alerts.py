"""The public alerts feed: Atom 1.0 of the alerts in force, each entry's CAP document public and valid."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import feedparser
import pytest
from lxml import etree
from yarl import URL

from relief.settings import Settings
from tests.test_alerts import SCHEMA, broadcast, new_incident, text

SENDER = "alerts@mzj.suzhou.gov.cn"
FEED = "/v1/public/alerts.atom"
ACK_NOTE = "两艘冲锋舟二十分钟到达东山镇"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"cap_sender": SENDER, "timezone": "Asia/Shanghai"})


async def replace(dispatcher, alert: dict[str, Any], msg_type: str, **overrides: Any) -> dict[str, Any]:
    return await broadcast(dispatcher, alert["incident_id"], msg_type=msg_type, references=alert["id"], **overrides)


async def read_feed(api) -> tuple[feedparser.FeedParserDict, bytes]:
    response = await api.get(FEED)
    assert response.status == 200, await response.text()
    assert response.content_type == "application/atom+xml" and response.charset == "utf-8"
    data = await response.read()
    feed = feedparser.parse(data)
    assert not feed.bozo, feed.get("bozo_exception")
    assert feed.version == "atom10"
    return feed, data


async def public_cap(api, url: str) -> tuple[etree._Element, Any]:
    response = await api.get(URL(url).path)
    assert response.status == 200, await response.text()
    assert response.content_type == "application/cap+xml" and response.charset == "utf-8"
    document = etree.fromstring(await response.read())
    SCHEMA.assertValid(document)
    return document, response


def newest_first(alerts: list[dict[str, Any]]) -> list[str]:
    def key(a: dict[str, Any]) -> tuple[datetime, datetime, uuid.UUID]:
        return (datetime.fromisoformat(a["sent_at"]), datetime.fromisoformat(a["created_at"]), uuid.UUID(a["id"]))

    return [a["identifier"] for a in sorted(alerts, key=key, reverse=True)]


async def test_the_feed_lists_exactly_the_alerts_in_force(dispatcher, anonymous, organization):
    incident = await new_incident(dispatcher)
    standing = await broadcast(dispatcher, incident, headline="东山镇沿湖村庄立即转移")
    await organization.api.post(f"/v1/alerts/{standing['id']}/acks", json={"status": "responding", "note": ACK_NOTE})
    updated = await broadcast(dispatcher, incident, headline="金庭镇码头停止作业")
    update = await replace(dispatcher, updated, "Update", headline="金庭镇码头停止作业（延长至明日）")
    twice = await broadcast(dispatcher, incident, headline="胥口镇注意防范")
    twice_update = await replace(dispatcher, await replace(dispatcher, twice, "Update"), "Update",
                                 headline="胥口镇注意防范（第二次更新）")
    cancelled = await broadcast(dispatcher, incident, headline="光福镇山洪预警")
    cancel = await replace(dispatcher, cancelled, "Cancel", urgency="Past", severity="Minor")
    # An update that a cancel of the same chain then ends: the chain is over, whatever the cancel references.
    ended = await broadcast(dispatcher, incident, headline="临湖镇积水")
    await replace(dispatcher, await replace(dispatcher, ended, "Update"), "Cancel")
    await broadcast(dispatcher, incident, headline="演练：全镇转移", status="Exercise")
    await broadcast(dispatcher, incident, headline="系统测试", status="Test")
    closing = await new_incident(dispatcher)
    closed_alert = await broadcast(dispatcher, closing, headline="已结束事件的预警")
    assert (await dispatcher.post(f"/v1/incidents/{closing}/close")).status == 200

    feed, data = await read_feed(anonymous)
    in_force = [standing, update, twice_update]
    assert [entry.id for entry in feed.entries] == newest_first(in_force)
    assert feed.feed.id.startswith("urn:uuid:") and feed.feed.author == SENDER
    assert feed.feed.links[0].rel == "self" and feed.feed.links[0].href.startswith("http://")
    assert URL(feed.feed.links[0].href).path == FEED
    # The feed's time is its latest change: here the close of an incident, after every alert.
    assert feed.feed.updated_parsed >= max(e.updated_parsed for e in feed.entries)
    # Acknowledgements are the teams' answers to the bureau: in no public document.
    assert ACK_NOTE.encode() not in data and organization.body["name"].encode() not in data
    absent = [updated, twice, cancelled, cancel, ended, closed_alert]
    assert not {a["identifier"] for a in absent} & {e.id for e in feed.entries}

    by_id = {a["identifier"]: a for a in in_force}
    for entry in feed.entries:
        alert = by_id[entry.id]
        assert entry.title == alert["headline"] and entry.summary == alert["description"]
        assert entry.tags[0].term == alert["category"]
        # Written in the bureau's zone, the same instant as the API's UTC.
        assert entry.updated.endswith("+08:00")
        assert datetime.fromisoformat(entry.updated) == datetime.fromisoformat(alert["sent_at"])
        (link,) = [link for link in entry.links if link.type == "application/cap+xml"]
        assert link.rel == "alternate" and URL(link.href).path == f"/v1/public/alerts/{alert['id']}.cap"
        document, response = await public_cap(anonymous, link.href)
        assert [text(document, f"cap:{n}") for n in ("identifier", "sender", "status", "scope")] == [
            alert["identifier"], SENDER, "Actual", "Public"]
        assert text(document, "cap:info/cap:headline") == alert["headline"]
        assert "Link" not in response.headers  # in force: nothing replaces it
        assert ACK_NOTE not in etree.tostring(document, encoding="unicode")
    update_cap, _ = await public_cap(anonymous, f"/v1/public/alerts/{update['id']}.cap")
    assert text(update_cap, "cap:references").split(",")[1] == updated["identifier"]


async def test_messages_out_of_the_feed_stay_readable_and_name_what_replaced_them(dispatcher, anonymous):
    incident = await new_incident(dispatcher)
    first = await broadcast(dispatcher, incident)
    update = await replace(dispatcher, first, "Update", headline="东山镇转移范围扩大")
    _, response = await public_cap(anonymous, f"/v1/public/alerts/{first['id']}.cap")
    assert response.headers["Link"].endswith(f'/v1/public/alerts/{update["id"]}.cap>; rel="latest-version"')
    assert response.headers["Link"].startswith("<http://")

    cancel = await replace(dispatcher, update, "Cancel", headline="转移解除", urgency="Past", severity="Minor")
    for superseded in (first, update):
        _, response = await public_cap(anonymous, f"/v1/public/alerts/{superseded['id']}.cap")
        assert response.headers["Link"].endswith(f'/v1/public/alerts/{cancel["id"]}.cap>; rel="latest-version"')
    document, response = await public_cap(anonymous, f"/v1/public/alerts/{cancel['id']}.cap")
    assert (text(document, "cap:msgType"), "Link" in response.headers) == ("Cancel", False)

    # A closed incident's alerts are out of the feed, not out of reach; an exercise is readable by its link.
    drill = await broadcast(dispatcher, incident, status="Exercise")
    assert (await dispatcher.post(f"/v1/incidents/{incident}/close")).status == 200
    document, _ = await public_cap(anonymous, f"/v1/public/alerts/{drill['id']}.cap")
    assert (text(document, "cap:status"), text(document, "cap:scope")) == ("Exercise", "Public")
    feed, _ = await read_feed(anonymous)
    assert feed.entries == []

    for missing in (f"/v1/public/alerts/{uuid.uuid4()}.cap", "/v1/public/alerts/not-an-id.cap"):
        response = await anonymous.get(missing)
        assert response.status == 404 and response.content_type == "application/problem+json"


async def test_no_key_is_needed_and_a_wrong_one_is_not_refused(dispatcher, anonymous, client):
    alert = await broadcast(dispatcher, await new_incident(dispatcher))
    for headers in ({}, {"Authorization": "Bearer rk_not_a_key"}):
        for path in (FEED, f"/v1/public/alerts/{alert['id']}.cap"):
            response = await client.get(path, headers=headers)
            assert response.status == 200, (path, headers, await response.text())


async def test_an_empty_feed_is_a_valid_feed(anonymous):
    feed, _ = await read_feed(anonymous)
    assert feed.entries == [] and feed.feed.updated.startswith("1970-01-01T08:00:00+08:00")


async def test_readers_revalidate_with_the_etag_until_the_alerts_change(dispatcher, anonymous):
    incident = await new_incident(dispatcher)
    alert = await broadcast(dispatcher, incident)
    for path in (FEED, f"/v1/public/alerts/{alert['id']}.cap"):
        response = await anonymous.get(path)
        tag = response.headers["ETag"]
        assert response.headers["Cache-Control"].startswith("public, max-age=")
        again = await anonymous.get(path, headers={"If-None-Match": tag})
        assert again.status == 304 and again.headers["ETag"] == tag and await again.read() == b""
    feed_tag = (await anonymous.get(FEED)).headers["ETag"]
    cap_tag = (await anonymous.get(f"/v1/public/alerts/{alert['id']}.cap")).headers["ETag"]
    await replace(dispatcher, alert, "Cancel", urgency="Past")
    assert (await anonymous.get(FEED, headers={"If-None-Match": feed_tag})).status == 200
    # The document is the same message, but its Link now names the cancel: a new tag.
    assert (await anonymous.get(f"/v1/public/alerts/{alert['id']}.cap",
                                headers={"If-None-Match": cap_tag})).status == 200


async def test_openapi_describes_the_public_alerts(anonymous):
    paths = (await (await anonymous.get("/openapi.json")).json())["paths"]
    feed = paths[FEED]["get"]
    document = paths["/v1/public/alerts/{id}.cap"]["get"]
    for op, media in ((feed, "application/atom+xml"), (document, "application/cap+xml")):
        assert op["security"] == []
        assert list(op["responses"]["200"]["content"]) == [media]
        assert {"ETag", "Cache-Control"} <= op["responses"]["200"]["headers"].keys()
        assert "304" in op["responses"] and "401" not in op["responses"]
    assert "Link" in document["responses"]["200"]["headers"] and "404" in document["responses"]
    assert [p["name"] for p in document["parameters"] if p["in"] == "path"] == ["id"]



async def test_the_public_page_announces_the_feed(anonymous):
    page = await (await anonymous.get(f"/public/incidents/{uuid.uuid4()}")).text()
    assert '<link rel="alternate" type="application/atom+xml" href="/v1/public/alerts.atom"' in page
