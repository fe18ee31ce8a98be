"""A Magento store wired in, end to end over real HTTP on SQLite and PostgreSQL: Magento simulator
orders (polled by `updated_at`) → hub → Clarus simulator (route clarus) or → IMS simulator → Clarus
(route ims); Clarus despatches → hub → Magento shipments with tracking; Clarus stock → hub → MSI
source items.

What Clarus and Magento should hold is worked out in the tests from what they placed and from the
simulators' own state (`stockbridge.oracle.magento`), never from the hub's rules.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from tests.e2e.stack import MAGENTO_SOURCE, Stack, stack, wait_until

from stockbridge.demo.harness import oracle_settings
from stockbridge.demo.traffic import Traffic, sku_name
from stockbridge.oracle import OrderReport, check_magento_orders, expected_figures
from stockbridge.oracle.magento import ShipmentReport, check_magento_shipments
from stockbridge.store.bookkeeping import list_exceptions, read_counters
from stockbridge.store.schema import fulfilment_commands

pytestmark = pytest.mark.slow

SKUS = ["MUG-1", "TEA-2", "SPOON-3", "SHIRT-M"]
SHIP_METHODS = {"Flat Rate - Fixed": "STD", "UPS Ground": "STD"}


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[Stack]:
    with stack(db_url, tmp_path, magento=True) as s:
        s.create_items(SKUS)
        s.overrides = {"orders.ship_methods": SHIP_METHODS}
        s.subscribe()  # Clarus's webhooks (order statuses, shipments) reach the hub from its start
        yield s


# --- what the tests expect, from what they placed ----------------------------------------------------
def _wanted(spec: list[dict[str, Any]]) -> list[tuple[str, str, int]]:
    """(line_ref, SKU, quantity) Clarus should hold for an order placed with these items: a bundle's
    components each for bundles × per-bundle quantity, a configurable as its simple, numbered in
    the order they were placed."""
    units: list[tuple[str, int]] = []
    for item in spec:
        if "bundle" in item:
            units += [(c["sku"], item["qty"] * c["qty"]) for c in item["components"]]
        else:
            units.append((item["sku"], item["qty"]))
    return sorted((str(n), sku, qty) for n, (sku, qty) in enumerate(units, start=1))


def _lines(order: dict[str, Any]) -> list[tuple[str, str, int]]:
    return sorted((line["line_ref"], line["sku"], int(line["quantity"])) for line in order["lines"])


def _reference(order: dict[str, Any]) -> str:
    return "MAG-" + str(order["increment_id"])


def _report(env: Stack, frozen: dict[str, Any] | None = None) -> OrderReport:
    truth = env.truth()
    settings = oracle_settings(env.config)
    return check_magento_orders(
        env.magento_orders(),
        truth.clarus_orders,
        truth.catalog(settings),
        settings,
        prefix="MAG-",
        frozen=frozen,
    )


def _shipments_report(env: Stack, ims: bool = False) -> ShipmentReport:
    orders = [env.magento_order(o["entity_id"]) for o in env.magento_orders()]
    truth = env.truth()
    return check_magento_shipments(
        orders, truth.clarus_shipments, prefix="MAG-", ims_orders=truth.ims_orders if ims else None
    )


def _exceptions(env: Stack) -> dict[tuple[str, str], str]:
    engine = create_engine(env.database_url)
    with engine.connect() as c:
        found = {(e.type, e.entity): e.owner for e in list_exceptions(c) if e.state.value == "open"}
    engine.dispose()
    return found


def _counters(env: Stack) -> dict[str, int]:
    engine = create_engine(env.database_url)
    with engine.connect() as c:
        counters = read_counters(c)
    engine.dispose()
    return counters


def _commands(env: Stack) -> list[tuple[str, str, int]]:
    engine = create_engine(env.database_url)
    with engine.connect() as c:
        t = fulfilment_commands.c
        rows = [
            (r.shipment_id, r.kind, int(r.attempts))
            for r in c.execute(select(t.shipment_id, t.kind, t.attempts))
        ]
    engine.dispose()
    return sorted(rows)


def _settled(env: Stack) -> bool:
    health = env.health()
    pending = [health.get(k, {}).get("pending") for k in ("fulfilment_commands", "storefront_order_commands")]
    return env.orders_settled() and not any(pending)


def _wait(env: Stack, condition: Any, what: str, timeout_s: float = 30) -> None:
    try:
        wait_until(condition, timeout_s, what)
    except AssertionError as exc:
        health = env.health()
        state = {k: health.get(k) for k in ("orders", "shipments", "fulfilment_commands", "inbox_pending")}
        raise AssertionError(f"{exc}: {state} {_commands(env)} {sorted(_exceptions(env))}") from None


def _despatch(
    env: Stack, reference: str, shipment: str, number: str, lines: list[tuple[str, int]] | None
) -> None:
    url = f"{env.clarus_url}/_control/orders/{reference}"
    env.http.post(f"{url}/advance", json={"status": "released"})  # already released: refused, harmless
    body: dict[str, Any] = {"shipment_id": shipment, "carrier": "UPS", "tracking_numbers": [number]}
    if lines is not None:
        body["lines"] = [{"line_ref": ref, "quantity": qty} for ref, qty in lines]
    env.http.post(f"{url}/despatch", json=body).raise_for_status()


def _tracks(order: dict[str, Any]) -> list[list[str]]:
    return [sorted(t["track_number"] for t in s["tracks"]) for s in order["shipments"]]


# --- orders -----------------------------------------------------------------------------------------
GIFT_SET = {
    "bundle": "GIFT-SET",
    "qty": 1,
    "components": [{"sku": "MUG-1", "qty": 1}, {"sku": "TEA-2", "qty": 1}],
}
MUG_PAIR = {
    "bundle": "MUG-PAIR",
    "qty": 3,
    "components": [{"sku": "MUG-1", "qty": 2}],
}  # two of one component
SHIRT = {"configurable": "SHIRT", "sku": "SHIRT-M", "qty": 2}


def test_bundles_and_a_configurable_reach_clarus_as_components_and_an_unmapped_method_waits(
    env: Stack,
) -> None:
    placed = {
        "bundle": [GIFT_SET, {"sku": "SPOON-3", "qty": 1}],
        "pair": [MUG_PAIR],
        "configurable": [SHIRT],
    }
    with env.hub():
        env.run_job("product_sync", wait=True)
        orders = {name: env.magento_place(spec) for name, spec in placed.items()}
        unmapped = env.magento_place([{"sku": "TEA-2", "qty": 1}], ship="Royal Mail Tracked 24")
        pending = env.magento_place([{"sku": "MUG-1", "qty": 1}], state="new")  # not paid yet
        env.run_job("storefront_orders_poll", wait=True)
        refs = {name: _reference(o) for name, o in orders.items()}
        _wait(env, lambda: set(refs.values()) <= set(env.clarus_orders()) and _settled(env), "three orders")
        held_key = ("unmapped_ship_method", f"order:{_reference(unmapped)}")
        _wait(env, lambda: held_key in _exceptions(env), "the unmapped order held")
        clarus = env.clarus_orders()
        held_then = _reference(unmapped) in clarus
        waiting_then = _reference(pending) in clarus

        env.overrides = {"orders.ship_methods": {**SHIP_METHODS, "Royal Mail Tracked 24": "NDAY"}}
        env.write_config()  # the hub reloads it; held orders are checked again
        _wait(
            env,
            lambda: _reference(unmapped) in env.clarus_orders() and _settled(env),
            "the held order released",
        )
        released = env.clarus_orders()
        exceptions = _exceptions(env)
        report = _report(env)
        counters = _counters(env)
    for name, spec in placed.items():
        assert _lines(clarus[refs[name]]) == _wanted(spec), name
        assert clarus[refs[name]]["ship_method"] == "STD"
    assert _lines(clarus[refs["pair"]]) == [("1", "MUG-1", 6)]  # 3 bundles of two mugs
    assert not held_then
    assert not waiting_then
    assert released[_reference(unmapped)]["ship_method"] == "NDAY"
    assert _reference(pending) not in released  # still waiting for payment
    assert held_key not in exceptions  # resolved by the release
    assert counters.get("storefront_orders.magento.polled", 0) == 5
    assert report.mismatched == [], report.examples
    assert report.waiting == 1


def test_a_partial_shipment_then_the_rest_show_in_magento_with_their_tracking(env: Stack) -> None:
    spec = [{**GIFT_SET, "qty": 2}, SHIRT]
    with env.hub():
        env.run_job("product_sync", wait=True)
        order = env.magento_place(spec)
        env.run_job("storefront_orders_poll", wait=True)
        ref = _reference(order)
        _wait(env, lambda: ref in env.clarus_orders() and _settled(env), "the order in Clarus")
        lines = {line["sku"]: line["line_ref"] for line in env.clarus_orders()[ref]["lines"]}
        _despatch(env, ref, "SH-1", "1ZM1", [(lines["MUG-1"], 2), (lines["SHIRT-M"], 1)])
        _wait(
            env, lambda: len(env.magento_order(order["entity_id"])["shipments"]) == 1 and _settled(env), "one"
        )
        first = env.magento_order(order["entity_id"])
        _despatch(env, ref, "SH-2", "1ZM2", None)  # the rest
        _wait(
            env, lambda: len(env.magento_order(order["entity_id"])["shipments"]) == 2 and _settled(env), "two"
        )
        last = env.magento_order(order["entity_id"])
        commands = _commands(env)
        shipments = _shipments_report(env)
    shipped_first = {i["sku"]: float(i["qty"]) for i in first["shipments"][0]["items"]}
    assert shipped_first["MUG-1"] == 2
    assert shipped_first["SHIRT-M"] == 1
    assert "TEA-2" not in shipped_first
    assert first["state"] != "complete"
    assert last["state"] == "complete"
    assert _tracks(last) == [["1ZM1"], ["1ZM2"]]
    for item in last["items"]:  # everything ordered has shipped, once
        assert float(item["qty_shipped"]) == float(item["qty_ordered"]), item
    assert shipments.problems == 0, shipments
    assert (shipments.shipments, shipments.magento_shipments) == (2, 2)
    assert [(s, k) for s, k, _ in commands if k == "store_fulfilment"] == [
        ("SH-1", "store_fulfilment"),
        ("SH-2", "store_fulfilment"),
    ]


def test_through_the_ims_magento_ships_only_after_the_item_fulfilment(env: Stack) -> None:
    env.magento_settings = {"orders_route": "ims"}
    env.http.post(
        f"{env.ims_url}/_control/ship_items", json={"items": [{"itemId": "Flat Rate - Fixed"}]}
    ).raise_for_status()
    spec = [GIFT_SET]
    with env.hub():
        env.run_job("product_sync", wait=True)
        order = env.magento_place(spec)
        ref = _reference(order)
        env.run_job("storefront_orders_poll", wait=True)
        _wait(env, lambda: env.truth().ims_orders.get(ref) is not None and _settled(env), "the IMS order")
        ims_order = env.truth().ims_orders[ref]
        env.run_job("orders_poll", wait=True)
        _wait(env, lambda: ref in env.clarus_orders() and _settled(env), "the order in Clarus")
        in_clarus = env.clarus_orders()[ref]
        env.ims_faults(outage=True)  # the Item Fulfilment fails and is retried; Magento must wait
        _despatch(env, ref, "SH-1", "1ZI1", None)

        def retried() -> bool:
            return any(kind == "item_fulfilment" and attempts >= 3 for _, kind, attempts in _commands(env))

        _wait(env, retried, "the Item Fulfilment retried")
        waiting = env.magento_order(order["entity_id"])["shipments"]
        env.ims_faults(outage=False)
        _wait(
            env,
            lambda: len(env.magento_order(order["entity_id"])["shipments"]) == 1 and _settled(env),
            "shipped",
        )
        shipped = env.magento_order(order["entity_id"])
        ims_fulfilments = env.truth().ims_fulfilments
        fulfilment_report = env.fulfilment_report()
        shipments = _shipments_report(env, ims=True)
    assert sorted((str(line["itemId"]), round(float(line["quantity"]))) for line in ims_order["lines"]) == [
        ("MUG-1", 1),
        ("TEA-2", 1),
    ]
    assert sorted((sku, qty) for _, sku, qty in _lines(in_clarus)) == [("MUG-1", 1), ("TEA-2", 1)]
    assert waiting == []  # nothing in Magento while the IMS had no Item Fulfilment
    assert [f["externalId"] for f in ims_fulfilments] == ["sb-if-SH-1"]
    assert fulfilment_report.problems == 0, fulfilment_report
    assert shipments.problems == 0, shipments
    assert shipped["state"] == "complete"
    assert _tracks(shipped) == [["1ZI1"]]


def test_a_429_storm_is_met_with_backoff_and_loses_nothing(env: Stack) -> None:
    skus = [sku_name(i) for i in range(20)]
    env.create_items(skus)
    env.magento_stock(skus)
    # The host in front of Magento allows 2 calls a second; the hub starts at 50 and polls every second.
    env.magento_settings = {"orders_poll_s": 1, "calls_per_second": 50, "min_calls_per_second": 0.5}
    env.magento_limits(calls_per_second=2)
    traffic = Traffic(20, seed=5)
    with env.hub():
        env.run_job("product_sync", wait=True)
        placed = [env.magento_place([{"sku": SKUS[i % 3], "qty": 1 + i % 2}]) for i in range(8)]
        env.move([*traffic.initial_receipts(), *(traffic.next() for _ in range(150))])
        env.drain()
        refs = {_reference(o) for o in placed}
        # No run_job: the store's own poll schedule brings the orders in.
        _wait(env, lambda: refs <= set(env.clarus_orders()) and _settled(env), "every order", timeout_s=120)
        env.wait_converged(timeout_s=120)
        drift = env.magento_drift()
        calls = env.magento_calls()
        report = _report(env)
    assert calls["throttled_429"] > 0  # the storm happened
    assert drift.keys == 0, drift.examples
    assert report.mismatched == [], report.examples
    assert report.released == len(placed)


# --- stock ------------------------------------------------------------------------------------------
def test_three_channels_on_one_warehouse_and_magento_source_items_show_the_sellable_figure(
    db_url: str, tmp_path: Path
) -> None:
    skus = [sku_name(i) for i in range(20)]
    with stack(db_url, tmp_path, shopify=True, magento=True) as env:
        env.create_items(skus)
        env.shopify_products(skus)
        env.magento_stock(skus)
        traffic = Traffic(20, seed=3)
        with env.hub():
            env.subscribe()
            env.move([*traffic.initial_receipts(), *(traffic.next() for _ in range(200))])
            env.drain()
            env.wait_converged(timeout_s=120)
            drifts = (env.ims_drift(), env.shopify_drift(), env.magento_drift())
            counters = env.health()["counters"]
        state = env.http.get(f"{env.clarus_url}/_control/state").json()
        settings = oracle_settings(env.config)
        shown = {s: env.magento_quantity(s) for s in skus}
    assert [d.keys for d in drifts] == [0, 0, 0], [d.examples for d in drifts]
    # Each source item is the warehouse's available units less Magento's own buffers (not Shopify's).
    for_magento = expected_figures(state, settings, "magento")
    for_shopify = expected_figures(state, settings, "shopify")
    assert shown == {s: for_magento[(s, MAGENTO_SOURCE)] for s in skus}
    assert any(for_magento[(s, MAGENTO_SOURCE)] != for_shopify[(s, "gid://shopify/Location/1")] for s in skus)
    assert any(q > 0 for q in shown.values())
    assert counters["push.magento.calls"] > 0
