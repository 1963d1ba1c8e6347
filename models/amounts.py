"""Exact quantities and money: Decimal in, decimal strings out, never a float."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer

from models.catalogue import CURRENCIES, minor_units


def _no_float(value: object) -> object:
    # Request bodies are parsed with parse_float=Decimal, so a float here is a programming error
    # upstream; refuse it rather than carry binary rounding into a ledger.
    if isinstance(value, float):
        raise ValueError("send the number as a JSON number or a decimal string, not a float")
    if isinstance(value, bool):
        raise ValueError("expected a number")
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

Quantity = Annotated[_Exact, Field(gt=0, max_digits=18, decimal_places=4)]
"""A positive quantity of goods, people or money; up to 4 decimal places."""

Amount = Annotated[_Exact, Field(gt=0, max_digits=18, decimal_places=4)]
NonNegative = Annotated[_Exact, Field(ge=0, max_digits=18, decimal_places=4)]
Counter = _Exact
"""A counter as the API shows it: a decimal string."""


def _no_bool(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("expected a whole number of people")
    return value


Headcount = Annotated[int, BeforeValidator(_no_bool), Field(gt=0, le=100_000)]
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
