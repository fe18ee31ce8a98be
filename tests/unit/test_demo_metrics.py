"""The demo's /metrics block is read from a scrape: the exposition text the hub's own collectors
write, parsed with prometheus_client's parser; a refused scrape is reported, not counted."""

from __future__ import annotations

import math
from collections.abc import Iterator

import httpx
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from stockbridge.demo import HubControl, metrics_summary
from stockbridge.monitor.backlog import FlowBacklog
from stockbridge.monitor.metrics import backlog_families, latency_family
from stockbridge.store.bookkeeping import LATENCY_BUCKETS_MS, LatencyBucket

BUCKETS = [
    LatencyBucket("ims", 250, 3, 600),
    LatencyBucket("ims", 2_500, 2, 3_000),
    LatencyBucket("shopify", 1_000, 4, 2_000),
    LatencyBucket("shopify", math.inf, 1, 700_000),
]
BACKLOG = [FlowBacklog("inbox.inventory.movement", 7, 1.5), FlowBacklog("order_commands", 0, None)]


class _Stored(Collector):
    """What the hub's StoredMetrics yields, from fixed rows instead of its database."""

    def collect(self) -> Iterator[Metric]:
        yield latency_family(["ims", "shopify", "magento"], BUCKETS)
        yield from backlog_families(BACKLOG)


def _exposition() -> str:
    registry = CollectorRegistry()
    registry.register(_Stored())
    return generate_latest(registry).decode()


def test_the_summary_counts_what_the_scrape_holds() -> None:
    found = metrics_summary(_exposition())
    assert found["answered"] is True
    # Each channel's count is its samples, whatever bucket they fell in; a channel with none says 0.
    expected = {"ims": 0, "shopify": 0, "magento": 0}
    for bucket in BUCKETS:
        expected[bucket.channel] += bucket.samples
    assert found["latency_histogram_count"] == expected
    assert found["backlog_items"] == {row.flow: row.size for row in BACKLOG}
    # Per channel: a bucket per bound and +Inf, a count, a sum; per flow: its size and its age.
    buckets = len(LATENCY_BUCKETS_MS) + 1
    assert found["series"] == 3 * (buckets + 2) + 2 * len(BACKLOG)


def test_a_scrape_with_the_viewer_token_is_summarised_and_a_refused_one_reported() -> None:
    seen: list[str] = []

    def hub(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        if request.headers["Authorization"] != "Bearer viewer-token":
            return httpx.Response(401, json={"error": "unauthorized"})
        return httpx.Response(200, text=_exposition())

    http = httpx.Client(transport=httpx.MockTransport(hub))
    scraped = HubControl(http, "http://127.0.0.1:1", "operator-token", "viewer-token").scrape_metrics()
    assert scraped["answered"] is True
    assert scraped["latency_histogram_count"]["shopify"] == 5
    refused = HubControl(http, "http://127.0.0.1:1", "operator-token", "wrong-token").scrape_metrics()
    assert refused == {"answered": False, "status": 401}
    assert seen == ["Bearer viewer-token", "Bearer wrong-token"]
