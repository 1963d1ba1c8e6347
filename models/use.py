"""How donations were used (捐赠款物使用情况): money received and paid out, goods received and where they went.

The same figures appear in the incident summary (for staff) and in the public use report (for anyone),
computed once from the same counters, so the two cannot disagree.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from models.amounts import Counter
from models.common import Output, Timestamp


class FundFigures(Output):
    purpose: str | None = Field(description="The earmark's purpose (定向); null: unearmarked money")
    region: str | None = Field(description="The earmark's region (a code prefix); null: anywhere")
    received: Counter
    paid: Counter
    balance: Counter


class MoneyUse(Output):
    currency: str
    received: Counter = Field(description="Net of the ledger: receipts minus reversals")
    paid: Counter = Field(description="Approved disbursements, net of reversals")
    balance: Counter = Field(description="received − paid")
    paid_by_purpose: dict[str, Counter] = Field(description="Purpose → amount paid")
    funds: list[FundFigures] = Field(description="Per earmark (and the unearmarked money)")


class GoodsUse(Output):
    item: str
    unit: str
    received: Counter = Field(description="Net of the ledger: receipts minus reversals")
    distributed: Counter
    written_off: Counter = Field(description="Damaged, expired, lost (losses in transit included)")
    in_transit: Counter
    on_hand: Counter = Field(description="received − distributed − written_off − in_transit: at a location now")
    people_reached: Counter = Field(description="Person-times (人次) reached by distributions of this item")


class UseFigures(Output):
    money: list[MoneyUse]
    goods: list[GoodsUse]
    people_reached: Counter = Field(description="Person-times (人次) reached by all distributions")


class LedgerFigures(Output):
    entries: int
    head: str = Field(description="The chain's head hash; the signed head is at …/ledger")
    as_of: Timestamp | None


class PublicUse(UseFigures):
    """The public use report: aggregates and organization names; no donor, resident or recipient person."""

    incident_id: UUID
    code: str
    title: str
    as_of: Timestamp
    organizations: list[str] = Field(description="Organizations taking part, and those paid, by name")
    ledger: LedgerFigures
