"""The ledger's hash chain: every ledger entry of an incident, in commit order, hashed onto the one before.

Entries are donations (and their reversals), stock movements, and approved disbursements (and their
reversals). Each is written down as its **canonical encoding**, a JSON object:

- keys sorted, no whitespace (separators `,` and `:`), UTF-8, non-ASCII characters as themselves;
- `"chain"`: `{"incident_id", "position", "kind"}`, plus the entry's fields named in `KINDS` below;
- UUIDs as lowercase strings, amounts as plain decimal strings as stored (`"50000.00"`, never
  exponent), times as `YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC, booleans and integers as JSON's, absent
  values as `null`;
- a field that could name a person or carry free text (a donor's name, a resident, a household, a
  note, a reason, a receipt or voucher number), and the ids of entries, organizations and API keys
  (which only their owners may read through the API), appear only as `"hmac-sha256:<hex>"` of the value, keyed by a
  per-incident key that never leaves the database: the public can check the chain and see that a
  reversal names its original (the same digest), but cannot test a guessed name against it, and cannot
  read a receipt's amount from its number.

`hash = SHA-256(previous hash (hex) + "\\n" + encoding)` as lowercase hex; the first entry's previous
hash is 64 zeros. The head (entry count and last hash) is what the bureau signs (`Signer` below).

Appending locks the incident's chain row until commit, so positions follow commit order. Call
`append` as the **last** statement of a transaction: a transaction holding the chain row then never
waits for another lock, so ledger writes cannot deadlock on it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

GENESIS = "0" * 64


@dataclass(frozen=True)
class Kind:
    table: str
    public: tuple[str, ...]  # columns written as they are
    digested: tuple[str, ...]  # columns written only as a keyed digest


KINDS: dict[str, Kind] = {
    "donation": Kind(
        table="donations",
        public=("kind", "quantity", "currency", "item", "unit", "estimated_value", "value_currency", "channel",
                "anonymous", "call_id", "site_id", "shelter_id", "earmark_purpose", "earmark_region", "created_at"),
        digested=("id", "reverses", "donor_organization_id", "pledge_id", "receipt_no", "donor_name", "reason",
                  "note", "recorded_by"),
    ),
    "stock_movement": Kind(
        table="stock_movements",
        public=("kind", "item", "unit", "quantity", "from_site_id", "from_shelter_id", "to_site_id",
                "to_shelter_id", "lost", "recipient_kind", "recipient_shelter_id", "people_reached", "region",
                "created_at"),
        digested=("id", "transfer_id", "reverses", "household_id", "resident_id", "reason", "note", "recorded_by"),
    ),
    "disbursement": Kind(
        table="disbursements",
        public=("amount", "currency", "purpose", "fund_purpose", "fund_region", "recipient_shelter_id",
                "recipient_households", "region", "status", "decided_at", "created_at"),
        digested=("id", "reverses", "recipient_organization_id", "recipient_resident_id", "voucher_no", "proposed_by",
                  "decided_by", "reason", "note"),
    ),
}


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, float):  # lat/lon only; never money
        return repr(value)
    raise TypeError(f"no canonical form for {type(value).__name__}")


def _digest(key: bytes, value: Any) -> str | None:
    if value is None:
        return None
    # Over the value alone, so one thing has one digest wherever it appears: a reversal's `reverses`
    # equals its original's `id`, and two entries of one donor organization show the same digest.
    return "hmac-sha256:" + hmac.new(key, str(_plain(value)).encode(), hashlib.sha256).hexdigest()


def canonical(obj: Mapping[str, Any]) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def encode(*, kind: str, incident_id: UUID, position: int, row: Mapping[str, Any], key: bytes) -> str:
    """The canonical encoding of one ledger row (the table's own columns, as stored)."""
    spec = KINDS[kind]
    fields: dict[str, Any] = {c: _plain(row[c]) for c in spec.public}
    fields.update({c: _digest(key, row[c]) for c in spec.digested})
    fields["chain"] = {"incident_id": str(incident_id), "position": position, "kind": kind}
    return canonical(fields)


def link(previous: str, encoding: str) -> str:
    return hashlib.sha256(f"{previous}\n{encoding}".encode()).hexdigest()


@dataclass(frozen=True)
class Head:
    incident_id: UUID
    entries: int
    head: str
    as_of: datetime | None = None  # when its last entry was chained (None: no entry yet)


async def append(conn: asyncpg.Connection, *, kind: str, row: Mapping[str, Any]) -> Head:
    """Chain a ledger row just written in this transaction (the row as `returning *` gave it)."""
    incident_id: UUID = row["incident_id"]
    await conn.execute(
        "insert into ledger_chains (incident_id, digest_key) values ($1, $2) on conflict do nothing",
        incident_id,
        secrets.token_bytes(32),
    )
    chain = await conn.fetchrow(
        "select entries, head, digest_key from ledger_chains where incident_id = $1 for update", incident_id
    )
    position = chain["entries"] + 1
    encoding = encode(kind=kind, incident_id=incident_id, position=position, row=row, key=chain["digest_key"])
    digest = link(chain["head"], encoding)
    await conn.execute(
        """
        with e as (
            insert into ledger_entries (incident_id, position, kind, entry_id, encoding, hash)
            values ($1, $2, $3, $4, $5, $6)
        )
        -- clock_timestamp(), not now(): the moment of chaining, under the lock, so the head's as_of only grows
        -- (now() is when the transaction began, which may be before the entry chained ahead of it).
        update ledger_chains set entries = $2, head = $6, updated_at = clock_timestamp() where incident_id = $1
        """,
        incident_id,
        position,
        kind,
        row["id"],
        encoding,
        digest,
    )
    return Head(incident_id=incident_id, entries=position, head=digest)


async def head(conn: asyncpg.Connection, incident_id: UUID) -> Head:
    row = await conn.fetchrow("select entries, head, updated_at from ledger_chains where incident_id = $1",
                              incident_id)
    if row is None or row["entries"] == 0:
        return Head(incident_id=incident_id, entries=0, head=GENESIS)
    return Head(incident_id=incident_id, entries=row["entries"], head=row["head"], as_of=row["updated_at"])


async def entries(conn: asyncpg.Connection, *, incident_id: UUID, after: int, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        select position, kind, entry_id, encoding, hash from ledger_entries
         where incident_id = $1 and position > $2 order by position limit $3
        """,
        incident_id,
        after,
        limit,
    )


async def entry_of(conn: asyncpg.Connection, *, kind: str, entry_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "select position, kind, entry_id, encoding, hash from ledger_entries where kind = $1 and entry_id = $2",
        kind,
        entry_id,
    )


@dataclass(frozen=True)
class Mismatch:
    incident_id: UUID
    position: int | None
    kind: str
    entry_id: UUID | None
    problem: str


async def verify(conn: asyncpg.Connection, *, incident_id: UUID) -> tuple[int, Mismatch | None]:
    """Recompute an incident's chain from the ledger rows; (entries checked, the first mismatch or None)."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        chain = await conn.fetchrow(
            "select entries, head, digest_key from ledger_chains where incident_id = $1", incident_id
        )
        rows: dict[tuple[str, UUID], asyncpg.Record] = {}
        for kind, spec in KINDS.items():
            for r in await conn.fetch(f"select * from {spec.table} where incident_id = $1", incident_id):
                rows[(kind, r["id"])] = r
        chained = await conn.fetch(
            """
            select position, kind, entry_id, encoding, hash from ledger_entries
             where incident_id = $1 order by position
            """,
            incident_id,
        )
    previous, seen = GENESIS, set()
    key = chain["digest_key"] if chain else b""
    for expected, entry in enumerate(chained, 1):
        where = (incident_id, entry["position"], entry["kind"], entry["entry_id"])
        if entry["position"] != expected:
            return expected - 1, Mismatch(*where, f"position {expected} is missing")
        row = rows.get((entry["kind"], entry["entry_id"]))
        if row is None:
            return expected - 1, Mismatch(*where, "the ledger row it names is gone")
        encoding = encode(kind=entry["kind"], incident_id=incident_id, position=expected, row=row, key=key)
        if encoding != entry["encoding"]:
            return expected - 1, Mismatch(*where, "the ledger row no longer matches its encoding")
        digest = link(previous, encoding)
        if digest != entry["hash"]:
            return expected - 1, Mismatch(*where, "the hash does not follow from the entry before it")
        previous = digest
        seen.add((entry["kind"], entry["entry_id"]))
    if chain is not None and (chain["entries"], chain["head"]) != (len(chained), previous):
        return len(chained), Mismatch(incident_id, chain["entries"], "head", None,
                                      f"the head says {chain['entries']} entries ending {chain['head'][:12]}…")
    for (kind, entry_id), row in sorted(rows.items(), key=lambda kv: (kv[1]["created_at"], str(kv[0][1]))):
        if (kind, entry_id) not in seen and _is_entry(kind, row):
            return len(chained), Mismatch(incident_id, None, kind, entry_id, "a ledger row that is not in the chain")
    return len(chained), None


def _is_entry(kind: str, row: Mapping[str, Any]) -> bool:
    """Every row is a ledger entry, except a disbursement not approved (proposed or rejected: no money moved)."""
    return kind != "disbursement" or row["status"] == "approved"


async def backfill(conn: asyncpg.Connection) -> int:
    """Chain the donations that predate the chain, per incident in the order they were recorded."""
    rows = await conn.fetch(
        """
        select d.* from donations d
         where not exists (select 1 from ledger_entries e where e.kind = 'donation' and e.entry_id = d.id)
         order by d.incident_id, d.created_at, d.id
        """
    )
    for row in rows:
        await append(conn, kind="donation", row=row)
    return len(rows)


class Signer:
    """Signs incidents' heads with the bureau's Ed25519 key (RELIEF_LEDGER_KEY)."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public_raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.public_pem = private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
        self.key_id = hashlib.sha256(self.public_raw).hexdigest()[:16]

    @classmethod
    def from_setting(cls, ledger_key: str | None, secret_key: str) -> Signer:
        """The configured key (base64 of the 32-byte seed, or PEM); unset: one derived from the secret key,
        so a development service signs with a stable key (production requires RELIEF_LEDGER_KEY)."""
        if ledger_key is None:
            seed = hashlib.sha256(b"relief ledger key\x00" + secret_key.encode()).digest()
            return cls(Ed25519PrivateKey.from_private_bytes(seed))
        return cls(parse_key(ledger_key))

    def sign(self, head: Head) -> dict[str, Any]:
        """The signed head: the statement (a canonical JSON text) and its signature, both as published."""
        statement = canonical({
            "algorithm": "Ed25519",
            "as_of": _plain(head.as_of),
            "entries": head.entries,
            "head": head.head,
            "incident_id": str(head.incident_id),
            "key_id": self.key_id,
        })
        signature = base64.b64encode(self._private.sign(statement.encode())).decode()
        return {"statement": statement, "signature": signature}


def parse_key(text: str) -> Ed25519PrivateKey:
    """An Ed25519 private key from base64 of its 32-byte seed, or from PEM (PKCS#8); ValueError otherwise."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(text.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the PEM key is not an Ed25519 key")
        return key
    try:
        seed = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ValueError("not base64 (nor PEM)") from None
    if len(seed) != 32:
        raise ValueError(f"an Ed25519 seed is 32 bytes; this is {len(seed)}")
    return Ed25519PrivateKey.from_private_bytes(seed)


def new_key() -> str:
    """A fresh key in the form RELIEF_LEDGER_KEY takes."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


async def receipt(
    conn: asyncpg.Connection, *, incident_id: UUID, receipt_no: str, amount: Decimal
) -> dict[str, Any] | None:
    """A receipt's place in the chain, when both its number and its amount (or quantity) match."""
    row = await conn.fetchrow(
        """
        select d.kind, e.position, e.hash, e.encoding,
               (select r.position from donations x join ledger_entries r on r.kind = 'donation' and r.entry_id = x.id
                 where x.reverses = d.id) as reversal_position
          from donations d join ledger_entries e on e.kind = 'donation' and e.entry_id = d.id
         where d.incident_id = $1 and d.receipt_no = $2 and d.reverses is null and d.quantity = $3
        """,
        incident_id,
        receipt_no,
        amount,
    )
    if row is None:
        return None
    return {"kind": row["kind"], "position": row["position"], "hash": row["hash"], "encoding": row["encoding"],
            "reversed": row["reversal_position"] is not None, "reversal_position": row["reversal_position"]}
