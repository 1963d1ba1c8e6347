"""Webhook secrets at rest: made, and sealed for storage under RELIEF_SECRET_KEY.

Storage crypto is the core's (the subscriptions' module stores what this seals); signing deliveries
with the opened secrets is notifications/signing.py's.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

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
