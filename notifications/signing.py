"""Webhook secrets: made, sealed for storage, and used to sign deliveries (Standard Webhooks)."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from datetime import datetime

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"
_NONCE_BYTES = 12


def new_secret() -> str:
    """A whsec_ secret: 32 random bytes, base64, as Standard Webhooks receivers expect."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


class Sealer:
    """Encrypts stored webhook secrets under RELIEF_SECRET_KEY (AES-256-GCM), so a copy of the
    database alone cannot forge deliveries. The key is derived per purpose, so the same setting can
    also key resident hashes without the two ever sharing a key."""

    def __init__(self, secret_key: str) -> None:
        self._aead = AESGCM(hashlib.sha256(b"relief webhook secrets\x00" + secret_key.encode()).digest())

    def seal(self, secret: str) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, secret.encode(), b"whsec")

    def open(self, sealed: bytes) -> str:
        return self._aead.decrypt(sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], b"whsec").decode()


class Signer:
    """Signs one subscription's deliveries with its current secret and, within 24 h of a rotation,
    the previous one too: the header then carries both signatures, so a receiver verifying with
    either secret accepts (Standard Webhooks allows several space-separated signatures)."""

    def __init__(self, *secrets_: str) -> None:
        self._webhooks = [Webhook(s) for s in secrets_]

    def signature(self, message_id: str, timestamp: datetime, body: str) -> str:
        return " ".join(w.sign(message_id, timestamp, body) for w in self._webhooks)
