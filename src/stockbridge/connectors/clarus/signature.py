"""Clarus webhook signatures: `X-Clarus-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "x-clarus-signature"
EVENT_ID_HEADER = "x-clarus-event-id"
_PREFIX = "sha256="


def sign(secret: bytes, body: bytes) -> str:
    return _PREFIX + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, header: str | None) -> bool:
    """Constant-time check of the signature header against the raw body."""
    if not header or not header.startswith(_PREFIX):
        return False
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header[len(_PREFIX) :])
