"""China's identification codes: unified social credit codes and administrative division codes."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema

# GB 32100-2015: 31 characters (digits and capitals without I, O, S, V, Z) and the weights of
# positions 1–17; the 18th character is the check character.
CREDIT_CODE_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_CREDIT_CODE_SHAPE = re.compile(f"[{CREDIT_CODE_ALPHABET}]{{18}}")


def credit_code_check_character(first17: str) -> str:
    """The check character that GB 32100-2015 assigns to a code's first 17 characters."""
    total = sum(CREDIT_CODE_ALPHABET.index(c) * w for c, w in zip(first17, CREDIT_CODE_WEIGHTS, strict=True))
    return CREDIT_CODE_ALPHABET[(31 - total % 31) % 31]


def check_credit_code(value: str) -> str:
    """Validate an 18-character unified social credit code, check character included."""
    if not _CREDIT_CODE_SHAPE.fullmatch(value):
        raise ValueError(
            "a unified social credit code is 18 characters from 0-9 and A-Y without I, O, S, V, Z"
        )
    expected = credit_code_check_character(value[:17])
    if value[17] != expected:
        raise ValueError(f"check character does not match (GB 32100-2015 gives {expected!r})")
    return value


def check_region(value: str) -> str:
    """A 6-digit administrative division code whose first two digits name a province (11–82)."""
    if not re.fullmatch(r"[0-9]{6}", value):
        raise ValueError("a region is a 6-digit administrative division code, such as 320500")
    if not 11 <= int(value[:2]) <= 82:
        raise ValueError("the first two digits of a region code name a province-level division (11–82)")
    return value


def region_prefix(code: str) -> str:
    """The significant part of a division code: 320000 → 32, 320500 → 3205, 320505 → 320505."""
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def _strip_upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


CreditCode = Annotated[str, BeforeValidator(_strip_upper), AfterValidator(check_credit_code)]
# The schema's pattern is check_region's rule (6 ASCII digits, the first two 11–82); the validator
# stays for its messages.
REGION_PATTERN = r"^(?:1[1-9]|[2-7][0-9]|8[0-2])[0-9]{4}$"
Region = Annotated[
    str,
    AfterValidator(check_region),
    WithJsonSchema({"type": "string", "pattern": REGION_PATTERN,
                    "description": "A 6-digit administrative division code (GB/T 2260), e.g. 320500"}),
]


# A region filter: a division code or its prefix. 320500 names Suzhou as a whole, so it is read as its
# significant prefix 3205 (region_prefix), the same as 3205 itself.
REGION_PREFIX_PATTERN = r"^(?:1[1-9]|[2-7][0-9]|8[0-2])(?:[0-9]{2}){0,2}$"


def check_region_prefix(value: str) -> str:
    """A region filter (2, 4 or 6 digits, the first two a province 11–82) as its significant prefix."""
    if not re.fullmatch(REGION_PREFIX_PATTERN, value):
        raise ValueError("a region filter is a division code or its prefix: 2, 4 or 6 digits whose first two name "
                         "a province-level division (11–82), e.g. 32 (Jiangsu), 3205 (Suzhou), 320505 (Huqiu)")
    return region_prefix(value.ljust(6, "0"))


RegionPrefix = Annotated[
    str,
    AfterValidator(check_region_prefix),
    WithJsonSchema({"type": "string", "pattern": REGION_PREFIX_PATTERN,
                    "description": "A division code or its prefix (2, 4 or 6 digits): 32 is Jiangsu, 3205 and "
                                   "320500 are Suzhou, 320505 is Huqiu"}),
]
