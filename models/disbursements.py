"""Disbursements (拨付): money paid out of a fund, proposed by one dispatcher and approved by another."""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal
from uuid import UUID

from pydantic import AfterValidator, Field, StringConstraints, WithJsonSchema, field_validator, model_validator

from models.amounts import Amount, Counter, Currency, whole
from models.codes import Region, region_prefix
from models.common import Input, ListQuery, Output, Timestamp, not_ahead
from models.pledges import Note


class Purpose(StrEnum):
    """What money is spent on; a donor's earmark names one of these."""

    emergency_living_aid = "emergency_living_aid"
    shelter_operation = "shelter_operation"
    rescue_operation = "rescue_operation"
    medical = "medical"
    reconstruction = "reconstruction"
    other = "other"


_PREFIX_PATTERN = r"^(?:1[1-9]|[2-7][0-9]|8[0-2])(?:[0-9]{2}){0,2}$"


def _prefix(value: str) -> str:
    if not re.fullmatch(_PREFIX_PATTERN, value):
        raise ValueError("an earmark's region is a division code or its prefix: 2, 4 or 6 digits whose first two "
                         "name a province (11–82), e.g. 32 (Jiangsu), 3205 (Suzhou), 320505 (Huqiu)")
    # 320500 names Suzhou as a whole, so it holds 320505: stored as its significant prefix, 3205.
    return region_prefix(value.ljust(6, "0"))


RegionPrefix = Annotated[
    str,
    AfterValidator(_prefix),
    WithJsonSchema({"type": "string", "pattern": _PREFIX_PATTERN,
                    "description": "A division code or its prefix (2, 4 or 6 digits); trailing 00 pairs are "
                                   "dropped, so 320500 is read as 3205 and holds every district of Suzhou"}),
]


class Earmark(Input):
    """A donor's designated use (定向): money only for this purpose, within this region if one is named."""

    purpose: Purpose
    region: RegionPrefix | None = Field(default=None, description="Where it may be spent; absent: anywhere")


class EarmarkView(Output):
    purpose: Purpose
    region: str | None = None


VoucherNo = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Households = whole(1, 10_000_000, "How many households receive it")


class Recipient(Input):
    """Who receives it: an organization, a shelter, one registered resident, or households in a region."""

    organization_id: UUID | None = None
    shelter_id: UUID | None = None
    resident_id: UUID | None = None
    households: Households | None = None
    region: Region | None = Field(default=None, description="households: where they live (required with them)")

    @model_validator(mode="after")
    def _one_form(self) -> Recipient:
        forms = [self.organization_id, self.shelter_id, self.resident_id, self.households]
        if sum(f is not None for f in forms) != 1:
            raise ValueError('give exactly one of {"organization_id"}, {"shelter_id"}, {"resident_id"} or '
                             '{"households": n, "region": "320505"}')
        if (self.households is None) != (self.region is None):
            raise ValueError('"region" goes with "households", and households need one')
        return self


class DisbursementCreate(Input):
    amount: Amount
    currency: Currency = "CNY"
    purpose: Purpose
    recipient: Recipient
    region: Region | None = Field(
        default=None,
        description="Where the money goes. Defaults to the households' region or the resident's origin region; "
        "required when the fund is a regional earmark",
    )
    voucher_no: VoucherNo = Field(description="The payment voucher (凭证号); unique within the incident")
    fund: Earmark | None = Field(
        default=None,
        description="The earmark drawn on (its purpose must be the disbursement's; its region must hold the "
        "disbursement's region); null or absent: unearmarked money",
    )
    note: Note = ""
    disbursed_at: Timestamp | None = Field(
        default=None,
        description="When the money was paid out, as its voucher says, if that was earlier than now (a payment "
        "recorded after the fact); absent: when it is approved. At most 5 minutes in the future",
    )

    @field_validator("disbursed_at")
    @classmethod
    def _not_ahead(cls, value: datetime | None) -> datetime | None:
        return not_ahead(value, "money cannot be paid out later than now (5 minutes of clock skew allowed)")


class DisbursementDecision(Input):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class RecipientView(Output):
    kind: Literal["organization", "shelter", "resident", "households"]
    organization_id: UUID | None = None
    organization_name: str | None = None
    shelter_id: UUID | None = None
    shelter_name: str | None = None
    resident_id: UUID | None = Field(default=None, description="Staff see the id only, never the person's name")
    households: int | None = None


class Disbursement(Output):
    id: UUID
    incident_id: UUID
    entry: Literal["payment", "reversal"] = Field(description="A reversal negates the approved payment it names")
    amount: Counter = Field(description="Negative on a reversal")
    currency: str
    purpose: Purpose
    fund: EarmarkView | None = Field(description="The earmark drawn on; null: unearmarked money")
    recipient: RecipientView
    region: str | None
    voucher_no: str
    status: Literal["proposed", "approved", "rejected"] = Field(
        description="Only approved ones are paid (and are ledger entries); a reversal is approved when recorded")
    proposed_by: UUID = Field(description="The key that proposed it (a reversal: the key that recorded it)")
    decided_by: UUID | None = Field(description="The other key that approved or rejected it")
    decided_at: Timestamp | None
    reason: str | None = Field(description="Why it was rejected, or why a reversal was recorded")
    reverses: UUID | None
    reversed_by: UUID | None = None
    note: str
    version: int
    disbursed_at: Timestamp = Field(
        description="When the money was paid out: the time the proposal gave, else the approval's (until it is "
        "decided, a proposal without one reads its proposal time; a reversal: when it was recorded). The list's "
        "order and the hash chain follow created_at, the recording time"
    )
    created_at: Timestamp
    updated_at: Timestamp


class DisbursementQuery(ListQuery):
    status: Literal["proposed", "approved", "rejected"] | None = None
    purpose: Purpose | None = None
    entry: Literal["payment", "reversal"] | None = None


class Fund(Output):
    """The money of one currency and one earmark (or none), as received and paid."""

    currency: str
    earmark: EarmarkView | None = Field(description="null: unearmarked money")
    received: Counter = Field(description="Money donations into it, net of reversals")
    paid: Counter = Field(description="Approved disbursements out of it, net of reversals")
    balance: Counter = Field(description="received − paid: what may still be approved; never below 0")
    proposed: Counter = Field(description="Disbursements proposed and not yet decided")
