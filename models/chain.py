"""The ledger anyone can check: the signed head, the chained entries, a donor's receipt."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import Field

from models.amounts import Amount
from models.common import Input, Output, Timestamp

Hash = str  # 64 lowercase hex digits


class LedgerKey(Output):
    algorithm: Literal["Ed25519"] = "Ed25519"
    key_id: str = Field(description="First 16 hex digits of SHA-256 over the raw public key")
    public_key: str = Field(description="The raw 32-byte public key, base64")
    public_key_pem: str = Field(description="The same key as PEM (SubjectPublicKeyInfo)")


class LedgerHead(Output):
    incident_id: UUID
    entries: int = Field(description="How many entries the chain holds")
    head: Hash = Field(description="The last entry's hash (64 zeros while the chain is empty)")
    as_of: Timestamp | None = Field(description="When the last entry was chained")
    statement: str = Field(
        description="The signed text: canonical JSON of algorithm, as_of, entries, head, incident_id, key_id"
    )
    signature: str = Field(description="Ed25519 signature over the statement's UTF-8 bytes, base64")
    key_id: str


class LedgerEntry(Output):
    position: int = Field(description="1, 2, 3… in the order entries committed")
    hash: Hash = Field(description="SHA-256 of the previous hash, a newline, and the encoding, as hex")
    encoding: str = Field(description="The entry's canonical encoding (relief/chain.py documents it)")


class LedgerEntries(Output):
    items: list[LedgerEntry]
    next_after: int | None = Field(description="Pass as `after` for the next page; null at the head")


class LedgerEntriesQuery(Input):
    after: int = Field(default=0, ge=0, le=2**62, description="Entries after this position (0: from the first)")
    limit: int = Field(default=500, ge=1, le=5000)


class ReceiptQuery(Input):
    amount: Amount = Field(description="The receipt's amount (money) or quantity (goods), as on the receipt")


class ReceiptCheck(Output):
    receipt_no: str
    kind: Literal["money", "goods"]
    position: int = Field(description="The entry's position in the incident's chain")
    hash: Hash
    encoding: str
    reversed: bool = Field(description="A later entry reversed it (a correction)")
    reversal_position: int | None = None
