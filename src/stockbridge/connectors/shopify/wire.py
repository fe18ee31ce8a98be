"""Reading Shopify's JSON by hand, each failure naming the field it is about."""

from __future__ import annotations

from datetime import datetime
from typing import Any


class UnusablePayloadError(ValueError):
    """A payload the hub cannot use: answered with the reason and kept as an exception for a person."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail


def _name(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def expect_object(raw: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = raw.get(key)
    if not isinstance(value, dict):
        raise UnusablePayloadError(_name(where, key), "missing or not an object")
    return value


def expect_list(raw: dict[str, Any], key: str, where: str, *, required: bool = True) -> list[Any]:
    value = raw.get(key)
    if value is None and not required:
        return []
    if not isinstance(value, list):
        raise UnusablePayloadError(_name(where, key), "missing or not a list")
    return value


def expect_str(raw: dict[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise UnusablePayloadError(_name(where, key), "missing or not text")
    return value


def optional_str(raw: dict[str, Any], key: str, where: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise UnusablePayloadError(_name(where, key), "not text")
    return value


def expect_int(raw: dict[str, Any], key: str, where: str) -> int:
    """A non-negative JSON integer (an id or a quantity); a gid's numeric tail is accepted too."""
    value = raw.get(key)
    if isinstance(value, str) and value.startswith("gid://"):
        value = value.rsplit("/", 1)[-1]
        value = int(value) if value.isascii() and value.isdigit() else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UnusablePayloadError(_name(where, key), "missing or not a non-negative integer")
    return value


def aware_datetime(value: Any, field: str) -> datetime:
    """An ISO 8601 time with its offset (Shopify always sends one); anything else is unusable."""
    if not isinstance(value, str):
        raise UnusablePayloadError(field, "missing or not a time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise UnusablePayloadError(field, f"{value[:40]!r} is not an ISO 8601 time") from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise UnusablePayloadError(field, f"{value[:40]!r} has no UTC offset")
    return parsed


def gid(kind: str, number: int | str) -> str:
    """Shopify's global id for a REST id (`gid://shopify/Order/123`)."""
    return f"gid://shopify/{kind}/{number}"
