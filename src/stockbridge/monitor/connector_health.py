"""A connector failing call after call becomes an exception its owner sees (DESIGN.md section 4).

Single failures are normal (retries absorb them); `threshold` consecutive failures open
`connector_failing` for that system, and the next success resolves it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from stockbridge.config import Config
from stockbridge.connectors.errors import ConnectorError
from stockbridge.connectors.http import RateLimiter
from stockbridge.connectors.shopify import ShopifyClient
from stockbridge.engine.clock import Clock
from stockbridge.engine.db import in_transaction
from stockbridge.store.bookkeeping import raise_exception, resolve_exceptions

EXCEPTION_TYPE = "connector_failing"


class ConnectorHealth:
    def __init__(self, engine: Engine, config: Config, clock: Clock, threshold: int = 3) -> None:
        self._engine = engine
        self._config = config
        self._clock = clock
        self._threshold = threshold
        self._failures: Counter[str] = Counter()

    async def failed(self, error: ConnectorError, system: str | None = None) -> None:
        """One more failure of `system` (a stock channel's name for its push loop; by default the
        system the error names), counted under the same key `succeeded` clears."""
        system = system or error.system
        self._failures[system] += 1
        if self._failures[system] < self._threshold:
            return
        count, now = self._failures[system], self._clock.now()
        await in_transaction(
            self._engine,
            lambda c: raise_exception(
                c,
                type=EXCEPTION_TYPE,
                entity=f"connector:{system}",
                owner=self._config.owners.owner_of(EXCEPTION_TYPE),
                detail=f"{count} consecutive failures; last: {error.message}",
                now=now,
                retry_action="automatic: work retries with backoff; check the system's status, credentials",
            ),
        )

    async def succeeded(self, system: str) -> None:
        if self._failures.pop(system, 0) >= self._threshold:
            await in_transaction(
                self._engine, lambda c: resolve_exceptions(c, EXCEPTION_TYPE, [f"connector:{system}"])
            )


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
