"""Shopify Admin GraphQL client: one POST per operation, paced by the store's cost bucket.

`POST {base_url}/admin/api/{version}/graphql.json` with `X-Shopify-Access-Token`
(../shared/reference/shopify.md), sent through the REST base (`connectors/rest`, decision 0017: the
token as a header strategy, the deadline, one translation of refusals with Shopify's error reader).
Every failure leaves here as one of the hub's error classes:

| answer | error |
|---|---|
| transport failure, timeout, 408, 5xx | `RetriableError` (with `Retry-After`) |
| 429 | `RateLimitedError` (with `Retry-After`) |
| 401, 403, 402 (shop frozen), 423 (shop locked), GraphQL `ACCESS_DENIED` | `AuthenticationError` |
| other 4xx, GraphQL `errors` | `RejectedError` (`code`, `path`) |
| GraphQL `INTERNAL_SERVER_ERROR` | `RetriableError` |
| GraphQL `THROTTLED` (HTTP 200) | waited out here, then `RateLimitedError` if it persists |
| 2xx that is not the documented shape | `MalformedResponseError` |

`userErrors` inside a mutation's payload are the caller's to read (`user_errors`, `rejection`): only
the caller knows which input line a field path points at.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from stockbridge.connectors.errors import (
    AuthenticationError,
    MalformedResponseError,
    RateLimitedError,
    RejectedError,
    RetriableError,
)
from stockbridge.connectors.rest import CallStats, ErrorBody, HeaderAuth, RestClient
from stockbridge.connectors.rest.failures import NEEDS_PERSON
from stockbridge.connectors.shapes import expect_shape
from stockbridge.connectors.shopify.bucket import DEFAULT_MAXIMUM, DEFAULT_RESTORE_RATE, CostBucket

SYSTEM = "shopify"
ACCESS_TOKEN_HEADER = "X-Shopify-Access-Token"
# A mutation's requested cost before the store has told us better (reference: 10 points, UNCONFIRMED).
TYPICAL_COST = 10.0
# THROTTLED answers met in a row before the call gives up to the caller's retry (RateLimitedError).
# Each is preceded by the exact wait the bucket needs, so more than one means another client of the
# same app and store (another worker process) spends the same bucket.
MAX_THROTTLED_IN_A_ROW = 5
# 402: the shop is frozen (unpaid); 423: locked. Only the merchant can undo either.
SHOPIFY_NEEDS_PERSON = NEEDS_PERSON | {402, 423}
_RETRIABLE_CODES = frozenset({"INTERNAL_SERVER_ERROR"})
_PERSON_CODES = frozenset({"ACCESS_DENIED"})


class SharedCostBucket(Protocol):
    """The store's cost bucket as every worker process of the hub sees it (docs/decisions/0037):
    each reserves its points there before a call and reports the store's throttleStatus after it.
    Times are on a clock every process shares (the client's clock must be it)."""

    async def reserve(self, local: CostBucket, cost: float, now: float) -> float:
        """Reserve `cost` points if the bucket holds them (0.0), else seconds to wait; `local` takes
        the shared level."""
        ...

    async def settle(
        self, local: CostBucket, cost: float, status: tuple[float, float, float] | None, now: float
    ) -> None:
        """The call that reserved `cost` ended; `status` is the answer's throttleStatus
        (maximumAvailable, currentlyAvailable, restoreRate), if it had one."""
        ...


@dataclass(frozen=True, slots=True)
class UserError:
    code: str | None
    field: tuple[str, ...]
    message: str


class ShopifyClient:
    def __init__(
        self,
        base_url: str,
        api_version: str,
        access_token: str,
        *,
        timeout_s: float = 30.0,
        bucket_size: float = DEFAULT_MAXIMUM,
        restore_rate: float = DEFAULT_RESTORE_RATE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        transport: httpx.AsyncBaseTransport | None = None,
        stats: CallStats | None = None,
        shared: SharedCostBucket | None = None,
    ) -> None:
        self._path = f"/admin/api/{api_version}/graphql.json"
        self.url = base_url.rstrip("/") + self._path
        self._clock = clock
        self._sleep = sleep
        # Auth, transport, deadline and the translation of refusals: the REST base (decision 0017).
        # Pacing by the cost bucket stays here: its cost is per operation and known after the answer.
        self._rest = RestClient(
            SYSTEM,
            base_url.rstrip("/"),
            auth=HeaderAuth(ACCESS_TOKEN_HEADER, access_token),
            headers={"Accept": "application/json"},
            timeout_s=timeout_s,
            read_error=read_error,
            needs_person=SHOPIFY_NEEDS_PERSON,
            transport=transport,
            stats=stats,
        )
        # The store's plan as configured, until the first answer's throttleStatus says better.
        self.bucket = CostBucket(bucket_size, bucket_size, restore_rate, as_of=clock())
        self._shared = shared  # with several worker processes: the bucket they all spend
        self._lock = asyncio.Lock()
        self._costs: dict[str, float] = {}  # operation → the requested cost the store last reported
        self.calls = 0  # HTTP requests sent
        self.throttled = 0  # THROTTLED answers met
        self.waited_s = 0.0  # time spent waiting for the bucket

    async def aclose(self) -> None:
        await self._rest.aclose()

    @property
    def shared(self) -> bool:
        """Whether the cost bucket is the one every worker process spends (kept in the database)."""
        return self._shared is not None

    def expected_cost(self, operation: str, estimate: float = TYPICAL_COST) -> float:
        """What a call of `operation` will ask of the bucket: the store's last word, else `estimate`."""
        return self._costs.get(operation, estimate)

    def bucket_level(self) -> float:
        """Points in the cost bucket now, as the client sees it (metrics)."""
        return self.bucket.level(self._clock())

    def budget_wait(self, cost: float = TYPICAL_COST) -> float:
        """Seconds until a call of `cost` points could start (0.0: now)."""
        return self.bucket.wait_for(cost, self._clock())

    async def execute(
        self,
        operation: str,
        query: str,
        variables: Mapping[str, Any] | None = None,
        *,
        cost: float = TYPICAL_COST,
    ) -> dict[str, Any]:
        """Run one GraphQL operation and return its `data`, waiting for the bucket before sending
        and after a THROTTLED answer. `cost` is the caller's estimate until the store reports it."""
        body = {"query": query, "variables": dict(variables or {})}
        for _ in range(MAX_THROTTLED_IN_A_ROW):
            expected = self.expected_cost(operation, cost)
            await self._take(expected)
            try:
                answer = await self._post(body)
            except Exception:
                self.bucket.release(expected)
                await self._settle_shared(expected, None)
                raise
            except BaseException:  # cancelled (a worker stopping): the reservation ends all the same
                self.bucket.release(expected)
                with contextlib.suppress(Exception):  # else forgotten once the row is left alone 60 s
                    await asyncio.shield(self._settle_shared(expected, None))
                raise
            self.bucket.release(expected)
            status: tuple[float, float, float] | None = None
            try:
                throttled, status = self._read_cost(operation, answer)
            finally:
                await self._settle_shared(expected, status)
            if not throttled:
                return _data(answer)
            self.throttled += 1
            if self._rest.stats is not None:
                self._rest.stats.throttled_answer()
        wait = self.bucket.wait_for(self.expected_cost(operation, cost), self._clock())
        raise RateLimitedError(
            SYSTEM, f"{operation}: THROTTLED {MAX_THROTTLED_IN_A_ROW} times", retry_after=wait
        )

    async def _take(self, cost: float) -> None:
        """Wait until the bucket holds `cost` points, then reserve them. Waiters queue on the lock,
        so each one's wait is computed after the one before it has reserved its points."""
        async with self._lock:
            if self._shared is not None:
                while (wait := await self._shared.reserve(self.bucket, cost, self._clock())) > 0:
                    self.waited_s += wait
                    await self._sleep(wait)
                self.bucket.in_flight += cost  # this process's own, released when answered
                return
            while (wait := self.bucket.wait_for(cost, self._clock())) > 0:
                self.waited_s += wait
                await self._sleep(wait)
            self.bucket.reserve(cost, self._clock())

    async def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        return await self._rest.json("GraphQL answer", "POST", self._path, json=body)

    async def _settle_shared(self, cost: float, status: tuple[float, float, float] | None) -> None:
        if self._shared is not None:
            await self._shared.settle(self.bucket, cost, status, self._clock())

    def _read_cost(
        self, operation: str, answer: dict[str, Any]
    ) -> tuple[bool, tuple[float, float, float] | None]:
        """Update the bucket from the answer's cost report: (the answer is THROTTLED, the bucket as
        the answer reports it: maximumAvailable, currentlyAvailable, restoreRate)."""
        seen: tuple[float, float, float] | None = None
        with expect_shape(SYSTEM, "extensions.cost"):
            cost = (answer.get("extensions") or {}).get("cost")
            if cost is not None:
                requested = cost.get("requestedQueryCost")
                if requested is not None:
                    self._costs[operation] = float(requested)
                status = cost["throttleStatus"]
                seen = (
                    float(status["maximumAvailable"]),
                    float(status["currentlyAvailable"]),
                    float(status["restoreRate"]),
                )
            throttled = any(code == "THROTTLED" for code, _, _ in _errors(answer))
            if throttled and cost is None:
                # No report to size the wait from: assume an empty bucket rather than retry at once.
                seen = (self.bucket.maximum, 0.0, self.bucket.restore_rate)
            if seen is not None:
                self.bucket.observe(*seen, self._clock())
            return throttled, seen


def _errors(answer: dict[str, Any]) -> list[tuple[str | None, str, str | None]]:
    """(code, message, path) of each top-level GraphQL error."""
    with expect_shape(SYSTEM, "errors"):
        raw = answer.get("errors") or []
        if not isinstance(raw, list):
            raise TypeError(f"errors is a {type(raw).__name__}")
        found = []
        for error in raw:
            code = (error.get("extensions") or {}).get("code")
            path = ".".join(str(part) for part in error.get("path") or []) or None
            found.append((None if code is None else str(code), str(error.get("message", "")), path))
        return found


def _data(answer: dict[str, Any]) -> dict[str, Any]:
    errors = _errors(answer)
    if errors:
        code, message, path = errors[0]
        detail = f"{code or 'error'}: {message}"[:300]
        if code in _RETRIABLE_CODES:
            raise RetriableError(SYSTEM, detail)
        if code in _PERSON_CODES:
            raise AuthenticationError(SYSTEM, detail)
        raise RejectedError(SYSTEM, detail, code=code, path=path)
    data = answer.get("data")
    if not isinstance(data, dict):
        raise MalformedResponseError(SYSTEM, "GraphQL answer without data or errors")
    return data


def user_errors(payload: Any, what: str) -> list[UserError]:
    """The `userErrors` of a mutation payload (`{code, field, message}`)."""
    with expect_shape(SYSTEM, f"{what} userErrors"):
        found = []
        for error in payload["userErrors"]:
            code = error.get("code")
            field = tuple(str(part) for part in error.get("field") or ())
            found.append(UserError(None if code is None else str(code), field, str(error["message"])))
        return found


def rejection(errors: Sequence[UserError], what: str, *, path: str | None = None) -> RejectedError:
    """The user errors of a mutation as one RejectedError (the first one's code and field path)."""
    first = errors[0]
    message = "; ".join(f"{e.code or 'error'} at {'.'.join(e.field) or '-'}: {e.message}" for e in errors)
    field = ".".join(first.field) or None
    return RejectedError(SYSTEM, f"{what}: {message}"[:500], code=first.code, path=path or field)


def read_error(response: httpx.Response) -> ErrorBody:
    """Shopify's refusal bodies: `{"errors": "..."}` (401, 404) or `{"errors": [{"message", ...}]}`."""
    errors = response.json()["errors"]
    if isinstance(errors, list):
        first = errors[0]
        return ErrorBody(str(first["message"]), code=(first.get("extensions") or {}).get("code"))
    return ErrorBody(str(errors))
