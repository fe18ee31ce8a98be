"""Connector health: circuit state, error rate and throttling per connector, as exceptions their owner
sees (DESIGN.md section 4) and as Prometheus metrics (docs/decisions/0025).

Single failures are normal (retries absorb them); `connector_health.open_after_failures` consecutive
failures of a loop step or scheduled job open the connector's circuit and `connector_failing`, and
the first success makes it half-open, and `close_after_s` without a failure closes it and resolves
it (`domain/circuit.py`). Every call's outcome is counted by the connector itself (`CallStats`); a
connector whose throttled share stays over `throttled_share` for `throttled_for_s` opens
`connector_throttled`, resolved once it falls below. State is this process's view (each worker
judges the calls it makes); the exceptions are shared in the database.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from stockbridge.config import Config
from stockbridge.connectors.errors import ConnectorError
from stockbridge.connectors.http import RateLimiter
from stockbridge.connectors.rest.calls import CallStats
from stockbridge.connectors.shopify import ShopifyClient
from stockbridge.domain import circuit
from stockbridge.domain.circuit import Circuit, CircuitState, ThrottleRule
from stockbridge.engine.clock import Clock
from stockbridge.engine.db import in_transaction
from stockbridge.store.bookkeeping import raise_exception, resolve_exceptions

EXCEPTION_TYPE = "connector_failing"
THROTTLED = "connector_throttled"
HUB = "hub"  # scheduled jobs that call no connector count their successes under this name


def connector_entity(system: str) -> str:
    return f"connector:{system}"


class ConnectorHealth:
    def __init__(
        self,
        engine: Engine,
        config: Config,
        clock: Clock,
        *,
        stats: Mapping[str, CallStats] | None = None,
    ) -> None:
        self._engine = engine
        self._config = config
        self._clock = clock
        settings = config.connector_health
        self._open_after = settings.open_after_failures
        self._close_after_s = settings.close_after_s
        self._throttle = ThrottleRule(settings.throttled_share, settings.throttled_for_s, settings.min_calls)
        self.stats = dict(stats or {})
        self._circuits: dict[str, CircuitState] = {}
        self._seen_working: set[str] = set()  # systems this process has seen succeed at least once
        self._throttled_since: dict[str, datetime | None] = {}
        self._throttle_raised: set[str] = set()
        self._throttle_reviewed: set[str] = set()

    def circuit(self, system: str) -> Circuit:
        return self._circuits.get(system, CircuitState()).circuit

    def systems(self) -> list[str]:
        """Every connector this health knows of: those it counts calls for, and those that failed."""
        return sorted({*self.stats, *self._circuits} - {HUB})

    async def failed(self, error: ConnectorError, system: str | None = None) -> None:
        """One more failure of `system` (a stock channel's name for its push loop; by default the
        system the error names), counted under the same key `succeeded` clears."""
        system = system or error.system
        state = circuit.failed(self._circuits.get(system, CircuitState()), self._open_after)
        self._circuits[system] = state
        if state.circuit is not Circuit.OPEN:
            return
        now = self._clock.now()
        await in_transaction(
            self._engine,
            lambda c: raise_exception(
                c,
                type=EXCEPTION_TYPE,
                entity=connector_entity(system),
                owner=self._config.owners.owner_of(EXCEPTION_TYPE),
                detail=f"{state.failures} consecutive failures, circuit open; last: {error.message}",
                now=now,
                retry_action="automatic: work retries with backoff; check the system's status, credentials",
            ),
        )

    async def succeeded(self, system: str) -> None:
        before = self._circuits.get(system, CircuitState())
        after = circuit.succeeded(before, self._clock.now(), self._close_after_s)
        # The first success this process sees also resolves what another process, or this one before
        # a restart, left open.
        first = system not in self._seen_working
        self._seen_working.add(system)
        await self._move(system, before, after, resolve=first)

    async def _move(self, system: str, before: CircuitState, after: CircuitState, *, resolve: bool) -> None:
        """Keep the circuit's new state; resolve `connector_failing` when it closed (or `resolve`)."""
        self._circuits[system] = after
        if after.circuit is Circuit.CLOSED and (before.circuit is not Circuit.CLOSED or resolve):
            await in_transaction(
                self._engine, lambda c: resolve_exceptions(c, EXCEPTION_TYPE, [connector_entity(system)])
            )

    async def review(self) -> None:
        """Close half-open circuits that have gone long enough without a failure; judge each
        connector's throttled share over the window: raise `connector_throttled` once it has stayed
        over the threshold long enough, resolve it once it is below. Called every tick."""
        now = self._clock.now()
        for system, state in list(self._circuits.items()):
            await self._move(system, state, circuit.settled(state, now, self._close_after_s), resolve=False)
        for system, stats in self.stats.items():
            await self._review_throttling(system, stats, now)

    async def _review_throttling(self, system: str, stats: CallStats, now: datetime) -> None:
        window = stats.window()
        since = circuit.throttled_since(
            self._throttle, self._throttled_since.get(system), now, window.calls, window.throttled
        )
        self._throttled_since[system] = since
        first = system not in self._throttle_reviewed
        self._throttle_reviewed.add(system)
        if since is not None and system not in self._throttle_raised:
            if circuit.throttled_too_long(self._throttle, since, now):
                self._throttle_raised.add(system)
                detail = (
                    f"{window.throttled} of {window.calls} calls in the last {stats.window_s:g} s were "
                    f"throttled (429, Retry-After or THROTTLED), at or over {self._throttle.share:.0%} "
                    f"since {since:%Y-%m-%d %H:%M:%S} UTC"
                )
                await self._raise_throttled(system, detail, now)
        elif since is None and (system in self._throttle_raised or first):
            # Below again; or the first look this process takes (one left open before a restart).
            self._throttle_raised.discard(system)
            await in_transaction(
                self._engine, lambda c: resolve_exceptions(c, THROTTLED, [connector_entity(system)])
            )

    async def _raise_throttled(self, system: str, detail: str, now: datetime) -> None:
        await in_transaction(
            self._engine,
            lambda c: raise_exception(
                c,
                type=THROTTLED,
                entity=connector_entity(system),
                owner=self._config.owners.owner_of(THROTTLED),
                detail=detail,
                now=now,
                retry_action="automatic: the hub slows down; lower this hub's call rate or find what "
                "else spends the same account's limit",
            ),
        )


class ConnectorMetrics(Collector):
    """Each connector's circuit state, error rate and throttled share over the window, and its calls,
    failures and throttled calls since start, read at scrape time."""

    def __init__(self, health: ConnectorHealth) -> None:
        self._health = health

    def collect(self) -> Iterator[Metric]:
        state = GaugeMetricFamily(
            "stockbridge_connector_circuit_state",
            "Circuit state: 0 closed, 1 half-open, 2 open",
            labels=["system"],
        )
        error_rate = GaugeMetricFamily(
            "stockbridge_connector_error_rate",
            "Share of calls that failed (transport, timeout, 5xx, credentials) over the window",
            labels=["system"],
        )
        throttled_share = GaugeMetricFamily(
            "stockbridge_connector_throttled_share",
            "Share of calls throttled (429, Retry-After, THROTTLED) over the window",
            labels=["system"],
        )
        calls = CounterMetricFamily("stockbridge_connector_calls", "Calls sent", labels=["system"])
        failures = CounterMetricFamily(
            "stockbridge_connector_failures", "Calls that failed", labels=["system"]
        )
        throttled = CounterMetricFamily(
            "stockbridge_connector_throttled", "Calls the far end throttled", labels=["system"]
        )
        for system in self._health.systems():
            state.add_metric([system], int(self._health.circuit(system)))
            stats = self._health.stats.get(system)
            if stats is None:
                continue
            window = stats.window()
            error_rate.add_metric([system], window.error_rate)
            throttled_share.add_metric([system], window.throttled_share)
            calls.add_metric([system], stats.calls)
            failures.add_metric([system], stats.failures)
            throttled.add_metric([system], stats.throttled)
        yield from (state, error_rate, throttled_share, calls, failures, throttled)


class LimiterMetrics(Collector):
    """Each far API limiter's current rate, calls and refusals for load, read at scrape time."""

    def __init__(self, limiters: Mapping[str, RateLimiter]) -> None:
        self._limiters = dict(limiters)

    def collect(self) -> Iterator[Metric]:
        rate = GaugeMetricFamily(
            "stockbridge_far_api_rate", "Calls per second the limiter allows now", labels=["system"]
        )
        calls = CounterMetricFamily("stockbridge_far_api_calls", "Calls started", labels=["system"])
        refusals = CounterMetricFamily(
            "stockbridge_far_api_refusals",
            "Calls the far end refused for load (429 or Retry-After)",
            labels=["system"],
        )
        for system, limiter in sorted(self._limiters.items()):
            rate.add_metric([system], limiter.rate)
            calls.add_metric([system], limiter.calls)
            refusals.add_metric([system], limiter.refusals)
        yield from (rate, calls, refusals)


class StorefrontMetrics(Collector):
    """Each storefront's GraphQL calls, THROTTLED answers met, time spent waiting for its cost
    bucket and the bucket's level as the hub sees it, by channel name, read at scrape time."""

    def __init__(self, clients: Mapping[str, ShopifyClient]) -> None:
        self._clients = dict(clients)

    def collect(self) -> Iterator[Metric]:
        calls = CounterMetricFamily("stockbridge_store_api_calls", "GraphQL calls sent", labels=["channel"])
        throttled = CounterMetricFamily(
            "stockbridge_store_api_throttled", "THROTTLED answers met (each waited out)", labels=["channel"]
        )
        waited = CounterMetricFamily(
            "stockbridge_store_api_waited_seconds",
            "Time spent waiting for the cost bucket",
            labels=["channel"],
        )
        level = GaugeMetricFamily(
            "stockbridge_store_api_bucket_points",
            "Points in the cost bucket now, as last reported",
            labels=["channel"],
        )
        for channel, client in sorted(self._clients.items()):
            calls.add_metric([channel], client.calls)
            throttled.add_metric([channel], client.throttled)
            waited.add_metric([channel], client.waited_s)
            level.add_metric([channel], client.bucket_level())
        yield from (calls, throttled, waited, level)
