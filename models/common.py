"""Shapes shared by every area: the base model, pages, problems, actors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from models.regions import NamedRegions

T = TypeVar("T")

# Text is stripped before its length is checked, so blank text is refused: the pattern (\S somewhere)
# says so in the schema; it never fires on the server, where min_length does.
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"\S")]
LongText = Annotated[str, StringConstraints(max_length=10_000)]


def _storable(value: datetime) -> datetime:
    # PostgreSQL stores years 4713 BC–294276 AD, Python 1–9999; a zone offset can push either edge
    # over. No disaster record needs more than this window.
    if not 1900 <= value.year <= 2200 or not 1900 <= value.astimezone(UTC).year <= 2200:
        raise ValueError("must be between the years 1900 and 2200")
    return value.astimezone(UTC)  # the API speaks UTC, whatever offset the client wrote


def _not_a_number(value: Any) -> Any:
    # pydantic's lax datetime takes a number as Unix seconds; the schema says an ISO 8601 string, and a
    # bare 0 is far more likely a client's bug than the first second of 1970.
    if isinstance(value, int | float):
        raise ValueError("a time is an ISO 8601 string with its offset, e.g. 2023-07-29T08:00:00+08:00")
    return value


Timestamp = Annotated[AwareDatetime, BeforeValidator(_not_a_number), AfterValidator(_storable)]

# A domain time (when goods moved, when money was paid out) may run a little ahead of the server's clock
# (a phone's, a laptop's), never further.
CLOCK_SKEW = timedelta(minutes=5)


def not_ahead(value: datetime | None, message: str) -> datetime | None:
    """The time as given, unless it is more than CLOCK_SKEW ahead of now (ValueError with `message`)."""
    if value is not None and value > datetime.now(UTC) + CLOCK_SKEW:
        raise ValueError(message)
    return value


def _json_number(value: Any) -> Any:
    # pydantic's lax float takes true/false and numeric strings; a coordinate is a JSON number only,
    # as the schema says (bool is a subclass of int, hence the first test).
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("must be a JSON number")
    return value


Latitude = Annotated[float, Field(ge=-90, le=90, description="WGS 84 degrees"), BeforeValidator(_json_number)]
Longitude = Annotated[float, Field(ge=-180, le=180, description="WGS 84 degrees"), BeforeValidator(_json_number)]


class Input(BaseModel):
    """Base of request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Output(NamedRegions):
    """Base of read models (region fields get their names beside them: models/regions.py)."""

    model_config = ConfigDict(from_attributes=True)


class Page(Output, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        default=None, description="Pass as ?cursor= to get the next page; null on the last page"
    )


# The stable vocabulary of `errors[].code`: what is wrong with a field, for clients to key their own
# messages on (the console's are in its languages); `detail` stays the English explanation. Codes are only
# ever added, never renamed (handlers/problems.py maps pydantic's error types and our own messages to them).
ERROR_CODES: dict[str, str] = {
    "required": "the field is missing, null or blank",
    "unknown_field": "the body has a field this operation does not take",
    "wrong_type": "a value of another JSON type (text for a number, a list for an object…)",
    "too_short": "text or a list shorter than allowed",
    "too_long": "text or a list longer than allowed",
    "pattern": "text that does not have the required form",
    "not_a_number": "not a number (JSON number or decimal string of ASCII digits)",
    "not_a_whole_number": "not a whole number",
    "out_of_range": "a number below the minimum or above the maximum",
    "too_precise": "more digits or decimal places than allowed (a currency's minor units included)",
    "not_allowed": "a value outside the listed choices (an enum)",
    "not_a_time": "not an ISO 8601 time with its offset, or outside the years 1900–2200",
    "not_an_id": "not a UUID",
    "not_a_url": "not a URL, or a URL the service refuses",
    "email": "not an email address",
    "phone": "not a phone number",
    "region_code": "not a 6-digit administrative division code whose first two digits name a province (11–82)",
    "credit_code": "not a unified social credit code (GB 32100-2015), check character included",
    "id_number": "not a resident ID number (GB 11643), check character included",
    "currency": "not an ISO 4217 currency code",
    "event_type": "not an event type of the catalog (GET /v1/event-types), or a family of them",
    "order": "a time or value that must come after another one does not",
    "one_of": "exactly one of several fields (or choices) must be given",
    "control_character": "text with a character that cannot be stored (NUL, or one XML cannot carry)",
    "not_null": "an explicit null where a PATCH may only leave the field out",
    "reused_key": "an Idempotency-Key already used with another request",
    "unknown_reference": "names a resource (organization, shelter, pledge…) that does not exist here",
    "invalid": "breaks another rule; `detail` says which",
}


class ProblemError(BaseModel):
    pointer: str | None = Field(default=None, description="JSON pointer into the request body")
    parameter: str | None = Field(default=None, description="Query parameter or header at fault")
    code: str = Field(
        default="invalid",
        description="What is wrong, from a stable vocabulary: "
        + "; ".join(f"`{k}`: {v}" for k, v in ERROR_CODES.items()),
        json_schema_extra={"enum": list(ERROR_CODES)},
    )
    detail: str = Field(description="What is wrong, in English")


class Problem(BaseModel):
    """RFC 9457 problem details; extra members (`errors`, `state`, `remaining`…) depend on the type."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[ProblemError] | None = None


class Actor(Output):
    key_id: str | None = None
    role: str
    organization_id: str | None = None


class Health(BaseModel):
    status: str
    database: str | None = None
    detail: str | None = None


def dump(model: BaseModel) -> dict[str, Any]:
    """A model as the API shows it (decimals as strings, times as ISO 8601)."""
    return model.model_dump(mode="json")


__all__ = ["Actor", "Input", "Output", "Page", "Patch", "Problem", "ProblemError", "Text", "Timestamp", "datetime"]


class Patch(Input):
    """Base of PATCH bodies: absent fields stay as they are; an explicit null is refused.

    Fields that may really be cleared list themselves in `nullable`.
    """

    nullable: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        # Fields are typed `X | None = None` so that absent means "keep"; the schema must still not
        # offer null where _no_null refuses it, so the null branch goes from all but `nullable`.
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        for name, prop in target.get("properties", {}).items():
            if name in cls.nullable:
                continue
            branches = [b for b in prop.get("anyOf", []) if b != {"type": "null"}]
            if "anyOf" in prop and len(branches) == 1:
                del prop["anyOf"]
                prop.update(branches[0])
            elif "anyOf" in prop:
                prop["anyOf"] = branches
            prop.pop("default", None)
        return schema

    @field_validator("*")
    @classmethod
    def _no_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.nullable:
            raise ValueError("may not be null; leave the field out to keep its value")
        return value


# A cursor is base64url (its padding optional) and short: the server refuses anything else, and
# relief/cursors.py also refuses a well-formed one it did not hand out.
Cursor = Annotated[str, StringConstraints(min_length=1, max_length=500, pattern=r"^[A-Za-z0-9_-]+={0,2}$")]


class ListQuery(Input):
    """Query parameters every list takes."""

    limit: int = Field(default=50, ge=1, le=200, description="Items per page")
    cursor: Cursor | None = Field(default=None, description="next_cursor of the previous page")
