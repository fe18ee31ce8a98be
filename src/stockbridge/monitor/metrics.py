"""Metrics read from the database at scrape time, so every process's /metrics says the same
(decision 0026): the movement → acknowledged histogram per channel, and each flow's backlog."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator, Sequence

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from stockbridge.config import Config
from stockbridge.engine.clock import Clock
from stockbridge.monitor.backlog import FlowBacklog, read_backlog
from stockbridge.store.bookkeeping import LATENCY_BUCKETS_MS, LatencyBucket, latency_histogram

LATENCY_METRIC = "stockbridge_movement_ack_latency_seconds"
BACKLOG_SIZE_METRIC = "stockbridge_backlog_items"
BACKLOG_AGE_METRIC = "stockbridge_backlog_oldest_age_seconds"


def latency_family(channels: Sequence[str], counted: Sequence[LatencyBucket]) -> HistogramMetricFamily:
    """Cumulative buckets per channel from the stored per-bucket counts. A count stored under a bound
    the code no longer has counts in every bucket at or above it, so changing the bounds keeps each
    bucket's meaning (at most this many at or below it)."""
    family = HistogramMetricFamily(
        LATENCY_METRIC,
        "Warehouse movement to the channel's acknowledgement of the push that carried it",
        labels=["channel"],
    )
    by_channel: dict[str, list[LatencyBucket]] = defaultdict(list)
    for bucket in counted:
        by_channel[bucket.channel].append(bucket)
    for channel in dict.fromkeys([*channels, *sorted(by_channel)]):
        rows = by_channel.get(channel, [])
        buckets: list[tuple[str, float]] = []
        for bound_ms in (*LATENCY_BUCKETS_MS, math.inf):
            cumulative = sum(r.samples for r in rows if r.le_ms <= bound_ms)
            buckets.append((_le(bound_ms), cumulative))
        family.add_metric([channel], buckets, sum_value=sum(r.sum_ms for r in rows) / 1000)
    return family


def backlog_families(backlog: Sequence[FlowBacklog]) -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
    size = GaugeMetricFamily(BACKLOG_SIZE_METRIC, "Items waiting in each flow", labels=["flow"])
    age = GaugeMetricFamily(
        BACKLOG_AGE_METRIC, "How long the oldest item of each flow has waited (0 when empty)", labels=["flow"]
    )
    for row in backlog:
        size.add_metric([row.flow], row.size)
        age.add_metric([row.flow], row.oldest_age_s or 0.0)
    return size, age


def _le(bound_ms: float) -> str:
    """A bucket's `le` label in seconds, as Prometheus writes it (0.25, 1.0, +Inf)."""
    return "+Inf" if math.isinf(bound_ms) else repr(bound_ms / 1000)


class StoredMetrics(Collector):
    """The latency histogram and the backlog gauges, read in one transaction per scrape."""

    def __init__(self, engine: Engine, config: Config, clock: Clock) -> None:
        self._engine = engine
        self._config = config
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        now = self._clock.now()
        with self._engine.begin() as connection:
            counted = latency_histogram(connection)
            backlog = read_backlog(connection, self._config, now)
        yield latency_family(self._config.stock_channels(), counted)
        yield from backlog_families(backlog)
