"""Descriptions for the OpenAPI document's parameters and schema properties that the models leave bare.

Applied while handlers/openapi.py builds the document, never over a description a model gives itself:
first by (family, property) where a word means something particular to an area (a call's `kind`, a
webhook's `format`), then by property name for the words that mean the same everywhere (`id`,
`version`, `incident_id`, `items`, `next_cursor`). The goods catalogue (models/catalogue.py) is spelt
out where an `item` is described, so a client knows what `drinking_water` is.
"""

from __future__ import annotations

import re
from typing import Any

from models.catalogue import GOODS, GOODS_ZH, UNITS_ZH

# The goods' English names, as the console shows them (handlers/static/js/i18n/en.js).
GOODS_EN: dict[str, str] = {
    "drinking_water": "drinking water", "instant_food": "instant food", "rice": "rice", "cooking_oil": "cooking oil",
    "tent": "tent", "quilt": "quilt", "blanket": "blanket", "folding_bed": "folding bed", "raincoat": "raincoat",
    "rubber_boots": "rubber boots", "life_jacket": "life jacket", "rubber_boat": "rubber boat", "sandbag": "sandbag",
    "generator": "generator", "pump": "water pump", "flashlight": "flashlight", "medical_kit": "first-aid kit",
    "disinfectant": "disinfectant", "hygiene_kit": "hygiene kit", "clothing": "clothing",
}
UNITS_EN: dict[str, str] = {
    "box": "box", "kg": "kilogram", "bottle": "bottle", "piece": "piece", "pair": "pair", "kit": "kit", "set": "set",
}


def catalogue() -> list[dict[str, str]]:
    """The goods catalogue: code, Chinese and English names, usual unit (code and Chinese)."""
    return [{"code": code, "zh": GOODS_ZH[code], "en": GOODS_EN[code], "unit": unit, "unit_zh": UNITS_ZH[unit]}
            for code, unit in GOODS.items()]


def catalogue_markdown() -> str:
    """The catalogue as a Markdown table, for the document's info description."""
    rows = "".join(f"\n| `{g['code']}` | {g['zh']} | {g['en']} | `{g['unit']}` ({g['unit_zh']}) |" for g in catalogue())
    return (
        "\n\n## Goods catalogue\n\nAn `item` is one of these codes (matching and the stock know them; a call may "
        "name other goods in free text). The unit is the usual one; another may be given.\n\n"
        "| item | 中文 | English | usual unit |\n|---|---|---|---|" + rows
    )


_ITEM = ("The goods, by catalogue code: " + "; ".join(
    f"`{code}` {GOODS_ZH[code]} ({GOODS_EN[code]}, {unit})" for code, unit in GOODS.items())
    + ". Other goods may be named in free text, but only these match offers and stock.")
_UNIT = ("The unit the quantity counts: " + ", ".join(f"`{u}` {UNITS_ZH[u]}" for u in UNITS_ZH)
         + " (the catalogue gives each item its usual one)")
_DECIMAL = " (a decimal string)"

# (family, property) → description, for words that differ by area. The family is the area a schema
# belongs to (see family()); a schema of no family takes only the generic descriptions.
BY_FAMILY: dict[tuple[str, str], str] = {
    ("incident", "code"): "The incident's short code, unique, e.g. 2023-DOKSURI-SZ",
    ("incident", "title"): "The incident's name as the bureau writes it",
    ("incident", "type"): "What struck: typhoon, flood, earthquake…",
    ("incident", "severity"): "The response level, I (most severe) to IV, as the emergency plan sets it",
    ("incident", "regions"): "The affected regions, as GB/T 2260 codes (province, city or county)",
    ("incident", "description"): "What happened, in the bureau's words",
    ("incident", "status"): "open or closed (a closed incident takes no new calls, pledges or donations)",
    ("incident", "started_at"): "When the disaster struck (landfall, the flood's peak…)",
    ("call", "kind"): "What the call asks for: money, goods or personnel",
    ("call", "title"): "What is needed, in a line",
    ("call", "description"): "Details for those who pledge: where, for whom, constraints",
    ("call", "status"): "draft, open (takes pledges), fulfilled, closed or cancelled",
    ("call", "priority"): "How urgent (critical first)",
    ("call", "deadline"): "When what is asked for must have arrived",
    ("call", "deliver_to"): "Where goods are to be delivered (an address, a point on the map)",
    ("call", "allow_overpledge"): "Whether pledges may add up to more than is asked for",
    ("call", "delivered"): "What has arrived so far" + _DECIMAL,
    ("call", "requested"): "What the call asks for, in its unit or currency" + _DECIMAL,
    ("call", "committed"): "What the pledges not withdrawn or rejected promise" + _DECIMAL,
    ("call", "headcount"): "personnel calls: how many people are needed",
    ("call", "currency"): "money calls: ISO 4217 currency of the amount",
    ("call", "skill"): "personnel calls: the skill the people must have",
    ("pledge", "status"): "pledged, accepted, rejected, withdrawn, dispatched or delivered",
    ("pledge", "quantity"): "goods pledges: how much is promised, in the call's unit" + _DECIMAL,
    ("pledge", "amount"): "money pledges: how much is promised, in the call's currency" + _DECIMAL,
    ("pledge", "currency"): "money pledges: the currency (the call's)",
    ("pledge", "headcount"): "personnel pledges: how many people are promised",
    ("pledge", "lead"): "personnel pledges: the team lead on site (phone masked except to the bureau and the team)",
    ("pledge", "kind"): "money, goods or personnel: the call's kind",
    ("offer", "kind"): "What is offered: money, goods or personnel",
    ("offer", "quantity"): "goods offers: how much is offered" + _DECIMAL,
    ("donation", "kind"): "money or goods",
    ("donation", "channel"): "How it was received (a bank transfer, cash, online…)",
    ("donation", "donor"): "Who gave it: a registered organization, a named donor, or anonymous",
    ("donation", "estimated_value"): "goods: their estimated value, in `currency`" + _DECIMAL,
    ("organization", "name"): "The organization's registered name",
    ("organization", "kind"): "What kind of social organization it is; volunteer_team receives alerts and pledges "
                              "personnel",
    ("organization", "status"): "pending (registered, not yet approved), approved or suspended",
    ("organization", "region"): "Where it is registered, as a GB/T 2260 code",
    ("organization", "contact"): "Who to call (the phone is seen by the bureau and the organization only)",
    ("organization", "capabilities"): "What it can bring: skills and goods (catalogue codes), used by matching",
    ("organization", "credit_code"): "The 18-character unified social credit code (GB 32100-2015), check character "
                                     "verified",
    ("site", "kind"): "What the site is for: holding goods, collecting donations, or handing them out",
    ("site", "name"): "The site's name",
    ("site", "manager"): "Who runs the site (phone masked outside the bureau)",
    ("shelter", "name"): "The shelter's name",
    ("shelter", "status"): "open, full or closed",
    ("resident", "name"): "The resident's name (viewers see it masked)",
    ("resident", "status"): "registered, sheltered or returned",
    ("sitrep", "kind"): "initial (初报), update (续报) or verified (核报)",
    ("sitrep", "number"): "The report's number within its incident, from 1",
    ("import", "kind"): "What the file holds: residents, evacuations, donations…",
    ("import", "format"): "csv or xlsx",
    ("import", "state"): "Where the import stands: receiving the file, queued, running, done or failed",
    ("alert", "status"): "CAP status: Actual, Exercise or Test",
    ("alert", "description"): "What is happening, for those who receive the alert",
    ("ack", "status"): "received, responding or unable",
    ("webhook", "status"): "active, paused or disabled (after failing too long)",
    ("webhook", "format"): "json (the event envelope) or cap (CAP 1.2 XML for alerts)",
    ("webhook", "description"): "What the subscription is for, in its owner's words",
    ("delivery", "status"): "pending (an attempt is due), delivered, or failed (retries exhausted)",
    ("notification", "status"): "pending (an attempt is due), delivered, or failed (retries exhausted)",
    ("task", "title"): "What the team is to do, in a line",
    ("task", "status"): "open, assigned, in_progress, done or cancelled",
    ("task", "priority"): "How urgent (critical first)",
    ("assignment", "status"): "pending until the team accepts or declines the task",
    ("key", "name"): "What the key is for, to tell keys apart",
    ("key", "role"): "admin, dispatcher, viewer or organization",
    ("event", "type"): "The event type, e.g. pledge.accepted (GET /v1/event-types lists them)",
    ("event", "before"): "The entity before the change (null when it was created)",
    ("event", "after"): "The entity after the change (null when it was deleted)",
    ("problem", "type"): "A link to the problem type's row in /docs",
    ("problem", "title"): "The problem type's title",
    ("problem", "status"): "The HTTP status",
    ("problem", "detail"): "What went wrong this time",
    ("impact", "figure"): "Which figure: people affected, dead, missing, injured, relocated; houses; crops (ha); "
                          "direct loss",
    ("impact", "source"): "Who reported the figure: the government, an organization, the media, other",
    ("impact", "value"): "The figure's value" + _DECIMAL,
    ("stockmovement", "kind"): "How the goods moved: arrival, transfer, distribution, write_off or reversal",
    ("stockmovement", "from"): "Where the goods left from (a site or shelter)",
    ("disbursement", "status"): "proposed, then approved (paid out) or rejected by a second dispatcher",
}

_FAMILIES = ("StockMovement", "Disbursement", "Organization", "Notification", "Assignment", "Deployment",
             "Incident", "Delivery", "Webhook", "Problem", "Shelter", "Pledge", "Resident", "Donation", "Sitrep",
             "Import", "Impact", "Alert", "Offer", "Event", "Call", "Site", "Task", "Ack", "Key")

# property → description, for the words that mean the same in every schema.
GENERIC: dict[str, str] = {
    "id": "Its id, assigned by Relief (a UUID)",
    "version": 'Bumped by every change; send it back in If-Match (the ETag is "<version>")',
    "created_at": "When it was recorded (RFC 3339, UTC)",
    "updated_at": "When it last changed (RFC 3339, UTC)",
    "incident_id": "The incident it belongs to",
    "organization_id": "The organization it concerns",
    "organization_name": "That organization's name, for display",
    "organization": "The organization, by id and name",
    "call_id": "The relief call it answers",
    "pledge_id": "The pledge it comes from or fulfils",
    "pledge_ids": "The pledges concerned",
    "shelter_id": "The shelter concerned",
    "site_id": "The site (warehouse or distribution point) concerned",
    "task_id": "The task concerned",
    "member_id": "The roster member concerned",
    "deployment_id": "The deployment (one stint on site) concerned",
    "assignment_id": "The assignment it follows from",
    "resident_id": "The resident concerned",
    "household_id": "The household the resident belongs to (residents registered together)",
    "alert_id": "The alert concerned",
    "webhook_id": "The subscription concerned",
    "event_id": "The event delivered",
    "offer_id": "The offer concerned",
    "key_id": "The API key that acted",
    "items": "The entries of this page or list",
    "next_cursor": "Pass as ?cursor= to get the next page; null on the last page",
    "kind": "Which kind it is (see the values listed)",
    "status": "Where it stands (see the values listed)",
    "state": "Where it stands (see the values listed)",
    "name": "The name",
    "title": "The title, in a line",
    "description": "A description in free text",
    "type": "The type (see the values listed)",
    "note": "A free-text note",
    "reason": "Why, in free text (kept in the audit trail)",
    "item": _ITEM,
    "unit": _UNIT,
    "quantity": "How much, in the unit" + _DECIMAL,
    "amount": "How much money, in the currency" + _DECIMAL,
    "currency": "ISO 4217 currency code (CNY by default)",
    "estimated_value": "The goods' estimated value" + _DECIMAL,
    "region": "A region, as a GB/T 2260 code (6 digits)",
    "regions": "Regions, as GB/T 2260 codes",
    "location": "Where it is, as latitude and longitude (WGS 84)",
    "lat": "Latitude, degrees north (WGS 84)",
    "lon": "Longitude, degrees east (WGS 84)",
    "address": "The street address",
    "phone": "A phone number (shown masked, 139****5678, outside those who may see it)",
    "email": "An email address",
    "contact": "Who to contact: name and phone",
    "manager": "Who runs it: name and phone",
    "lead": "The team lead: name and phone",
    "priority": "How urgent (critical first)",
    "deadline": "By when (RFC 3339)",
    "deliver_to": "Where to deliver: an address and/or a point",
    "allow_overpledge": "Whether pledges may exceed what is asked for",
    "skill": "A skill, e.g. boat_rescue",
    "skills": "Skills, e.g. boat_rescue, medical",
    "headcount": "How many people",
    "count": "How many people",
    "severity": "How severe (see the values listed)",
    "started_at": "When it started (RFC 3339)",
    "ended_at": "When it ended",
    "closed_at": "When it was closed; null while open",
    "published_at": "When it was opened to pledges; null while a draft",
    "issued_at": "When it was issued",
    "decided_at": "When it was decided; null while pending",
    "delivered_at": "When it was delivered; null until then",
    "returned_at": "When the resident went home; null until then",
    "checked_in_at": "When the member checked in on site",
    "checked_out_at": "When the member checked out; null while on site",
    "expected_back_at": "When the member is expected back; past it, an overdue alarm is raised",
    "last_used_at": "When the key was last used; null if never",
    "revoked_at": "When the key was revoked; null while valid",
    "expires_at": "When it expires",
    "as_of": "When these figures were read",
    "channel": "By which channel",
    "donor": "Who gave it",
    "receipt_no": "The receipt number the bureau issued",
    "reverses": "The ledger entry this one reverses; null for an ordinary entry",
    "reversed_by": "The ledger entry that reversed this one; null unless reversed",
    "recipient": "Who receives the money",
    "purpose": "What the money is for (an earmark's designated use)",
    "capacity": "How many people it can take",
    "occupancy": "How many people are there now",
    "household_size": "How many people the household counts",
    "id_type": "resident_id, passport or other",
    "origin_region": "Where the resident came from, as a GB/T 2260 code",
    "origin_address": "The home address the resident left",
    "vulnerabilities": "Needs to plan for: elderly, child, disabled, pregnant, needs_medical_care",
    "assisted_by": "The organization that helped move the resident(s)",
    "placement": "centralized (in a shelter) or dispersed (with relatives, rented)",
    "from_region": "Where the people were moved from, as a GB/T 2260 code",
    "occurred_at": "When it happened",
    "available_from": "From when it is available",
    "available_until": "Until when it is available",
    "needed_from": "From when the people are needed",
    "needed_until": "Until when the people are needed",
    "capabilities": "What it can bring: skills and goods",
    "event_types": "Event types to receive; a trailing * matches a prefix (call.*)",
    "incidents": "Only events of these incidents (empty: all)",
    "url": "The HTTPS address Relief POSTs to",
    "format": "The format (see the values listed)",
    "language": "zh or en",
    "headline": "The alert's headline",
    "instruction": "What people should do",
    "msg_type": "Alert (new), Update or Cancel (CAP 1.2)",
    "references": "The earlier alert this one updates or cancels",
    "category": "CAP category, e.g. Met (meteorological)",
    "urgency": "CAP urgency, e.g. Immediate",
    "certainty": "CAP certainty, e.g. Observed",
    "response_type": "CAP response type, e.g. Evacuate",
    "scope": "CAP scope: Public, Restricted or Private",
    "event": "What the alert is about, e.g. 台风 (typhoon)",
    "area": "The area concerned: a description and a polygon or circle",
    "polygon": "CAP polygon: lat,lon pairs separated by spaces, first = last",
    "circle": "CAP circle: lat,lon radius_km",
    "point": "A point, lat,lon",
    "geocodes": "GB/T 2260 region codes of the area",
    "code": "A short code",
    "number": "A sequence number, from 1",
    "attempts": "How many attempts were made",
    "attempt_count": "How many attempts were made",
    "last_error": "The last failure, if any",
    "last_status_code": "The HTTP status the receiver last answered; null if none",
    "next_attempt_at": "When the next attempt is due; null if none",
    "attempted_at": "When the attempt was made",
    "latency_ms": "How long the receiver took, in milliseconds",
    "error": "What failed, if it did",
    "subject": "The email's subject",
    "requested": "What was asked for" + _DECIMAL,
    "committed": "What is promised by live pledges" + _DECIMAL,
    "delivered": "What has arrived" + _DECIMAL,
    "in_transit": "Dispatched, not yet arrived" + _DECIMAL,
    "remaining": "What is still needed" + _DECIMAL,
    "pledged": "What is pledged and not yet accepted" + _DECIMAL,
    "received": "What was received" + _DECIMAL,
    "distributed": "What was handed out" + _DECIMAL,
    "written_off": "What was written off (damaged, expired)" + _DECIMAL,
    "on_hand": "What is in stock now" + _DECIMAL,
    "minimum": "The level below which the site wants more" + _DECIMAL,
    "paid": "What was paid out" + _DECIMAL,
    "balance": "What is left to pay out" + _DECIMAL,
    "money": "Money, by currency",
    "goods": "Goods, by item",
    "personnel": "People pledged and on site",
    "residents": "Residents evacuated, sheltered and returned",
    "shelters": "Shelters and their occupancy",
    "calls": "Relief calls and their progress",
    "organizations": "Organizations taking part",
    "organizations_participating": "How many organizations have pledged or given",
    "calls_by_status": "How many calls are in each status",
    "on_site": "How many people are on site now",
    "overdue": "Past their expected return and not checked out",
    "on_site_hours": "Person-hours on site",
    "hours": "Person-hours, by organization and member",
    "person_hours": "Person-hours on site",
    "people_reached": "How many people it reached",
    "people_transferred": "How many people were moved to safety",
    "people_rescued": "How many people were rescued",
    "evacuated": "How many people were evacuated",
    "sheltered_now": "How many are in shelters now",
    "returned": "How many have gone home",
    "individual": "Counted one by one (registered residents)",
    "aggregate": "Counted as head counts (aggregate evacuations)",
    "centralized": "Placed in shelters",
    "dispersed": "Placed with relatives or in rented housing",
    "sheltered_at": "When the resident arrived at the shelter",
    "households": "How many households",
    "shelter_name": "The shelter's name",
    "members": "The roster's members",
    "role": "The role",
    "certificates": "Certificates the member holds (type, number, valid until)",
    "emergency_contact": "Who to call if something happens to the member (masked outside the bureau)",
    "figure": "Which figure",
    "source": "Where the figure comes from",
    "value": "The value" + _DECIMAL,
    "recorded_by": "Who recorded it",
    "credit_code": "The unified social credit code (18 characters, GB 32100-2015)",
    "anonymous": "true when the donor asked not to be named",
    "detail": "More about it",
    "database": "Whether the database answered",
    "entity": "What changed: its type and id",
    "actor": "Who acted: the key, its role, its organization",
    "before": "Before the change",
    "after": "After the change",
    "to": "Where the goods go",
    "from": "Where the goods come from",
    "instance": "The request path",
    "request_id": "The request's X-Request-ID, to quote when asking for help",
    "errors": "The fields refused: a JSON pointer and a message each",
    "expected_minutes": "How long the task is expected to take, in minutes",
    "grace_seconds": "How long past the expected return before the alarm",
    "alarm_raised_at": "When the overdue alarm was raised; null if none",
    "issued_by": "Who issued it",
    "narrative": "The report's text",
    "figures": "The report's figures, frozen when issued",
    "previous": "The previous report's figures, for comparison",
    "summary": "The incident's summary at the time",
    "incident": "The incident, by code and title",
    "teams_on_site": "Teams on site",
    "open_needs": "Calls still open and what they lack",
    "position": "The stream position",
    "since": "From when",
    "until": "Until when",
    "message": "What happened",
    "hash": "The entry's SHA-256 hash in the ledger chain",
    "encoding": "How the hash was computed",
    "reversal_position": "The reversal's position in the chain, if reversed",
    "algorithm": "The signature algorithm",
    "disabled_reason": "Why it was disabled, if it was",
    "cancel_reason": "Why it was cancelled, if it was",
    "coverage": "delivered ÷ requested, 0 to 1",
    "entries": "How many entries",
    "ledger": "The ledger's signed head",
    "time_zone": "The bureau's time zone for dates shown",
    "bureau": "The issuing bureau",
    "field": "People on site and person-hours",
    "impacts": "Impact figures",
    "tasks": "Tasks",
    "teams": "Teams",
    "rank": "Its rank, from 1 (best)",
    "reasons": "Why it matches",
    "weights": "How each reason weighs in the rank",
    "stints": "The member's stints on site",
    "minimums": "Minimum stock levels",
    "attempt_log": "Every attempt, with its outcome",
    "delivered_quantity": "What has arrived so far" + _DECIMAL,
    "call_title": "The call's title",
    "reminded_at": "When the organization was reminded",
    "incident_code": "The incident's code",
    "incident_title": "The incident's title",
    "task_title": "The task's title",
    "sent_at": "When it was sent",
    "escalated_at": "When it was escalated",
    "acknowledged_at": "When it was acknowledged; null if not yet",
    "opened_at": "When it opened",
    "env": "The server's environment: development or production",
    "event_type": "The event type",
    "voucher_no": "The payment voucher number",
    "dry_run": "Checked only, nothing written",
    "bytes": "The file's size in bytes",
    "counts": "Rows read, written, refused",
    "failure": "Why the import failed, if it did",
    "finished_at": "When it finished; null while running",
    "resumed": "Whether it resumed after a restart",
    "read": "Rows read",
    "present": "Rows already there (skipped)",
    "duplicate": "Rows repeated within the file",
    "written": "Rows written",
    "refused": "Rows refused",
    "pledge_status": "The pledge's status",
    "added": "Members added",
    "removed": "Members removed",
    "earmark": "The donor's designated use",
}

# Query filters: "only those whose <field> is this", unless said otherwise.
FILTERS: dict[str, str] = {
    "status": "Only those in this status",
    "kind": "Only those of this kind",
    "type": "Only those of this type",
    "severity": "Only incidents of this severity",
    "priority": "Only those of this priority",
    "skill": "Only those needing this skill",
    "item": "Only those of this goods item (catalogue code, e.g. drinking_water)",
    "include_revoked": "Also list revoked keys",
    "limit": "How many to return at most",
    "entity_type": "Only events about entities of this type (incident, call, pledge…)",
    "entity_id": "Only events about this entity",
    "entry": "Only ordinary entries or only reversals",
}

_PATH_NOUNS = {"stock-movements": "stock movement", "deliveries": "delivery", "templates": "template"}


def family(schema_name: str) -> str | None:
    """The area a schema belongs to, from its name: GoodsCallCreate → call, Page_Pledge_ → None."""
    name = schema_name.rsplit("__", 1)[-1]
    if name.startswith("Page_"):
        return None
    return next((stem.lower() for stem in _FAMILIES if stem in name), None)


def for_property(schema_name: str, prop: str) -> str | None:
    """A description for `prop` of the schema `schema_name`, or None if there is none."""
    found = family(schema_name)
    if found and (found, prop) in BY_FAMILY:
        return BY_FAMILY[(found, prop)]
    if prop.endswith("_name") and prop != "organization_name":  # region_name, shelter_name…
        return GENERIC.get(prop, f"The name of its {prop.removesuffix('_name').replace('_', ' ')}")
    return GENERIC.get(prop)


def _walk(schema: Any, name: str) -> None:
    if isinstance(schema, list):
        for part in schema:
            _walk(part, name)
        return
    if not isinstance(schema, dict):
        return
    for prop, spec in schema.get("properties", {}).items():
        if isinstance(spec, dict) and not spec.get("description"):
            text = for_property(name, prop)
            if text:
                spec["description"] = text
    for key in ("properties", "$defs"):
        for inner in schema.get(key, {}).values():
            _walk(inner, name)
    for key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf"):
        if key in schema:
            _walk(schema[key], name)


def describe_schemas(schemas: dict[str, Any]) -> None:
    """Give every bare property of the components' schemas its description, in place."""
    for name, schema in schemas.items():
        _walk(schema, name)


def path_parameter(path: str, name: str) -> str:
    """The description of a path parameter: `/v1/calls/{id}/pledges` → "The call's id (a UUID)"."""
    if name != "id":
        return f"The {name.replace('_', ' ')}"
    before = path.split("{" + name + "}")[0].rstrip("/").rsplit("/", 1)[-1]
    noun = _PATH_NOUNS.get(before) or re.sub(r"ies$", "y", before).removesuffix("s").replace("-", " ")
    return f"The {noun}'s id (a UUID)"


def query_parameter(model_name: str, name: str) -> str:
    """The description of a query parameter of the query model `model_name` that has none."""
    if name in FILTERS:
        return FILTERS[name]
    described = for_property(model_name, name)
    if name.endswith("_id"):
        return f"Only those of this {name.removesuffix('_id').replace('_', ' ')}"
    return f"Only those whose {name} is this" if described is None else f"Only those with this {name}: {described}"
