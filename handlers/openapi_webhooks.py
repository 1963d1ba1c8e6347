"""The OpenAPI 3.1 `webhooks` section: what Relief POSTs to a subscription, one entry per event type.

Each request body is the envelope (notifications/envelope.py) with the type's payload schema in its
`data`, from the same table as GET /v1/event-types (models/event_payloads.py), and an example.
"""

from __future__ import annotations

from typing import Any

from handlers.openapi_examples import example
from models.event_payloads import PAYLOADS, Envelope
from models.events import EVENT_TYPES

_HEADERS = {
    "webhook-id": "The delivery's id: the same on every retry of it, so deduplicate on it. Two subscriptions "
                  "get one event under two ids; the envelope's `id` is the event's",
    "webhook-timestamp": "Seconds since 1970 when this attempt was signed (refuse one older than 5 minutes)",
    "webhook-signature": "v1,<base64 HMAC-SHA256 of id.timestamp.body> with the subscription's secret "
                         "(Standard Webhooks); two during a rotation",
}
_RESPONSES = {
    "2XX": {"description": "Delivered. Anything else, or no answer within 15 s, is retried (up to 24 h apart)"},
    "410": {"description": "Gone: the subscription is disabled, and its owner's other subscriptions are told"},
}


def schema_types() -> list[tuple[Any, str]]:
    """The types the section refers to, for the document's components (serialization schemas)."""
    return [(Envelope, "serialization"), *dict.fromkeys((p.sent, "serialization") for p in PAYLOADS.values())]


def _operation(event_type: str, data: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    envelope = schemas[Envelope.__name__]
    properties = {
        **envelope["properties"],
        "type": {**{k: v for k, v in envelope["properties"]["type"].items() if k != "examples"}, "const": event_type},
        "data": {**data, "description": f"The {event_type} payload (GET /v1/event-types gives its schema too)"},
    }
    body = {**envelope, "title": f"{event_type} delivery", "properties": properties}
    body.pop("examples", None)
    return {"post": {
        "operationId": "webhook_" + event_type.replace(".", "_"),
        "summary": EVENT_TYPES[event_type],
        "tags": ["webhooks"],
        "parameters": [{"name": name, "in": "header", "required": True, "schema": {"type": "string"},
                        "description": description} for name, description in _HEADERS.items()],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": body, "example": example(body, schemas)}}},
        "responses": _RESPONSES,
    }}


def section(refs: dict[tuple[Any, str], Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """`webhooks`: for each event type of the catalog, the POST a subscription receives."""
    webhooks = {}
    for event_type in EVENT_TYPES:
        sent = PAYLOADS[event_type].sent
        webhooks[event_type] = _operation(event_type, refs[(sent, "serialization")], schemas)
    return webhooks
