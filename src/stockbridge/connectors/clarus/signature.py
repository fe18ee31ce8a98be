"""Clarus webhook signatures and their replay window (docs/simulators/clarus.md, Webhook delivery).

`X-Clarus-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>`, where `timestamp`
is the `X-Clarus-Timestamp` header (Unix seconds). Because the timestamp is signed, a captured
delivery cannot be replayed later with a fresh timestamp: the receiver refuses one whose timestamp is
outside its tolerance (the scheme Stripe and Slack use).
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "x-clarus-signature"
TIMESTAMP_HEADER = "x-clarus-timestamp"
EVENT_ID_HEADER = "x-clarus-event-id"
_PREFIX = "sha256="
_MAX_TIMESTAMP_DIGITS = 12  # Unix seconds until the year 33658: anything longer is not a timestamp


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    return _PREFIX + _digest(secret, body, str(timestamp))


def verify(secret: bytes, body: bytes, signature: str | None, timestamp: str | None) -> int | None:
    """The signed timestamp (Unix seconds) if `signature` is authentic for `timestamp` and `body`,
    else None. Compares bytes in constant time, so any header value (non-ASCII included) is a plain
    mismatch, never an error."""
    if not signature or not timestamp:
        return None
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= _MAX_TIMESTAMP_DIGITS):
        return None
    expected = (_PREFIX + _digest(secret, body, timestamp)).encode()
    if not hmac.compare_digest(expected, signature.encode("utf-8", "surrogatepass")):
        return None
    return int(timestamp)


def is_fresh(timestamp: int, now: float, tolerance_s: float) -> bool:
    """Is a signed timestamp within `tolerance_s` of our clock, either way (the sender's clock may
    be ahead of ours)?"""
    return abs(now - timestamp) <= tolerance_s


def _digest(secret: bytes, body: bytes, timestamp: str) -> str:
    mac = hmac.new(secret, timestamp.encode() + b".", hashlib.sha256)
    mac.update(body)
    return mac.hexdigest()
