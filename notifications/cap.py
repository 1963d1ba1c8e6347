"""Render an alert as a CAP 1.2 message (OASIS Common Alerting Protocol, urn:oasis:names:tc:emergency:cap:1.2).

Elements are written in the order of the schema's sequences: CAP consumers validate against the XSD,
and an element out of place fails the whole message.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

import asyncpg

from models.alerts import NOT_XML, Alert
from relief import alerts

NAMESPACE = "urn:oasis:names:tc:emergency:cap:1.2"
MEDIA_TYPE = "application/cap+xml"  # the media type CAP documents are served with, not plain XML


def cap_time(moment: datetime, zone: ZoneInfo) -> str:
    """CAP's dateTime: whole seconds with a numeric offset, UTC written -00:00 (never Z, never +00:00)."""
    local = moment.astimezone(zone).replace(microsecond=0)
    if local.utcoffset() == timedelta(0):
        return local.strftime("%Y-%m-%dT%H:%M:%S") + "-00:00"
    return local.isoformat()


def reference(alert: Alert, zone: ZoneInfo) -> str:
    """How a later message names this one in its <references>: sender,identifier,sent."""
    return f"{alert.sender},{alert.identifier},{cap_time(alert.sent_at, zone)}"


def _add(parent: ET.Element, name: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, f"{{{NAMESPACE}}}{name}")
    if text is not None:
        # Alerts' own fields refuse such characters, but the event defaults to the incident's title,
        # which is checked elsewhere and less strictly; ElementTree would write them into broken XML.
        element.text = NOT_XML.sub("", text)
    return element


def render(alert: Alert, *, zone: ZoneInfo, referenced: Alert | None = None) -> bytes:
    """The alert as a CAP 1.2 document (UTF-8, with an XML declaration).

    `referenced` is the alert an Update or Cancel replaces; its sender, identifier and sent go into
    <references>. Times are written in `zone` (the bureau's), which CAP allows for any offset.
    """
    root = ET.Element(f"{{{NAMESPACE}}}alert")
    _add(root, "identifier", alert.identifier)
    _add(root, "sender", alert.sender)
    _add(root, "sent", cap_time(alert.sent_at, zone))
    _add(root, "status", alert.status.value)
    _add(root, "msgType", alert.msg_type.value)
    _add(root, "scope", alert.scope)
    if referenced is not None:
        _add(root, "references", reference(referenced, zone))
    # CAP's incidents groups the messages about one incident; ours are named by their id (no spaces).
    _add(root, "incidents", str(alert.incident_id))

    info = _add(root, "info")
    _add(info, "language", alert.language)
    _add(info, "category", alert.category.value)
    _add(info, "event", alert.event)
    if alert.response_type is not None:
        _add(info, "responseType", alert.response_type.value)
    _add(info, "urgency", alert.urgency.value)
    _add(info, "severity", alert.severity.value)
    _add(info, "certainty", alert.certainty.value)
    _add(info, "headline", alert.headline)
    if alert.description:
        _add(info, "description", alert.description)
    if alert.instruction:
        _add(info, "instruction", alert.instruction)

    area = _add(info, "area")
    _add(area, "areaDesc", alert.area.description)
    if alert.area.polygon is not None:
        _add(area, "polygon", alert.area.polygon)
    if alert.area.circle is not None:
        _add(area, "circle", alert.area.circle)
    for code in alert.area.geocodes:
        geocode = _add(area, "geocode")
        _add(geocode, "valueName", code.value_name)
        _add(geocode, "value", code.value)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True, default_namespace=NAMESPACE)


async def load(conn: asyncpg.Connection, event_ids: list[int], *, zone: ZoneInfo) -> dict[int, str]:
    """The CAP documents of alert.broadcast events, for subscriptions in the CAP format: each event's
    alert as stored (an alert never changes once broadcast; an update or a cancel is a new one)."""
    rows = await conn.fetch(
        "select id, entity_id from events where id = any($1::bigint[]) and type = 'alert.broadcast'", event_ids)
    documents = {}
    for row in rows:
        alert = await alerts.require(conn, row["entity_id"])
        referenced = await alerts.get(conn, alert_id=alert.references) if alert.references else None
        documents[row["id"]] = render(alert, zone=zone, referenced=referenced).decode()
    return documents
