"""Shapes shared by every area: the base model, pages, problems, actors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

T = TypeVar("T")

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=10_000)]
def _storable(value: datetime) -> datetime:
    # PostgreSQL stores years 4713 BC–294276 AD, Python 1–9999; a zone offset can push either edge
    # over. No disaster record needs more than this window.
    if not 1900 <= value.year <= 2200 or not 1900 <= value.astimezone(UTC).year <= 2200:
        raise ValueError("must be between the years 1900 and 2200")
    return value.astimezone(UTC)  # the API speaks UTC, whatever offset the client wrote


Timestamp = Annotated[AwareDatetime, AfterValidator(_storable)]


class Input(BaseModel):
    """Base of request bodies: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Output(BaseModel):
    """Base of read models."""

    model_config = ConfigDict(from_attributes=True)


class Page(Output, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        default=None, description="Pass as ?cursor= to get the next page; null on the last page"
    )


class ProblemError(BaseModel):
    pointer: str | None = Field(default=None, description="JSON pointer into the request body")
    parameter: str | None = Field(default=None, description="Query parameter or header at fault")
    detail: str


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


def mask_phone(phone: str) -> str:
    """139****5678: enough to recognise a number, not enough to call it.

    The first three digits are shown only on numbers of 11 digits or more (a mobile number's carrier
    prefix); shorter numbers show their last four at most, so no mask reveals more than half a number.
    """
    digits = phone.replace(" ", "").replace("-", "")
    if len(digits) < 8:
        return "****"
    if len(digits) < 11:
        return "****" + digits[-4:]
    return digits[:3] + "****" + digits[-4:]


def dump(model: BaseModel) -> dict[str, Any]:
    """A model as the API shows it (decimals as strings, times as ISO 8601)."""
    return model.model_dump(mode="json")


__all__ = ["Actor", "Input", "Output", "Page", "Patch", "Problem", "ProblemError", "Text", "Timestamp", "datetime"]


class Patch(Input):
    """Base of PATCH bodies: absent fields stay as they are; an explicit null is refused.

    Fields that may really be cleared list themselves in `nullable`.
    """

    nullable: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*")
    @classmethod
    def _no_null(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name not in cls.nullable:
            raise ValueError("may not be null; leave the field out to keep its value")
        return value


class ListQuery(Input):
    """Query parameters every list takes."""

    limit: int = Field(default=50, ge=1, le=200, description="Items per page")
    cursor: str | None = Field(default=None, description="next_cursor of the previous page")
