"""The demo's per-channel summary: figures grouped by channel, each row naming its source, and a
verdict that fails on any channel's drift, order mismatch or fulfilment problem."""

from __future__ import annotations

from typing import Any

from stockbridge.demo import succeeded
from stockbridge.demo.channels import (
    HUB,
    ORACLE,
    SIMULATOR,
    channel_rows,
    channel_summary,
    held_by_channel,
)
from stockbridge.oracle import Drift

HUB_FIGURES = {"received": 12, "pushes": 3, "lines_pushed": 40, "latency_ms": {"p50": 5, "p95": 9, "p99": 11}}
ORDERS = {
    "released": 10,
    "cancelled": 1,
    "held": {"unmapped_ship_method": 1},
    "held_expected": {},
    "mismatches": 0,
}
FULFILMENTS = {"with_tracking": 9, "shipments": 9, "problems": 0, "examples": {}}


def _channel(drift: Drift, **orders: Any) -> dict[str, Any]:
    return channel_summary(HUB_FIGURES, {**ORDERS, **orders}, FULFILMENTS, 80, 2, drift, failed=3)


def test_held_orders_are_counted_per_channel_and_reason() -> None:
    held = [("ims", "unknown_item"), ("shopify", "unmapped_ship_method"), ("ims", "unknown_item")]
    assert held_by_channel(held) == {"ims": {"unknown_item": 2}, "shopify": {"unmapped_ship_method": 1}}


def test_a_channel_carries_the_keys_the_json_promises() -> None:
    channel = _channel(Drift(0, 0, []))
    assert {"orders", "fulfilments", "pushes", "calls", "throttled", "latency_ms", "drift"} <= set(channel)
    assert channel["orders"]["received"] == 12  # the hub's count beside the oracle's
    assert (channel["calls"], channel["throttled"], channel["failed"], channel["drift"]) == (80, 2, 3, 0)


def test_every_row_names_its_channel_and_source() -> None:
    rows = channel_rows("shopify", _channel(Drift(1, 2, [("SKU-1", "gid://shopify/Location/1", 3, 1)])))
    assert all(what.startswith("shopify: ") for what, _, _ in rows)
    sources = {what.removeprefix("shopify: "): source for what, _, source in rows}
    assert sources["drift (SKUs / units)"] == ORACLE
    assert sources["calls / throttles met / failures met (5xx)"] == SIMULATOR
    assert sources["pushes / lines"] == HUB
    assert dict((w, v) for w, v, _ in rows)["shopify: drift (SKUs / units)"] == "1 / 2"


def test_the_verdict_fails_on_any_channels_problem() -> None:
    clean = {"ims": _channel(Drift(0, 0, [])), "shopify": _channel(Drift(0, 0, []))}
    answered = {"answered": True, "series": 40, "latency_histogram_count": {"ims": 3}}
    assert succeeded({"drift": 0, "channels": clean, "metrics": answered})
    mismatched = {**clean, "shopify": _channel(Drift(0, 0, []), mismatches=1)}
    assert not succeeded({"drift": 0, "channels": mismatched, "metrics": answered})
    broken = {**clean, "shopify": {**clean["shopify"], "fulfilments": {**FULFILMENTS, "problems": 1}}}
    assert not succeeded({"drift": 0, "channels": broken, "metrics": answered})


def test_the_verdict_fails_when_the_hubs_metrics_did_not_answer() -> None:
    clean = {"ims": _channel(Drift(0, 0, []))}
    assert not succeeded({"drift": 0, "channels": clean, "metrics": {"answered": False, "status": 401}})
    assert not succeeded({"drift": 0, "channels": clean})  # never scraped
    assert not succeeded({"drift": 1, "channels": clean})


def test_a_magento_channel_shows_its_bundle_orders_de_kitted() -> None:
    rows = channel_rows("magento", _channel(Drift(0, 0, []), bundle_orders=5, bundles_dekitted=4))
    found = {what: (value, source) for what, value, source in rows}
    assert found["magento: bundle orders in Clarus as their components / placed"] == ("4 / 5", ORACLE)
    assert not any("bundle" in what for what, _, _ in channel_rows("shopify", _channel(Drift(0, 0, []))))
