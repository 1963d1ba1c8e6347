"""Funds: the money of one currency with one earmark (purpose, region prefix), or none ('', '').

Money donations move a fund's `received` (relief/ledger.py), approved disbursements its `paid`
(relief/disbursements.py). Whatever takes money out of a fund (an approval, or the reversal of a
donation) does it by a guarded update, re-checked on the locked row, never read then written: the
balance `received − paid` never goes below zero, and a refusal is a 409 (Insufficient) with `available`,
the balance as a decimal string in the currency's minor units ("0.00" CNY, "0" JPY).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

import asyncpg

from models.catalogue import minor_units
from models.disbursements import EarmarkView, Fund
from relief.errors import Insufficient


@dataclass(frozen=True)
class Key:
    """Which fund: unearmarked money has purpose '' and region ''."""

    incident_id: UUID
    currency: str
    purpose: str = ""
    region: str = ""

    def values(self) -> tuple[UUID, str, str, str]:
        return self.incident_id, self.currency, self.purpose, self.region

    def __str__(self) -> str:
        if not self.purpose:
            return f"the unearmarked {self.currency} fund"
        return f"the {self.currency} fund earmarked for {self.purpose}" + (f" in {self.region}…" if self.region else "")


_WHERE = "incident_id = $1 and currency = $2 and purpose = $3 and region = $4"


def money(value: Decimal, currency: str) -> Decimal:
    """A sum of money in its currency's minor units (0.00 CNY, 0 JPY): amounts never have more."""
    return value.quantize(Decimal(1).scaleb(-minor_units(currency)))


async def available(conn: asyncpg.Connection, key: Key) -> str:
    """The fund's balance as the 409's `available` member says it."""
    value = await conn.fetchval(f"select received - paid from funds where {_WHERE}", *key.values())
    return format(money(value or Decimal(0), key.currency), "f")


async def exists(conn: asyncpg.Connection, key: Key) -> bool:
    return bool(await conn.fetchval(f"select 1 from funds where {_WHERE}", *key.values()))


async def receive(conn: asyncpg.Connection, key: Key, amount: Decimal) -> None:
    """Move a fund's received with a money donation; a reversal (negative) only as far as the fund is
    unpaid, else 409 with `available`."""
    if amount > 0:
        await conn.execute(
            """
            insert into funds (incident_id, currency, purpose, region, received) values ($1, $2, $3, $4, $5)
            on conflict (incident_id, currency, purpose, region) do update set received = funds.received + $5
            """,
            *key.values(), amount,
        )
        return
    taken = await conn.fetchval(
        f"update funds set received = received + $5 where {_WHERE} and received - paid >= -$5::numeric returning true",
        *key.values(), amount,
    )
    if not taken:
        left = await available(conn, key)
        raise Insufficient(f"{key} has only {left} {key.currency} left unpaid, less than this reversal takes back; "
                       "reverse a disbursement from it first", available=left)


async def draw(conn: asyncpg.Connection, key: Key, amount: Decimal) -> None:
    """Pay `amount` out of the fund, or refuse with 409 and `available` when it holds less."""
    paid = await conn.fetchval(
        f"update funds set paid = paid + $5 where {_WHERE} and received - paid >= $5 returning true",
        *key.values(), amount,
    )
    if not paid:
        left = await available(conn, key)
        raise Insufficient(f"{key} holds {left} {key.currency}; {format(amount, 'f')} cannot be paid from it",
                       available=left)


async def give_back(conn: asyncpg.Connection, key: Key, amount: Decimal) -> None:
    """Return a reversed payment to the fund it was drawn from (paid only ever goes down by what it rose)."""
    await conn.execute(f"update funds set paid = paid - $5 where {_WHERE}", *key.values(), amount)


async def list_funds(conn: asyncpg.Connection, *, incident_id: UUID) -> list[Fund]:
    """Every fund of the incident with its balance, and what proposals still wait on it."""
    rows = await conn.fetch(
        """
        with pending as (
            select currency, fund_purpose as purpose, fund_region as region, sum(amount) as proposed
              from disbursements where incident_id = $1 and status = 'proposed'
             group by currency, fund_purpose, fund_region
        )
        select currency, purpose, region, coalesce(f.received, 0) as received, coalesce(f.paid, 0) as paid,
               coalesce(p.proposed, 0) as proposed
          from (select currency, purpose, region, received, paid from funds where incident_id = $1) f
          full join pending p using (currency, purpose, region)
         order by currency, purpose, region
        """,
        incident_id,
    )
    return [
        Fund(currency=r["currency"],
             earmark=EarmarkView(purpose=r["purpose"], region=r["region"] or None) if r["purpose"] else None,
             received=money(r["received"], r["currency"]), paid=money(r["paid"], r["currency"]),
             balance=money(r["received"] - r["paid"], r["currency"]), proposed=money(r["proposed"], r["currency"]))
        for r in rows
    ]
