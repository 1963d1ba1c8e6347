"""Signing deliveries with a subscription's secrets (Standard Webhooks). The secrets are made and
sealed for storage by relief/sealing.py."""

from __future__ import annotations

from datetime import datetime

from standardwebhooks.webhooks import Webhook


class Signer:
    """Signs one subscription's deliveries with its current secret and, within 24 h of a rotation,
    the previous one too: the header then carries both signatures, so a receiver verifying with
    either secret accepts (Standard Webhooks allows several space-separated signatures)."""

    def __init__(self, *secrets_: str) -> None:
        self._webhooks = [Webhook(s) for s in secrets_]

    def signature(self, message_id: str, timestamp: datetime, body: str) -> str:
        return " ".join(w.sign(message_id, timestamp, body) for w in self._webhooks)
