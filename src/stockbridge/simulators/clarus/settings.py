"""Settings of the Clarus WMS simulator (immutable; changed by replacing)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

_SHIP_METHOD = re.compile(r"[A-Za-z0-9_-]{1,32}")


def utc_now() -> datetime:
    return datetime.now(UTC)


class SettingsError(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


def _rate(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= float(value) <= 1.0:
        raise SettingsError(name, "must be a number between 0 and 1")
    return float(value)


def _int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SettingsError(name, f"must be an integer >= {minimum}")
    return value


def _positive(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise SettingsError(name, "must be a number > 0")
    return float(value)


def ship_method_codes(value: object, name: str = "ship_methods") -> tuple[str, ...]:
    """A non-empty list of service codes (1..32 letters, digits, '-', '_'); duplicates dropped."""
    if (
        isinstance(value, str)
        or not isinstance(value, list | tuple)
        or not value
        or not all(isinstance(c, str) and _SHIP_METHOD.fullmatch(c) for c in value)
    ):
        raise SettingsError(name, "must be a non-empty list of codes of 1..32 letters, digits, '-' or '_'")
    return tuple(dict.fromkeys(value))


def _optional_str(name: str, value: object) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise SettingsError(name, "must be a non-empty string or null")
    return value


@dataclass(frozen=True)
class FaultSettings:
    """Webhook delivery faults, decided per delivery when the event is queued, from the seeded RNG; and
    `create_timeout_rate`: order creates that are applied but answered only after `timeout_delay_s`."""

    duplicate_rate: float = 0.0
    reorder_rate: float = 0.0
    reorder_depth: int = 8
    delay_ms: tuple[int, int] = (0, 0)
    failure_rate: float = 0.0
    drop_rate: float = 0.0
    create_timeout_rate: float = 0.0
    timeout_delay_s: float = 30.0
    clock_skew_s: float = 0.0  # the sender's clock is this far off: shifts every X-Clarus-Timestamp

    def __post_init__(self) -> None:
        for name in ("duplicate_rate", "reorder_rate", "failure_rate", "drop_rate", "create_timeout_rate"):
            object.__setattr__(self, name, _rate(name, getattr(self, name)))
        object.__setattr__(self, "timeout_delay_s", _positive("timeout_delay_s", self.timeout_delay_s))
        skew = self.clock_skew_s
        if isinstance(skew, bool) or not isinstance(skew, int | float) or abs(skew) > 10**9:
            raise SettingsError("clock_skew_s", "must be a number of seconds (negative: behind)")
        object.__setattr__(self, "clock_skew_s", float(skew))
        _int("reorder_depth", self.reorder_depth, 1)
        delay = self.delay_ms
        if (
            not isinstance(delay, tuple | list)
            or len(delay) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in delay)
            or delay[0] > delay[1]
        ):
            raise SettingsError("delay_ms", "must be [min, max] integers with 0 <= min <= max")
        object.__setattr__(self, "delay_ms", (int(delay[0]), int(delay[1])))

    def updated(self, changes: Mapping[str, Any]) -> FaultSettings:
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise SettingsError(sorted(unknown)[0], "unknown fault setting")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "duplicate_rate": self.duplicate_rate,
            "reorder_rate": self.reorder_rate,
            "reorder_depth": self.reorder_depth,
            "delay_ms": list(self.delay_ms),
            "failure_rate": self.failure_rate,
            "drop_rate": self.drop_rate,
            "create_timeout_rate": self.create_timeout_rate,
            "timeout_delay_s": self.timeout_delay_s,
            "clock_skew_s": self.clock_skew_s,
        }


_RESETTABLE = (
    "api_key",
    "warehouses",
    "webhook_url",
    "webhook_secret",
    "faults",
    "seed",
    "concurrency",
    "retry_base_s",
    "retry_max_s",
    "max_attempts",
    "request_timeout_s",
    "event_retention",
    "ship_methods",
)


@dataclass(frozen=True)
class ClarusSettings:
    api_key: str = "clarus-dev-key"
    warehouses: tuple[str, ...] = ("WH1",)
    webhook_url: str | None = None
    webhook_secret: str | None = None
    faults: FaultSettings = field(default_factory=FaultSettings)
    seed: int = 0
    concurrency: int = 16
    retry_base_s: float = 0.2
    retry_max_s: float = 10.0
    max_attempts: int = 20
    request_timeout_s: float = 10.0
    event_retention: int = 1_000_000
    ship_methods: tuple[str, ...] = ("STD", "NDAY", "EXP", "INTL")
    clock: Callable[[], datetime] = utc_now

    def __post_init__(self) -> None:
        if not isinstance(self.api_key, str) or not self.api_key:
            raise SettingsError("api_key", "must be a non-empty string")
        warehouses = self.warehouses
        if isinstance(warehouses, str) or not all(isinstance(w, str) and w for w in warehouses):
            raise SettingsError("warehouses", "must be a list of warehouse ids")
        object.__setattr__(self, "warehouses", tuple(warehouses))
        _optional_str("webhook_url", self.webhook_url)
        _optional_str("webhook_secret", self.webhook_secret)
        if (self.webhook_url is None) != (self.webhook_secret is None):
            raise SettingsError("webhook_secret", "webhook_url and webhook_secret go together")
        if not isinstance(self.faults, FaultSettings):
            raise SettingsError("faults", "must be FaultSettings")
        _int("seed", self.seed, -(2**63))
        _int("concurrency", self.concurrency, 1)
        _int("max_attempts", self.max_attempts, 1)
        _int("event_retention", self.event_retention, 1)
        object.__setattr__(self, "ship_methods", ship_method_codes(self.ship_methods))
        for name in ("retry_base_s", "retry_max_s", "request_timeout_s"):
            object.__setattr__(self, name, _positive(name, getattr(self, name)))

    def updated(self, changes: Mapping[str, Any]) -> ClarusSettings:
        """Apply JSON-shaped changes (as sent to /_control/reset); raises SettingsError."""
        unknown = set(changes) - set(_RESETTABLE)
        if unknown:
            raise SettingsError(sorted(unknown)[0], "unknown or non-resettable setting")
        values = dict(changes)
        if "faults" in values:
            faults = values["faults"]
            if not isinstance(faults, Mapping):
                raise SettingsError("faults", "must be an object")
            values["faults"] = self.faults.updated(faults)
        if "warehouses" in values and not isinstance(values["warehouses"], list | tuple):
            raise SettingsError("warehouses", "must be a list of warehouse ids")
        try:
            return dataclasses.replace(self, **values)
        except TypeError as exc:
            raise SettingsError("settings", str(exc)) from exc
