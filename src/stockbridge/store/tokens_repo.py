"""Bearer tokens for the admin API: created here once, kept only as a hash, checked in constant time.

A token is `sbt_<key>_<secret>`: `key` (12 hex digits) is public and finds the row; the whole token's
SHA-256 is what is stored. The secret has 256 random bits, so a fast unsalted hash is enough: nobody
can guess or brute-force a preimage, which is the case a slow password hash (bcrypt, argon2) exists
for, and checking stays cheap on every admin call (docs/decisions/0012-access-tokens.md).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, select, update

from stockbridge.store.schema import admin_tokens
from stockbridge.store.sql import as_utc, utc

_PREFIX = "sbt"
_KEY_BYTES = 6
MAX_NAME = 100  # admin_tokens.name


class Role(StrEnum):
    """What a token may do; each role may do everything the roles before it may."""

    VIEWER = "viewer"  # read status and metrics
    OPERATOR = "operator"  # also run jobs now
    ADMIN = "admin"  # everything

    def allows(self, needed: Role) -> bool:
        order = list(Role)
        return order.index(self) >= order.index(needed)


class TokenNameTaken(ValueError):
    """An active token already has this name: names are how operators revoke tokens."""


@dataclass(frozen=True)
class TokenRecord:
    key: str
    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None


def create_token(connection: Connection, *, name: str, role: Role, now: datetime) -> str:
    """Store a new token and return it: the only time it is ever seen in full."""
    if not name.strip() or len(name) > MAX_NAME:
        raise ValueError(f"a token name is 1 to {MAX_NAME} characters")
    taken = connection.execute(
        select(admin_tokens.c.key).where(admin_tokens.c.name == name, admin_tokens.c.revoked_at.is_(None))
    ).first()
    if taken is not None:
        raise TokenNameTaken(f"an active token is already named {name!r}; revoke it first")
    key = secrets.token_hex(_KEY_BYTES)
    token = f"{_PREFIX}_{key}_{secrets.token_urlsafe(32)}"
    connection.execute(
        admin_tokens.insert().values(
            key=key, name=name, role=role.value, token_hash=_hash(token), created_at=now, revoked_at=None
        )
    )
    return token


def authenticate(connection: Connection, token: str) -> TokenRecord | None:
    """The active token `token` is, or None. Any string is safe to pass (it may come off the wire)."""
    prefix, _, rest = token.partition("_")
    key, _, secret = rest.partition("_")
    if prefix != _PREFIX or len(key) != 2 * _KEY_BYTES or not secret:
        return None
    row = connection.execute(
        select(admin_tokens).where(admin_tokens.c.key == key, admin_tokens.c.revoked_at.is_(None))
    ).first()
    if row is None or not hmac.compare_digest(row.token_hash, _hash(token)):
        return None
    return _record(row)


def list_tokens(connection: Connection) -> list[TokenRecord]:
    rows = connection.execute(select(admin_tokens).order_by(admin_tokens.c.created_at, admin_tokens.c.key))
    return [_record(row) for row in rows]


def revoke_token(connection: Connection, name: str, now: datetime) -> int:
    """Revoke the active tokens named `name`; returns how many."""
    result = connection.execute(
        update(admin_tokens)
        .where(admin_tokens.c.name == name, admin_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _record(row: Any) -> TokenRecord:
    return TokenRecord(row.key, row.name, Role(row.role), utc(row.created_at), as_utc(row.revoked_at))
