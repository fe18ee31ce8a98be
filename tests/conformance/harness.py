"""What a connector contributes to the conformance suite: one adapter over its simulator.

Each adapter module (`clarus.py`, `netsuite.py`, ...) defines `ADAPTER`, an object with the methods
below; `test_conformance.py` runs every case for every adapter. Everything the cases measure at the
far end comes from the simulator's own control API, never from the client's counters.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from stockbridge.connectors.errors import ConnectorError
from stockbridge.connectors.http import RateLimiter

Client = Any  # the connector's own client (ClarusClient, NetSuiteClient, ...); it has `aclose()`


@dataclass(frozen=True)
class FarCalls:
    """The simulator's count of calls to its real API, and of those it refused for load."""

    calls: int
    refused: int


@dataclass(frozen=True)
class Provocation:
    """A call the far end refuses, and how the connector must report it."""

    name: str
    call: Callable[[Client], Awaitable[Any]]
    error: type[ConnectorError]  # the exact class expected
    code: str | None  # the far end's code, carried on the error (`RejectedError.code`)
    says: str  # a fragment of the far end's own words, carried in the message
    path: str | None = None  # the far end's pointer to the offending field (`RejectedError.path`)


class Adapter(Protocol):
    name: str
    system: str  # `ConnectorError.system` of this connector's errors

    def serve(self) -> AbstractContextManager[str]:
        """Start the simulator; yields its base URL."""
        ...

    def client(self, url: str, *, good: bool = True, limiter: RateLimiter | None = None) -> Client:
        """A client with good (or bad) credentials, paced by `limiter` when given."""
        ...

    async def probe(self, client: Client) -> None:
        """One authenticated read."""
        ...

    def seed(self, url: str, count: int) -> set[str]:
        """Put `count` records in a listing (through the control API where there is one); their keys."""
        ...

    async def list_all(self, client: Client, page_size: int) -> list[str]:
        """The listing's keys, paged to the end `page_size` at a time."""
        ...

    def throttle(self, url: str, calls_per_second: float) -> None:
        """Make the simulator refuse calls over this rate."""
        ...

    def far_calls(self, url: str) -> FarCalls: ...

    async def cheap_call(self, client: Client) -> None:
        """A read that costs the far end's budget one unit."""
        ...

    def provocations(self) -> list[Provocation]: ...

    def prepare_write(self, url: str) -> Any:
        """Make what the idempotent write needs; returns what `write` and the counts need to know."""
        ...

    async def write(self, client: Client, prepared: Any) -> None:
        """The idempotent write (always the same one)."""
        ...

    def writes_received(self, url: str) -> int:
        """How many write requests reached the far end."""
        ...

    def writes_applied(self, url: str, prepared: Any) -> int:
        """How many times the far end applied the write: its own state, read by its control API."""
        ...
