"""SLO configuration and the pure parts of the latency and backlog checks."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.factories import config

from stockbridge.config import ConfigError, LatencyTarget
from stockbridge.monitor.backlog import FlowBacklog
from stockbridge.monitor.metrics import latency_family
from stockbridge.monitor.slo import is_stalled, judge_latency
from stockbridge.store.bookkeeping import INF_BUCKET, LATENCY_BUCKETS_MS, LatencyBucket, latency_bucket


def test_a_latency_target_for_a_channel_that_does_not_exist_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"slo\.latency_ms\.shopfy: 'shopfy' is no stock channel"):
        config(slo={"latency_ms": {"shopfy": {"p95": 1000, "p99": 2000}}})


def test_a_backlog_target_for_an_unknown_flow_names_the_key() -> None:
    with pytest.raises(ConfigError, match=r"slo\.backlog_age_s.*backlog_age_s\.inbx: no such flow"):
        config(slo={"backlog_age_s": {"inbx": 60}})


def test_p99_below_p95_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"slo\.latency_ms\.ims.*p99 \(100\.0\) is below p95"):
        config(slo={"latency_ms": {"ims": {"p95": 200, "p99": 100}}})


def test_a_channel_without_its_own_target_gets_the_default_even_when_default_is_not_written() -> None:
    slo = config(slo={"latency_ms": {"ims": {"p95": 1, "p99": 2}}}).slo
    assert slo.latency_target("ims") == LatencyTarget(p95=1, p99=2)
    assert slo.latency_target("elsewhere") == LatencyTarget()


def test_backlog_targets_go_flow_then_family_then_default_and_skip_waiting_families() -> None:
    slo = config(slo={"backlog_age_s": {"default": 100, "targets": 50, "targets.ims": 10, "inbox": None}}).slo
    assert slo.backlog_age_target("targets.ims") == 10
    assert slo.backlog_age_target("targets.shopify") == 50
    assert slo.backlog_age_target("order_commands") == 100
    assert slo.backlog_age_target("inbox.inventory.movement") is None  # turned off
    assert slo.backlog_age_target("held_orders.ims") is None  # waits for a person: only when named
    assert slo.backlog_age_target("parked_shipments") is None


def test_owners_go_name_then_family_then_the_exception_types_owner() -> None:
    cfg = config(slo={"owners": {"targets": "ecommerce", "targets.ims": "finance"}})
    assert cfg.slo.owner_of("targets.ims", "backlog_stalled", cfg.owners) == "finance"
    assert cfg.slo.owner_of("targets.shop", "backlog_stalled", cfg.owners) == "ecommerce"
    assert cfg.slo.owner_of("inbox.x", "backlog_stalled", cfg.owners) == cfg.owners.backlog_stalled


@given(st.integers(min_value=0, max_value=10**9))
def test_a_latency_counts_in_the_smallest_bucket_that_holds_it(latency_ms: int) -> None:
    bucket = latency_bucket(latency_ms)
    bounds = [*LATENCY_BUCKETS_MS, math.inf]
    upper = math.inf if bucket == INF_BUCKET else float(bucket)
    assert latency_ms <= upper
    below = [b for b in bounds if b < upper]
    assert not below or latency_ms > below[-1]


def test_judging_latency_breaches_on_either_percentile_and_not_without_samples() -> None:
    target = LatencyTarget(p95=1000, p99=5000)
    assert not judge_latency("ims", [100.0] * 98 + [4000.0] * 2, target).breached  # p99 4000 < 5000
    assert not judge_latency("ims", [*[100.0] * 99, 6000.0], target).breached  # 1 in 100: p99 is 100
    assert judge_latency("ims", [100.0] * 98 + [6000.0] * 2, target).breached  # p99 = 6000
    assert judge_latency("ims", [2000.0] * 10, target).breached  # p95 = 2000
    assert not judge_latency("ims", [], target).breached


def test_a_flow_is_stalled_only_past_a_target_it_has() -> None:
    old = FlowBacklog("order_commands", 3, 700.0)
    assert is_stalled(old, 600)
    assert not is_stalled(old, 700)  # at the target is within it
    assert not is_stalled(old, None)
    assert not is_stalled(FlowBacklog("order_commands", 0, None), 1)


def test_histogram_buckets_are_cumulative_and_a_dropped_bound_counts_above_it() -> None:
    counted = [
        LatencyBucket("ims", 100, 2, 150),
        LatencyBucket("ims", 7_000, 1, 6_500),  # a bound the code does not have (any longer)
        LatencyBucket("ims", math.inf, 1, 900_000),
    ]
    family = latency_family(["ims", "shop"], counted)
    buckets = {
        (s.labels["channel"], s.labels["le"]): s.value for s in family.samples if s.name.endswith("_bucket")
    }
    assert buckets[("ims", "0.1")] == 2
    assert buckets[("ims", "5.0")] == 2
    assert buckets[("ims", "10.0")] == 3
    assert buckets[("ims", "+Inf")] == 4
    assert buckets[("shop", "+Inf")] == 0  # a channel with nothing acknowledged yet is still there
    sums = {s.labels["channel"]: s.value for s in family.samples if s.name.endswith("_sum")}
    assert sums == {"ims": (150 + 6_500 + 900_000) / 1000, "shop": 0}
