"""Alerts: what a dispatcher broadcasts to volunteer teams (CAP 1.2 fields), and the teams' acknowledgements.

The enums spell CAP 1.2's values exactly (OASIS CAP 1.2, section 3.2), so an alert renders to CAP without
translation and a CAP-literate client recognises every value.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, Field, StringConstraints, ValidationInfo, field_validator, model_validator

from models.common import Input, ListQuery, Output, Timestamp

# Characters XML 1.0 cannot carry (C0 controls other than tab and newlines, lone surrogates, U+FFFE/F):
# refused at the door, since every text field ends up in the CAP document.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_safe(value: str) -> str:
    if NOT_XML.search(value):
        raise ValueError("contains a control character XML cannot carry")
    return value


def _text(max_length: int, min_length: int = 1) -> Any:
    return Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
        AfterValidator(_xml_safe),
    ]


Headline = _text(160)  # CAP: "SHOULD be made as direct and actionable as possible … less than 160 characters"
EventName = _text(200)
AreaDescription = _text(500)
Body = _text(5000, min_length=0)
GeocodeText = _text(100)
AckNote = _text(2000, min_length=0)


class CapCategory(StrEnum):
    Geo = "Geo"
    Met = "Met"
    Safety = "Safety"
    Security = "Security"
    Rescue = "Rescue"
    Fire = "Fire"
    Health = "Health"
    Env = "Env"
    Transport = "Transport"
    Infra = "Infra"
    CBRNE = "CBRNE"
    Other = "Other"


class CapUrgency(StrEnum):
    Immediate = "Immediate"
    Expected = "Expected"
    Future = "Future"
    Past = "Past"
    Unknown = "Unknown"


class CapSeverity(StrEnum):
    Extreme = "Extreme"
    Severe = "Severe"
    Moderate = "Moderate"
    Minor = "Minor"
    Unknown = "Unknown"


class CapCertainty(StrEnum):
    Observed = "Observed"
    Likely = "Likely"
    Possible = "Possible"
    Unlikely = "Unlikely"
    Unknown = "Unknown"


class CapResponseType(StrEnum):
    Shelter = "Shelter"
    Evacuate = "Evacuate"
    Prepare = "Prepare"
    Execute = "Execute"
    Avoid = "Avoid"
    Monitor = "Monitor"
    Assess = "Assess"
    AllClear = "AllClear"
    None_ = "None"


class CapMsgType(StrEnum):
    """CAP's Ack and Error are replies between systems, not something a dispatcher broadcasts."""

    Alert = "Alert"
    Update = "Update"
    Cancel = "Cancel"


class CapStatus(StrEnum):
    """CAP status: drills go out as Exercise so that no team mistakes them for the real thing."""

    Actual = "Actual"
    Exercise = "Exercise"
    Test = "Test"


# ASCII digits only ([0-9], not \d, which in Python also takes "١٢٣"): the CAP schema's decimals are
# ASCII, and what is accepted here is copied into the CAP document as written.
_NUMBER = r"-?[0-9]{1,3}(?:\.[0-9]+)?"
_POINT = re.compile(rf"^({_NUMBER}),({_NUMBER})$")
_RADIUS = re.compile(r"^[0-9]{1,5}(?:\.[0-9]+)?$")
# The same rules for the OpenAPI schema, latitude and longitude ranges included (-90..90, -180..180).
_LAT = r"-?(?:90(?:\.0+)?|[1-8]?[0-9](?:\.[0-9]+)?)"
_LON = r"-?(?:180(?:\.0+)?|(?:1[0-7][0-9]|[1-9]?[0-9])(?:\.[0-9]+)?)"
_POINT_TEXT = rf"{_LAT},{_LON}"
CIRCLE_PATTERN = rf"^ *{_POINT_TEXT} +[0-9]{{1,5}}(?:\.[0-9]+)? *$"
POLYGON_PATTERN = rf"^ *{_POINT_TEXT}(?: +{_POINT_TEXT}){{3,}} *$"


def _point(text: str) -> str:
    """A WGS 84 "lat,lon" pair, as CAP writes it; returned in the canonical form it was given in."""
    match = _POINT.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a point; write latitude,longitude in decimal degrees, e.g. 31.3,120.6")
    lat, lon = float(match.group(1)), float(match.group(2))
    if not -90 <= lat <= 90:
        raise ValueError(f"latitude {match.group(1)} is outside -90..90")
    if not -180 <= lon <= 180:
        raise ValueError(f"longitude {match.group(2)} is outside -180..180")
    return text


def _polygon(value: str) -> str:
    points = [_point(p) for p in value.split(" ") if p]  # spaces only: CAP separates points by one
    if len(points) < 4:
        raise ValueError("a CAP polygon has at least 4 points (the first repeated last), e.g. "
                         "'31.3,120.5 31.4,120.6 31.2,120.7 31.3,120.5'")
    if points[0] != points[-1]:
        raise ValueError("a CAP polygon is closed: its last point repeats its first")
    return " ".join(points)


def _circle(value: str) -> str:
    center, _, radius = value.strip(" ").partition(" ")
    radius = radius.strip()
    if not _RADIUS.match(radius):
        raise ValueError("a CAP circle is 'latitude,longitude radius' with the radius in km, e.g. '31.3,120.6 5'")
    return f"{_point(center)} {radius}"


class Geocode(Input):
    value_name: GeocodeText = Field(description="The code system, e.g. GB/T 2260")
    value: GeocodeText = Field(description="The code, e.g. 320505")


class Area(Input):
    """Where the alert applies: a description plus at least one of a polygon, a circle or geocodes."""

    description: AreaDescription
    polygon: str | None = Field(
        default=None, max_length=20_000, json_schema_extra={"pattern": POLYGON_PATTERN},
        description="CAP polygon: 'lat,lon lat,lon …', at least 4 points, the first repeated last",
    )
    circle: str | None = Field(default=None, max_length=100, json_schema_extra={"pattern": CIRCLE_PATTERN},
                               description="CAP circle: 'lat,lon radius_km'")
    geocodes: list[Geocode] = Field(default_factory=list, max_length=100)

    @field_validator("polygon")
    @classmethod
    def _valid_polygon(cls, value: str | None) -> str | None:
        return None if value is None else _polygon(value)

    @field_validator("circle")
    @classmethod
    def _valid_circle(cls, value: str | None) -> str | None:
        return None if value is None else _circle(value)

    @model_validator(mode="after")
    def _located(self) -> Area:
        if self.polygon is None and self.circle is None and not self.geocodes:
            raise ValueError("an area needs a polygon, a circle or geocodes besides its description")
        return self


class AlertCreate(Input):
    headline: Headline
    description: Body = ""
    instruction: Body = Field(default="", description="What the teams should do")
    event: EventName | None = Field(default=None, description="CAP event; defaults to the incident's title")
    category: CapCategory
    urgency: CapUrgency
    severity: CapSeverity
    certainty: CapCertainty
    response_type: CapResponseType | None = None
    area: Area
    status: CapStatus = CapStatus.Actual
    msg_type: CapMsgType = CapMsgType.Alert
    # Declared after msg_type, and validated even when left out, so that the rule below sees msg_type
    # and the error points at /references.
    references: UUID | None = Field(
        default=None, validate_default=True,
        description="The earlier alert of the same incident that an Update or Cancel replaces",
    )

    @field_validator("references")
    @classmethod
    def _references_fit_msg_type(cls, value: UUID | None, info: ValidationInfo) -> UUID | None:
        msg_type = info.data.get("msg_type")
        if msg_type in (CapMsgType.Update, CapMsgType.Cancel) and value is None:
            raise ValueError(f"msg_type {msg_type} names the alert it replaces in references")
        if msg_type == CapMsgType.Alert and value is not None:
            raise ValueError("a new Alert references nothing; send msg_type Update or Cancel")
        return value


class AlertArea(Output):
    description: str
    polygon: str | None
    circle: str | None
    geocodes: list[Geocode]


class Alert(Output):
    id: UUID
    incident_id: UUID
    identifier: str = Field(description="CAP identifier")
    sender: str = Field(description="CAP sender: the bureau (RELIEF_CAP_SENDER when it was broadcast)")
    sent_at: Timestamp = Field(description="CAP sent, in whole seconds")
    status: CapStatus
    msg_type: CapMsgType
    scope: Literal["Public"] = "Public"
    references: UUID | None
    language: str
    headline: str
    description: str
    instruction: str
    event: str
    category: CapCategory
    urgency: CapUrgency
    severity: CapSeverity
    certainty: CapCertainty
    response_type: CapResponseType | None
    area: AlertArea
    version: int
    created_at: Timestamp


class AlertQuery(ListQuery):
    msg_type: CapMsgType | None = None


class AckStatus(StrEnum):
    received = "received"
    responding = "responding"
    unable = "unable"


class AckCreate(Input):
    status: AckStatus
    note: AckNote = ""


class Ack(Output):
    id: UUID
    alert_id: UUID
    organization_id: UUID
    organization_name: str
    status: AckStatus
    note: str
    version: int = Field(description="1, plus one for each change of status or note")
    created_at: Timestamp
    updated_at: Timestamp


class AckQuery(ListQuery):
    status: AckStatus | None = None


class OrganizationRef(Output):
    id: UUID
    name: str


class Acks(Output):
    items: list[Ack]
    next_cursor: str | None = Field(
        default=None, description="Pass as ?cursor= to get the next page; null on the last page"
    )
    not_acknowledged: list[OrganizationRef] = Field(
        description="Organizations whose webhooks the alert was sent to that have not acknowledged it "
        "(staff only; empty for an organization's key)"
    )


class Reach(StrEnum):
    delivered = "delivered"
    pending = "pending"
    failed = "failed"
    none = "none"


class AlertTarget(Output):
    """One organization an alert was sent to, by which channel, and what became of it."""

    organization: OrganizationRef
    webhook: Reach = Field(description="Its subscriptions' deliveries of the broadcast: delivered if any was, "
                           "else pending, else failed; none: no subscription of it matched")
    email: Reach = Field(description="The broadcast's email to its contact; none: no address, or email is off")
    ack_status: AckStatus | None = Field(description="Its answer; null: not acknowledged")
    acknowledged_at: Timestamp | None
    escalated_at: Timestamp | None = Field(description="When it was escalated (sent again) for not acknowledging")
    escalation_email: Reach = Field(description="The escalation's email")


class AlertTargets(Output):
    items: list[AlertTarget]
    escalate_after_minutes: float = Field(description="RELIEF_ALERT_ESCALATE_MINUTES")
