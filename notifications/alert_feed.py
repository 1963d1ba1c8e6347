"""The public alerts feed: the bureau's alerts in force as an Atom 1.0 feed (RFC 4287), each entry linking
its CAP document, the way alerting authorities publish CAP for aggregators and feed readers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import NAMESPACE_URL, uuid5
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

import relief
from models.alerts import NOT_XML, Alert
from notifications import cap

NAMESPACE = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
# Atom requires the feed's <updated>; with no alert ever sent, a fixed instant keeps the empty feed's
# bytes, and so its ETag, the same from one request to the next.
NEVER = datetime(1970, 1, 1, tzinfo=UTC)


def atom_time(moment: datetime, zone: ZoneInfo) -> str:
    """An RFC 3339 date-time in the bureau's zone, whole seconds; UTC as Z (RFC 3339 reads -00:00 as
    "offset unknown", unlike CAP, which requires it)."""
    local = moment.astimezone(zone).replace(microsecond=0)
    if local.utcoffset() == timedelta(0):
        return local.strftime("%Y-%m-%dT%H:%M:%SZ")
    return local.isoformat()


def feed_id(sender: str) -> str:
    """The feed's permanent id: from the bureau's CAP sender, not from the host name it was read at."""
    return f"urn:uuid:{uuid5(NAMESPACE_URL, f'relief:alerts.atom:{sender}')}"


def _add(parent: ET.Element, name: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, name, attributes)
    if text is not None:
        element.text = NOT_XML.sub("", text)  # as in CAP: the event may come from a looser incident title
    return element


def render(
    alerts: list[Alert],
    *,
    sender: str,
    changed_at: datetime | None,
    zone: ZoneInfo,
    link: Callable[[str], str],
) -> bytes:
    """The feed of `alerts` (newest first), UTF-8 with an XML declaration.

    `link` turns a path of this service into the absolute URL a reader follows; `changed_at` is when the
    set of alerts last changed (the feed's <updated>).
    """
    # Unqualified names under a declared default namespace: ElementTree's default_namespace option
    # refuses the unqualified attributes (rel, href, type) that Atom uses.
    root = ET.Element("feed", xmlns=NAMESPACE)
    _add(root, "id", feed_id(sender))
    _add(root, "title", f"Current alerts from {sender}")
    _add(root, "subtitle", "CAP 1.2 alerts in force: actual, neither updated nor cancelled, in an open incident")
    _add(root, "updated", atom_time(changed_at or NEVER, zone))
    author = _add(root, "author")
    _add(author, "name", sender)
    _add(root, "link", rel="self", type=MEDIA_TYPE, href=link("/v1/public/alerts.atom"))
    _add(root, "generator", "Relief", version=relief.__version__)
    for alert in alerts:
        entry = _add(root, "entry", **{XML_LANG: alert.language})
        _add(entry, "id", alert.identifier)  # the CAP identifier: urn:uuid, permanent, unique per message
        _add(entry, "title", alert.headline)
        _add(entry, "updated", atom_time(alert.sent_at, zone))
        _add(entry, "summary", alert.description or alert.headline)
        _add(entry, "category", term=alert.category.value, label=alert.event)
        _add(entry, "link", rel="alternate", type=cap.MEDIA_TYPE, href=link(f"/v1/public/alerts/{alert.id}.cap"))
        # The incident's public page, for a person reading the feed rather than a CAP consumer.
        _add(entry, "link", rel="related", type="text/html", href=link(f"/public/incidents/{alert.incident_id}"))
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
