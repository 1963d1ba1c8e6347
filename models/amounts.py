"""Exact quantities and money: Decimal in, decimal strings out, never a float."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, WithJsonSchema

from models.catalogue import CURRENCIES, minor_units

# What a number written as a string may look like: ASCII digits and one decimal point. Decimal()
# would also take "1_000", Arabic-Indic "١٢٣", full-width "１２３", spaces and exponents; a ledger
# should hold what every other system reads the same way.
_DECIMAL_TEXT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
_DECIMAL_HINT = 'write it with the ASCII digits 0-9 and at most one ".", e.g. "1000.50" (no separators or spaces)'


def _no_float(value: object) -> object:
    # Request bodies are parsed with parse_float=Decimal, so a float here is a programming error
    # upstream; refuse it rather than carry binary rounding into a ledger.
    if isinstance(value, float):
        raise ValueError("send the number as a JSON number or a decimal string, not a float")
    if isinstance(value, bool):
        raise ValueError("expected a number")
    if isinstance(value, str) and not _DECIMAL_TEXT.fullmatch(value):
        raise ValueError(f"not a decimal number: {_DECIMAL_HINT}")
    return value


def _finite(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise ValueError("must be a finite number")
    return value


_Exact = Annotated[
    Decimal,
    BeforeValidator(_no_float),
    AfterValidator(_finite),
    PlainSerializer(lambda d: format(d, "f"), return_type=str, when_used="json"),
]

# pydantic cannot carry gt/max_digits/decimal_places through the validators above into the JSON
# schema (it writes them as unknown keywords), so the schema of each input type is written out here,
# saying what the validators enforce: at most 14 digits before the point and 4 after it (leading
# zeros aside).
_WHOLE = r"[0-9]{1,14}"
_FRACTION = r"(?:\.[0-9]{1,4}0*)?"  # trailing zeros do not count as decimal places


def _decimal_schema(*, positive: bool) -> dict[str, Any]:
    bound = "exclusiveMinimum" if positive else "minimum"
    # Positive: some digit other than 0, before the point or after it.
    text = (rf"^(?=[0-9.]*[1-9])0*{_WHOLE}{_FRACTION}$" if positive else rf"^0*{_WHOLE}{_FRACTION}$")
    return {
        "anyOf": [
            {"type": "number", bound: 0, "exclusiveMaximum": 1e14, "multipleOf": 0.0001},
            {"type": "string", "pattern": text},
        ],
        "description": "A JSON number or a decimal string of ASCII digits; at most 14 digits before the "
        "point and 4 after it",
    }


Quantity = Annotated[
    _Exact, Field(gt=0, max_digits=18, decimal_places=4), WithJsonSchema(_decimal_schema(positive=True))
]
"""A positive quantity of goods, people or money; up to 4 decimal places."""

Amount = Quantity
NonNegative = Annotated[
    _Exact, Field(ge=0, max_digits=18, decimal_places=4), WithJsonSchema(_decimal_schema(positive=False))
]
# Shown, a counter is always a decimal string: say so in the schema, so that receivers (and the
# examples generated from it) know a string of digits comes, not any text.
Counter = Annotated[_Exact, WithJsonSchema({"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$",
                                            "examples": ["120"]}, mode="serialization")]
"""A counter as the API shows it: a decimal string."""

_INTEGER_TEXT = re.compile(r"-?[0-9]+")


def whole_number(value: object) -> object:
    """Refuse what int() would stretch into a whole number: true, "1_000", "١٢٣", "１２３"."""
    if isinstance(value, bool):
        raise ValueError("expected a whole number")
    if isinstance(value, str) and not _INTEGER_TEXT.fullmatch(value):
        raise ValueError("not a whole number: write it with the ASCII digits 0-9 (no separators or spaces)")
    return value


def whole(minimum: int, maximum: int, description: str | None = None) -> Any:
    """A whole number in [minimum, maximum], with a JSON schema that says so."""
    schema: dict[str, Any] = {"type": "integer", "minimum": minimum, "maximum": maximum}
    if description:
        schema["description"] = description
    return Annotated[int, BeforeValidator(whole_number), Field(ge=minimum, le=maximum), WithJsonSchema(schema)]


Headcount = whole(1, 100_000)
"""A number of people: a positive whole number (true is not one)."""


def _currency(value: str) -> str:
    if value not in CURRENCIES:
        raise ValueError("not an ISO 4217 currency code (e.g. CNY)")
    return value


Currency = Annotated[
    str,
    BeforeValidator(lambda v: v.strip().upper() if isinstance(v, str) else v),
    AfterValidator(_currency),
]


def check_money(amount: Decimal, currency: str) -> None:
    """Raise ValueError when `amount` has more decimals than `currency` has minor units."""
    places = minor_units(currency)
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise ValueError(f"{currency} amounts have at most {places} decimal places")
