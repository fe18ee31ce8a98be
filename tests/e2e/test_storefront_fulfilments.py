"""Despatches back to Shopify, end to end over real HTTP on SQLite and PostgreSQL: Clarus simulator
shipment → hub → Shopify simulator fulfilment (route clarus), and Clarus → hub → IMS simulator Item
Fulfilment → hub → Shopify fulfilment (route ims).

What Shopify should show is judged by the oracle from the simulators' own state
(`stockbridge.oracle.check_storefront_fulfilments`), never from the hub's rules.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from tests.e2e.stack import SHOPIFY_SECRET, SHOPIFY_TOKEN, Stack, stack, wait_until
from tests.e2e.test_storefront_orders import Shop, _exception_details, _exceptions, _store
from tests.shopify_sim_support import simulator

from stockbridge.demo.harness import oracle_settings
from stockbridge.oracle import StorefrontFulfilmentReport, check_storefront_fulfilments
from stockbridge.simulators import shopify as shopify_sim
from stockbridge.store.schema import fulfilment_commands

pytestmark = pytest.mark.slow

KIT = [{"itemId": "MUG-1", "quantity": 2}, {"itemId": "TEA-2", "quantity": 1}]


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[tuple[Stack, Shop]]:
    settings = shopify_sim.ShopifySettings(access_token=SHOPIFY_TOKEN, api_secret=SHOPIFY_SECRET)
    with stack(db_url, tmp_path) as s, simulator(settings) as shop_url:
        s.create_items(["MUG-1", "TEA-2"])
        s.http.post(
            f"{s.ims_url}/_control/items",
            json={"items": [{"itemId": "GIFT-BOX", "itemType": "Kit", "members": KIT}]},
        ).raise_for_status()
        s.overrides = {
            "storefronts.shopify": _store(shop_url, "clarus"),
            "orders.ship_methods": {"Standard Delivery": "STD"},
        }
        s.subscribe()  # Clarus's webhooks (shipments) reach the hub from its start
        shop = Shop(s, shop_url)
        shop.subscribe()
        yield s, shop


def _order(shop: Shop, order_id: int) -> dict[str, Any]:
    return next(o for o in shop.orders() if o["id"] == order_id)


def _fulfilments(shop: Shop, order_id: int) -> list[dict[str, Any]]:
    return list(_order(shop, order_id)["fulfillments"])


def _report(env: Stack, shop: Shop, ims: bool = False) -> StorefrontFulfilmentReport:
    truth = env.truth()
    settings = oracle_settings(env.config)
    return check_storefront_fulfilments(
        shop.orders(),
        truth.clarus_shipments,
        truth.catalog(settings),
        settings.sku_rules,
        prefix="SHOP-",
        ims_orders=truth.ims_orders if ims else None,
        ims_fulfilments=truth.ims_fulfilments,
    )


def _despatch(
    env: Stack, reference: str, shipment: str, number: str, lines: list[tuple[str, int]] | None
) -> None:
    url = f"{env.clarus_url}/_control/orders/{reference}"
    body: dict[str, Any] = {"shipment_id": shipment, "carrier": "UPS", "tracking_numbers": [number]}
    if lines is not None:
        body["lines"] = [{"line_ref": ref, "quantity": qty} for ref, qty in lines]
    env.http.post(f"{url}/despatch", json=body).raise_for_status()


def _release(env: Stack, reference: str) -> None:
    url = f"{env.clarus_url}/_control/orders/{reference}/advance"
    env.http.post(url, json={"status": "released"}).raise_for_status()


def _commands(env: Stack) -> list[tuple[str, str, int]]:
    engine = create_engine(env.database_url)
    with engine.connect() as c:
        c_ = fulfilment_commands.c
        rows = [
            (r.shipment_id, r.kind, int(r.attempts))
            for r in c.execute(select(c_.shipment_id, c_.kind, c_.attempts))
        ]
    engine.dispose()
    return sorted(rows)


def _wait(env: Stack, condition: Callable[[], bool], what: str) -> None:
    """Wait up to 30 s; on timeout say what the hub holds (its shipments, commands and exceptions)."""
    try:
        wait_until(condition, 30, what)
    except AssertionError as exc:
        health = env.health()
        state = {k: health.get(k) for k in ("shipments", "fulfilment_commands", "orders")}
        raise AssertionError(f"{exc}: {state} {_commands(env)} {_exception_details(env)}") from None


def _settled(env: Stack) -> bool:
    health = env.health()
    return env.orders_settled() and not health.get("fulfilment_commands", {}).get("pending")


def test_direct_route_partial_then_rest_makes_two_fulfilments_with_bundle_rolled_up(
    env: tuple[Stack, Shop],
) -> None:
    stack_, shop = env
    with stack_.hub():
        stack_.run_job("product_sync", wait=True)
        order = shop.place([("MUG-1", 2), ("GIFT-BOX", 1), ("TEA-2", 1)])
        _wait(stack_, lambda: "SHOP-1001" in stack_.clarus_orders() and _settled(stack_), "the order")
        refs = sorted(line["line_ref"] for line in stack_.clarus_orders()["SHOP-1001"]["lines"])
        assert refs == ["1", "2.1", "2.2", "3"]  # the bundle de-kitted
        _release(stack_, "SHOP-1001")
        # Part one: the mugs, and only part of the gift box (no whole bundle yet).
        _despatch(stack_, "SHOP-1001", "SH-A", "1ZA", [("1", 2), ("2.1", 2)])
        _wait(stack_, lambda: len(_fulfilments(shop, order["id"])) == 1, "the first fulfilment")
        first = _order(shop, order["id"])
        first_report = _report(stack_, shop)
        _despatch(stack_, "SHOP-1001", "SH-B", "1ZB", None)  # the rest
        _wait(stack_, lambda: len(_fulfilments(shop, order["id"])) == 2 and _settled(stack_), "the second")
        last = _order(shop, order["id"])
        report = _report(stack_, shop)
        commands = _commands(stack_)
    assert first["display_fulfillment_status"] == "PARTIALLY_FULFILLED"
    assert first_report.problems == 0, first_report
    assert last["display_fulfillment_status"] == "FULFILLED", (last, report)
    assert report.problems == 0, report
    skus = {li["id"]: li["sku"] for li in order["line_items"]}
    shown = [
        (
            f["tracking_company"],
            f["tracking_numbers"],
            sorted((skus[li["id"]], li["quantity"]) for li in f["line_items"]),
        )
        for f in last["fulfillments"]
    ]
    assert shown == [
        ("UPS", ["1ZA"], [("MUG-1", 2)]),
        ("UPS", ["1ZB"], [("GIFT-BOX", 1), ("TEA-2", 1)]),  # the components rolled back up to their bundle
    ]
    # Shopify tells the customer; the hub sends no notice of its own, and makes no Item Fulfilment.
    assert commands == [("SH-A", "store_fulfilment", 0), ("SH-B", "store_fulfilment", 0)]


def _seed_failing_third_call(rate: float) -> int:
    """A seed for the Shopify simulator's API faults whose first two calls succeed and whose third
    (the fulfilment create, after the order read and the fulfillment order read) is applied and then
    answered 502. The simulator draws twice per call: before it (fail_rate 0: never fails) and after."""
    for seed in range(1000):
        draws = random.Random(seed)
        after = [(draws.random(), draws.random())[1] for _ in range(3)]
        if after[0] >= rate and after[1] >= rate and after[2] < rate:
            return seed
    raise AssertionError("no seed")


def test_a_create_retried_after_502_after_commit_makes_one_fulfilment(env: tuple[Stack, Shop]) -> None:
    stack_, shop = env
    with stack_.hub():
        stack_.run_job("product_sync", wait=True)
        order = shop.place([("MUG-1", 1)])
        _wait(stack_, lambda: "SHOP-1001" in stack_.clarus_orders() and _settled(stack_), "the order")
        _release(stack_, "SHOP-1001")
        rate = 0.5
        shop.faults(api={"fail_after_commit_rate": rate, "seed": _seed_failing_third_call(rate)})
        _despatch(stack_, "SHOP-1001", "SH-1", "1Z502", None)
        _wait(
            stack_,
            lambda: _settled(stack_) and stack_.health()["shipments"].get("store_fulfilled") == 1,
            "done",
        )
        shop.faults(api={"fail_after_commit_rate": 0.0})
        calls = stack_.http.get(f"{shop.url}/_control/calls").json()
        fulfilments = _fulfilments(shop, order["id"])
        commands = _commands(stack_)
        report = _report(stack_, shop)
    assert [f["tracking_numbers"] for f in fulfilments] == [["1Z502"]]  # once, though the answer was lost
    assert commands[0][:2] == ("SH-1", "store_fulfilment")
    assert commands[0][2] >= 1  # it was retried
    assert calls["failed_injected"] >= 1
    assert calls["per_operation"]["fulfillmentCreate"] == 1  # the retry found it, made none
    assert report.problems == 0, report


def test_through_the_ims_the_store_hears_only_after_the_item_fulfilment(env: tuple[Stack, Shop]) -> None:
    stack_, shop = env
    stack_.overrides = {**stack_.overrides, "storefronts.shopify": _store(shop.url, "ims")}
    stack_.http.post(
        f"{stack_.ims_url}/_control/ship_items", json={"items": [{"itemId": "Standard Delivery"}]}
    ).raise_for_status()
    with stack_.hub():
        stack_.run_job("product_sync", wait=True)
        order = shop.place([("MUG-1", 2), ("TEA-2", 1)])
        wait_until(
            lambda: stack_.truth().ims_orders.get("SHOP-1001") is not None and _settled(stack_), 30, "IMS"
        )
        stack_.run_job("orders_poll", wait=True)
        _wait(stack_, lambda: "SHOP-1001" in stack_.clarus_orders() and _settled(stack_), "Clarus")
        lines = {line["sku"]: line["line_ref"] for line in stack_.clarus_orders()["SHOP-1001"]["lines"]}
        _release(stack_, "SHOP-1001")
        # The IMS is down: the Item Fulfilment fails and is retried; the store must wait for it.
        stack_.ims_faults(outage=True)
        _despatch(stack_, "SHOP-1001", "SH-1", "1ZI1", [(lines["MUG-1"], 2)])

        def retried() -> bool:
            return any(kind == "item_fulfilment" and attempts >= 3 for _, kind, attempts in _commands(stack_))

        _wait(stack_, retried, "the Item Fulfilment retried")
        waiting = _fulfilments(shop, order["id"])
        stack_.ims_faults(outage=False)
        _wait(stack_, lambda: len(_fulfilments(shop, order["id"])) == 1, "the first fulfilment")
        first = _order(shop, order["id"])
        _despatch(stack_, "SHOP-1001", "SH-2", "1ZI2", None)
        _wait(stack_, lambda: len(_fulfilments(shop, order["id"])) == 2 and _settled(stack_), "the second")
        last = _order(shop, order["id"])
        report = _report(stack_, shop, ims=True)
        item_fulfilments = stack_.fulfilment_report()  # the IMS side, judged as for any IMS order
        commands = _commands(stack_)
        ims_fulfilments = stack_.truth().ims_fulfilments
    assert waiting == []  # nothing in the store while the IMS had no Item Fulfilment
    assert first["display_fulfillment_status"] == "PARTIALLY_FULFILLED"
    assert last["display_fulfillment_status"] == "FULFILLED"
    assert report.problems == 0, report  # includes: no fulfilment before its Item Fulfilment
    assert sorted(f["externalId"] for f in ims_fulfilments) == ["sb-if-SH-1", "sb-if-SH-2"]
    assert item_fulfilments.problems == 0, item_fulfilments
    assert [f["tracking_numbers"] for f in last["fulfillments"]] == [["1ZI1"], ["1ZI2"]]
    kinds = sorted((shipment, kind) for shipment, kind, _ in commands)
    assert kinds == [  # the invoice as before; no hub notice: Shopify tells the customer
        ("SH-1", "invoice"),
        ("SH-1", "item_fulfilment"),
        ("SH-1", "store_fulfilment"),
        ("SH-2", "invoice"),
        ("SH-2", "item_fulfilment"),
        ("SH-2", "store_fulfilment"),
    ]


def test_a_store_down_too_long_dead_letters_with_an_owner_then_replays(env: tuple[Stack, Shop]) -> None:
    from typer.testing import CliRunner

    from stockbridge.cli import app

    stack_, shop = env
    stack_.engine_settings = {"max_attempts": 2, "retry_for_s": 0}
    with stack_.hub():
        stack_.run_job("product_sync", wait=True)
        order = shop.place([("MUG-1", 1)])
        _wait(stack_, lambda: "SHOP-1001" in stack_.clarus_orders() and _settled(stack_), "the order")
        _release(stack_, "SHOP-1001")
        shop.faults(api={"outage": True})
        _despatch(stack_, "SHOP-1001", "SH-9", "1ZDL", None)
        key = ("storefront_fulfilment_failed", "shipment:SH-9")
        _wait(stack_, lambda: key in _exceptions(stack_), "the dead letter's exception")
        owner = _exceptions(stack_)[key]
        assert _fulfilments(shop, order["id"]) == []
        shop.faults(api={"outage": False})  # the fix
        result = CliRunner().invoke(
            app, ["replay", "--outbox", "fulfilment", "--config", str(stack_.write_config())]
        )
        assert result.exit_code == 0, result.output
        _wait(stack_, lambda: len(_fulfilments(shop, order["id"])) == 1 and _settled(stack_), "replayed")
        still_open = key in _exceptions(stack_)
        report = _report(stack_, shop)
    assert owner == "integration"
    assert not still_open  # resolved when the replay went through
    assert report.problems == 0, report


def test_direct_route_after_an_edit_removed_a_line_fulfils_the_right_line_item(
    env: tuple[Stack, Shop],
) -> None:
    stack_, shop = env
    with stack_.hub():
        stack_.run_job("product_sync", wait=True)
        order = shop.place([("MUG-1", 1), ("TEA-2", 2)])
        _wait(stack_, lambda: "SHOP-1001" in stack_.clarus_orders() and _settled(stack_), "the order")
        mug = next(li for li in order["line_items"] if li["sku"] == "MUG-1")
        shop.edit(order["id"], {"line_items": [{"id": mug["id"], "quantity": 0}]})  # the first line goes

        def amended() -> bool:
            lines = stack_.clarus_orders()["SHOP-1001"]["lines"]
            return [(li["line_ref"], li["sku"]) for li in lines] == [("2", "TEA-2")] and _settled(stack_)

        _wait(stack_, amended, "the amend")
        _release(stack_, "SHOP-1001")
        _despatch(stack_, "SHOP-1001", "SH-E", "1ZE", None)
        _wait(
            stack_, lambda: len(_fulfilments(shop, order["id"])) == 1 and _settled(stack_), "the fulfilment"
        )
        shown = _order(shop, order["id"])
        report = _report(stack_, shop)
    tea = next(li for li in order["line_items"] if li["sku"] == "TEA-2")
    assert [(li["id"], li["quantity"]) for li in shown["fulfillments"][0]["line_items"]] == [(tea["id"], 2)]
    assert shown["display_fulfillment_status"] == "FULFILLED"
    assert report.problems == 0, report
