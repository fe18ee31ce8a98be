"""How bench/latency.py measures movement → acknowledgement from the simulators' own records: each
movement that changed a channel's figure is acknowledged when the channel first shows its figure or
that of a later movement already made (coalescing), never by a figure from before it."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from latency import (
    Version,
    acknowledged_at,
    ims_shown,
    movement_latencies,
    percentiles,
    shopify_shown,
    warehouse_versions,
)

TEN = datetime(2026, 11, 30, 10, 0, tzinfo=UTC).timestamp()


def _event(sequence: int, sku: str, at: str, **balances: int) -> dict[str, object]:
    return {
        "type": "inventory.movement",
        "data": {
            "warehouse_id": "WH1",
            "sequence": sequence,
            "sku": sku,
            "occurred_at": at,
            "balances": [{"status": s, "quantity": q} for s, q in balances.items()],
        },
    }


def test_versions_sum_the_counted_statuses_from_the_absolute_balances() -> None:
    events = [
        _event(2, "A", "2026-11-30T10:00:01Z", available=7, allocated=3),
        _event(1, "A", "2026-11-30T10:00:00Z", available=10),
        _event(3, "A", "2026-11-30T10:00:02Z", allocated=1, picked=2),
        _event(4, "B", "2026-11-30T10:00:03Z", available=5),
    ]
    versions = warehouse_versions(events, "WH1", frozenset({"available", "allocated", "picked"}))
    assert [(v.sequence, v.figure) for v in versions["A"]] == [(1, 10), (2, 10), (3, 10)]
    only_available = warehouse_versions(events, "WH1", frozenset({"available"}))
    assert [v.figure for v in only_available["A"]] == [10, 7, 7]


def test_a_push_of_the_figure_acknowledges_the_movement() -> None:
    versions = [Version(1, 100.0, 5), Version(2, 101.0, 8)]
    shown = [(100.2, 5), (101.3, 8)]
    assert acknowledged_at(versions, 0, shown) == 100.2
    assert acknowledged_at(versions, 1, shown) == 101.3


def test_a_stale_figure_in_flight_does_not_acknowledge_a_newer_movement() -> None:
    versions = [Version(1, 100.0, 5), Version(2, 100.1, 8)]
    shown = [(100.2, 5), (100.5, 8)]  # the push of 5 lands after movement 2 was made
    assert acknowledged_at(versions, 1, shown) == 100.5


def test_coalesced_movements_are_acknowledged_by_the_push_of_the_later_figure() -> None:
    versions = [Version(1, 100.0, 5), Version(2, 100.1, 8)]
    shown = [(100.4, 8)]
    assert acknowledged_at(versions, 0, shown) == 100.4
    # A movement undone before anything was pushed is shown as soon as it is undone.
    undone = [Version(1, 100.0, 0), Version(2, 100.05, 5), Version(3, 100.1, 0)]
    assert acknowledged_at(undone, 1, []) == 100.1


def test_latencies_skip_movements_that_left_the_figure_and_count_those_never_shown() -> None:
    versions = {
        "A": [Version(1, 99.0, 4), Version(2, 100.0, 5), Version(3, 100.5, 5)],
        "B": [Version(4, 100.2, 3)],
    }
    shown = {"A": [(99.1, 4), (100.25, 5)]}
    latencies = movement_latencies(versions, shown, since=100.0)
    assert latencies.measured == [pytest.approx(250.0)]  # A's 2nd; its 3rd changed nothing; A's 1st too early
    assert latencies.unacknowledged == 1  # B never shown


def test_channel_logs_give_each_skus_figures_over_time() -> None:
    adjustments = [
        {"at": "2026-11-30T10:00:00.5Z", "lines": [{"itemId": "A", "location": "6", "onHand": 4},
                                                    {"itemId": "A", "location": "7", "onHand": 1}]},
    ]  # fmt: skip
    assert ims_shown(adjustments, "6") == {"A": [(pytest.approx(TEN + 0.5), 4)]}
    mutations = [
        {
            "at": "2026-11-30T10:00:00.250000+00:00",
            "sku": "A",
            "location_id": "L1",
            "name": "available",
            "to": 3,
        },
        {"at": "2026-11-30T10:00:01+00:00", "sku": "A", "location_id": "L1", "name": "on_hand", "to": 9},
    ]
    assert shopify_shown(mutations, "L1") == {"A": [(pytest.approx(TEN + 0.25), 3)]}


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentiles(values) == {"p50": 50.0, "p95": 95.0, "p99": 99.0, "max": 100.0}
    assert percentiles([]) == {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
