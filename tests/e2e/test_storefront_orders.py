"""Shopify orders in, end to end over real HTTP: Shopify simulator → hub → Clarus simulator (route
clarus), and Shopify → hub → IMS simulator → hub → Clarus (route ims); SQLite and PostgreSQL.

What Clarus should hold is judged by the oracle from the simulators' own state
(`stockbridge.oracle.check_storefront_orders`), never from the hub's rules.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from tests.e2e.stack import SHOPIFY_SECRET, SHOPIFY_TOKEN, Stack, stack, wait_until
from tests.shopify_sim_support import ADDRESS, order_body, simulator

from stockbridge.connectors.shopify.webhooks import sign
from stockbridge.demo.harness import oracle_settings
from stockbridge.oracle import check_storefront_orders
from stockbridge.simulators import shopify as shopify_sim
from stockbridge.store.bookkeeping import list_exceptions, read_counters
from stockbridge.store.schema import inbox

pytestmark = pytest.mark.slow

TOPICS = ["orders/create", "orders/updated", "orders/edited", "orders/cancelled", "orders/paid"]


class Shop:
    def __init__(self, env: Stack, url: str) -> None:
        self.env, self.url = env, url

    def place(
        self, lines: list[tuple[str, int]], ship: str = "Standard Delivery", **extra: Any
    ) -> dict[str, Any]:
        body = order_body(lines, ship=ship, **extra)
        response = self.env.http.post(f"{self.url}/_control/orders", json=body)
        response.raise_for_status()
        order: dict[str, Any] = response.json()
        return order

    def edit(self, order_id: int, body: dict[str, Any]) -> None:
        self.env.http.post(f"{self.url}/_control/orders/{order_id}/edit", json=body).raise_for_status()

    def cancel(self, order_id: int) -> None:
        self.env.http.post(f"{self.url}/_control/orders/{order_id}/cancel", json={}).raise_for_status()

    def orders(self) -> list[dict[str, Any]]:
        orders: list[dict[str, Any]] = self.env.http.get(f"{self.url}/_control/orders").json()["orders"]
        return orders

    def subscribe(self) -> None:
        hook = f"{self.env.hub_url}/webhooks/shopify/shopify"
        self.env.http.post(f"{self.url}/_control/webhooks", json={"address": hook, "topics": TOPICS})

    def faults(self, **faults: Any) -> None:
        self.env.http.post(f"{self.url}/_control/faults", json=faults).raise_for_status()


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[tuple[Stack, Shop]]:
    settings = shopify_sim.ShopifySettings(access_token=SHOPIFY_TOKEN, api_secret=SHOPIFY_SECRET)
    with stack(db_url, tmp_path) as s, simulator(settings) as shop_url:
        s.create_items(["MUG-1", "TEA-2", "odd.sku-7"])
        s.overrides = {
            "storefronts.shopify": _store(shop_url, "clarus"),
            "orders.ship_methods": {"UPS Ground": "STD", "Standard Delivery": "STD"},
        }
        shop = Shop(s, shop_url)
        shop.subscribe()
        yield s, shop


def _store(url: str, route: str) -> dict[str, Any]:
    return {
        "shop_domain": "stockbridge-test.myshopify.com",
        "base_url": url,
        "orders_route": route,
        "reference_prefix": "SHOP-",
        "timeout_s": 4,
        "orders_poll_s": 3600,
        "ims_customer": "501",  # the IMS simulator's web customer
    }


def _settled(env: Stack) -> bool:
    health = env.health()
    return (
        env.orders_settled()
        and not health.get("storefront_order_commands", {}).get("pending")
        and not health.get("storefront_order_rereads", {}).get("pending")
    )


def _report(env: Stack, shop: Shop, frozen: dict[str, Any] | None = None) -> Any:
    truth = env.truth()
    settings = oracle_settings(env.config)
    return check_storefront_orders(
        shop.orders(), truth.clarus_orders, truth.catalog(settings), settings, prefix="SHOP-", frozen=frozen
    )


def _exceptions(env: Stack) -> dict[tuple[str, str], str]:
    engine = create_engine(env.database_url)
    with engine.connect() as c:
        found = {(e.type, e.entity): e.owner for e in list_exceptions(c) if e.state.value == "open"}
    engine.dispose()
    return found


def _exception_details(env: Stack) -> list[str]:
    engine = create_engine(env.database_url)
    with engine.connect() as c:
        found = [f"{e.type} {e.entity}: {e.detail}" for e in list_exceptions(c) if e.state.value == "open"]
    engine.dispose()
    return found


def _db(env: Stack) -> tuple[int, dict[str, int]]:
    engine = create_engine(env.database_url)
    with engine.connect() as c:
        rows = c.execute(
            select(func.count())
            .select_from(inbox)
            .where(inbox.c.source == "shopify", inbox.c.event_id == "wh-1")
        ).scalar_one()
        counters = read_counters(c)
    engine.dispose()
    return int(rows), counters


def _lines(order: dict[str, Any]) -> list[tuple[str, str, int]]:
    return sorted((line["line_ref"], line["sku"], line["quantity"]) for line in order["lines"])


def test_signatures_are_checked_and_a_replayed_webhook_is_stored_and_folded_once(
    env: tuple[Stack, Shop],
) -> None:
    stack_, shop = env
    with stack_.hub():
        stack_.run_job("product_sync", wait=True)
        shop.faults(loss_rate=1.0)  # this test delivers by hand
        order = shop.place([("MUG-1", 1)])
        body = json.dumps(order).encode()
        hook = f"{stack_.hub_url}/webhooks/shopify/shopify"
        headers = {"X-Shopify-Topic": "orders/create", "X-Shopify-Webhook-Id": "wh-1"}
        missing = stack_.http.post(hook, content=body, headers=headers)
        forged = stack_.http.post(
            hook, content=body, headers={**headers, "X-Shopify-Hmac-Sha256": sign(b"wrong", body)}
        )
        assert (missing.status_code, forged.status_code) == (401, 401)
        assert _db(stack_)[0] == 0  # nothing stored
        signed = {**headers, "X-Shopify-Hmac-Sha256": sign(SHOPIFY_SECRET.encode(), body)}
        unknown = stack_.http.post(f"{stack_.hub_url}/webhooks/shopify/other", content=body, headers=signed)
        assert unknown.status_code == 404
        for _ in range(3):  # Shopify retries the same webhook id
            assert stack_.http.post(hook, content=body, headers=signed).status_code == 200
        wait_until(lambda: _settled(stack_) and "SHOP-1001" in stack_.clarus_orders(), 30, "the order")
        rows, counters = _db(stack_)
        unusable = stack_.http.post(
            hook,
            content=b"{}",
            headers={
                **signed,
                "X-Shopify-Webhook-Id": "wh-2",
                "X-Shopify-Hmac-Sha256": sign(SHOPIFY_SECRET.encode(), b"{}"),
            },
        )
    assert rows == 1
    assert counters.get("orders.commands.create") == 1  # the catch-up's copy of it changed nothing
    assert unusable.status_code == 422
    assert ("bad_webhook", "shopify:wh-2") in _exceptions(stack_)
    assert stack_.clarus_orders()["SHOP-1001"]["version"] == 1
    report = _report(stack_, shop)
    assert report.mismatched == [], report.examples


def test_direct_to_clarus_sku_ship_method_hold_release_edit_and_cancellations(
    env: tuple[Stack, Shop],
) -> None:
    stack_, shop = env
    with stack_.hub():
        stack_.run_job("product_sync", wait=True)
        special = shop.place([("odd.sku-7", 2), ("MUG-1", 1)])
        unmapped = shop.place([("TEA-2", 1)], ship="Royal Mail Tracked 24")
        edited = shop.place([("MUG-1", 1), ("TEA-2", 3)])
        early = shop.place([("MUG-1", 1)])
        late = shop.place([("TEA-2", 2)])
        picked = shop.place([("MUG-1", 2), ("TEA-2", 1)])
        unpaid = shop.place([("MUG-1", 1)], financial_status="pending")
        placed = (special, unmapped, edited, early, late, picked, unpaid)
        names = {o["id"]: "SHOP-" + o["name"].lstrip("#") for o in placed}
        wait_until(lambda: len(stack_.clarus_orders()) == 5 and _settled(stack_), 30, "five orders in Clarus")
        assert names[unpaid["id"]] not in stack_.clarus_orders()  # waits for payment
        assert names[unmapped["id"]] not in stack_.clarus_orders()
        assert ("unmapped_ship_method", f"order:{names[unmapped['id']]}") in _exceptions(stack_)
        assert _lines(stack_.clarus_orders()[names[special["id"]]]) == [
            ("1", "ODDSKU-7", 2),
            ("2", "MUG-1", 1),
        ]
        assert stack_.clarus_orders()[names[special["id"]]]["ship_method"] == "STD"

        mapped = stack_.config.orders.ship_methods
        stack_.overrides = {
            **stack_.overrides,
            "orders.ship_methods": {**mapped, "Royal Mail Tracked 24": "NDAY"},
        }
        stack_.write_config()  # the hub reloads it; held orders are checked again
        wait_until(lambda: names[unmapped["id"]] in stack_.clarus_orders(), 30, "the held order released")

        tea = next(li for li in edited["line_items"] if li["sku"] == "TEA-2")
        shop.edit(edited["id"], {"line_items": [{"id": tea["id"], "quantity": 0}]})  # remove a line
        shop.cancel(early["id"])  # before picking
        picked_url = f"{stack_.clarus_url}/_control/orders/{names[picked['id']]}"
        stack_.http.post(f"{picked_url}/advance", json={"status": "picking"}).raise_for_status()
        wait_until(lambda: stack_.health()["orders"].get("locked") == 1, 30, "picking folded")
        frozen_picked = stack_.clarus_orders()[names[picked["id"]]]
        tea_picked = next(li for li in picked["line_items"] if li["sku"] == "TEA-2")
        shop.edit(picked["id"], {"line_items": [{"id": tea_picked["id"], "quantity": 0}]})
        picked_key = ("edit_after_pick", f"order:{names[picked['id']]}")
        wait_until(lambda: picked_key in _exceptions(stack_), 30, "edit_after_pick")
        late_url = f"{stack_.clarus_url}/_control/orders/{names[late['id']]}"
        stack_.http.post(f"{late_url}/advance", json={"status": "released"}).raise_for_status()
        despatch = {"shipment_id": "SH-1", "carrier": "UPS", "tracking_numbers": ["1ZSH1"]}
        stack_.http.post(f"{late_url}/despatch", json=despatch).raise_for_status()
        wait_until(lambda: stack_.health()["orders"].get("complete") == 1, 30, "the despatch folded")
        shop.cancel(late["id"])  # after despatch
        late_key = ("cancelled_after_despatch", f"order:{names[late['id']]}")
        wait_until(lambda: late_key in _exceptions(stack_), 30, "cancelled_after_despatch")
        wait_until(lambda: _settled(stack_), 30, "orders to settle")
        orders = stack_.clarus_orders()
        exceptions = _exceptions(stack_)
    assert _lines(orders[names[edited["id"]]]) == [("1", "MUG-1", 1)]
    assert orders[names[early["id"]]]["status"] == "cancelled"
    assert exceptions[late_key] == "customer_service"
    assert ("unmapped_ship_method", f"order:{names[unmapped['id']]}") not in exceptions
    assert exceptions[picked_key] == "operations"
    assert _lines(orders[names[picked["id"]]]) == _lines(frozen_picked)  # the warehouse keeps what it had
    frozen = {names[late["id"]]: orders[names[late["id"]]], names[picked["id"]]: frozen_picked}
    report = _report(stack_, shop, frozen=frozen)
    assert report.mismatched == [], report.examples


def test_duplicated_and_reordered_webhooks_leave_clarus_as_the_store_says(env: tuple[Stack, Shop]) -> None:
    stack_, shop = env
    shop.faults(duplicate_rate=0.5, reorder_rate=0.5, seed=7)
    with stack_.hub():
        stack_.run_job("product_sync", wait=True)
        orders = [shop.place([("MUG-1", 1 + i), ("TEA-2", 1)]) for i in range(4)]
        for order in orders[:2]:
            tea = next(li for li in order["line_items"] if li["sku"] == "TEA-2")
            shop.edit(order["id"], {"line_items": [{"id": tea["id"], "quantity": 0}]})
        shop.cancel(orders[3]["id"])

        def delivered() -> bool:
            log = stack_.http.get(f"{shop.url}/_control/webhooks").json()["deliveries"]
            return all(d["delivered"] for d in log)

        wait_until(delivered, 30, "every webhook delivered")
        wait_until(lambda: _settled(stack_) and _report(stack_, shop).mismatched == [], 30, "Clarus to match")
        log = stack_.http.get(f"{shop.url}/_control/webhooks").json()["deliveries"]
    assert any(d["duplicated"] for d in log)
    assert any(d["reordered"] for d in log)
    assert all(d["attempts"][0] == 200 for d in log)  # answered well inside Shopify's 5 s


def test_catch_up_query_finds_an_order_whose_webhook_was_lost(env: tuple[Stack, Shop]) -> None:
    stack_, shop = env
    with stack_.hub():
        stack_.run_job("product_sync", wait=True)
        shop.faults(loss_rate=1.0)
        shop.place([("MUG-1", 2)])
        lost = [d for d in stack_.http.get(f"{shop.url}/_control/webhooks").json()["deliveries"] if d["lost"]]
        assert lost, "the simulator lost the webhook"
        assert "SHOP-1001" not in stack_.clarus_orders()
        stack_.run_job("storefront_orders_poll", wait=True)
        wait_until(
            lambda: "SHOP-1001" in stack_.clarus_orders() and _settled(stack_), 30, "the caught-up order"
        )
        stack_.run_job("storefront_orders_poll", wait=True)  # read again: recognised, nothing new
        wait_until(lambda: _settled(stack_), 30, "settled")
        counters = _db(stack_)[1]
    assert list(stack_.clarus_orders()) == ["SHOP-1001"]
    assert stack_.clarus_orders()["SHOP-1001"]["version"] == 1
    assert counters.get("storefront_orders.shopify.polled") == 1
    assert _report(stack_, shop).mismatched == []


def test_through_the_ims_once_then_to_clarus_once_with_edit_and_cancellation(
    env: tuple[Stack, Shop],
) -> None:
    stack_, shop = env
    stack_.overrides = {**stack_.overrides, "storefronts.shopify": _store(shop.url, "ims")}
    stack_.http.post(
        f"{stack_.ims_url}/_control/ship_items", json={"items": [{"itemId": "Standard Delivery"}]}
    ).raise_for_status()
    # The IMS applies the create and then answers 500: the hub cannot tell, and must not make a second.
    stack_.ims_faults(fail_after_commit_next=1)
    with stack_.hub():
        stack_.run_job("product_sync", wait=True)
        order = shop.place([("MUG-1", 1), ("TEA-2", 2)])
        unpaid = shop.place([("MUG-1", 5)], financial_status="pending")
        external = f"shopify-order-{order['id']}"

        def in_ims() -> bool:
            return _ims_open(stack_, external) == _shop_open(shop, order["id"]) and _settled(stack_)

        try:
            wait_until(in_ims, 30, "the IMS order")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {_exception_details(stack_)}") from None
        assert _ims_open(stack_, external) == [("MUG-1", 1), ("TEA-2", 2)]
        stack_.run_job("orders_poll", wait=True)
        wait_until(lambda: "SHOP-1001" in stack_.clarus_orders() and _settled(stack_), 30, "Clarus")
        first = stack_.clarus_orders()["SHOP-1001"]

        tea = next(li for li in order["line_items"] if li["sku"] == "TEA-2")
        shop.edit(order["id"], {"line_items": [{"id": tea["id"], "quantity": 0}]})
        wait_until(in_ims, 30, "the IMS order edited")
        stack_.run_job("orders_poll", wait=True)
        wait_until(lambda: _lines(stack_.clarus_orders()["SHOP-1001"]) == [("1", "MUG-1", 1)], 30, "amended")
        edited_report = stack_.order_report()

        shop.cancel(order["id"])
        wait_until(lambda: _ims_open(stack_, external) == [] and _settled(stack_), 30, "the IMS order closed")
        stack_.run_job("orders_poll", wait=True)
        wait_until(lambda: stack_.clarus_orders()["SHOP-1001"]["status"] == "cancelled", 30, "cancelled")
        ims = _ims_orders(stack_, external)
        unpaid_in_ims = _ims_orders(stack_, f"shopify-order-{unpaid['id']}")
        clarus = stack_.clarus_orders()
    faults = stack_.http.get(f"{stack_.ims_url}/_control/faults").json()
    assert faults["fail_after_commit_next"] == 0  # the create's answer was lost
    assert [o["tranId"] for o in ims] == ["SHOP-1001"]  # once, despite the lost answer
    assert ims[0]["shipMethod"] == "Standard Delivery"
    assert ims[0]["shippingAddress"]["zip"] == ADDRESS["zip"]
    assert unpaid_in_ims == []  # not paid: waits in the hub
    assert _lines(first) == [("1", "MUG-1", 1), ("2", "TEA-2", 2)]
    assert first["ship_method"] == "STD"
    assert list(clarus) == ["SHOP-1001"]
    assert edited_report.mismatched == [], edited_report.examples  # the IMS order, judged as any IMS order
    assert stack_.order_report().mismatched == []


def _ims_orders(env: Stack, external_id: str) -> list[dict[str, Any]]:
    """The IMS's sales orders with this external id (SuiteQL: every one, not one per tranId), each
    as the IMS control API shows it."""
    rows = env.suiteql(
        f"SELECT tranid FROM transaction WHERE type = 'SalesOrd' AND externalid = '{external_id}'"
    )
    orders = env.truth().ims_orders
    return [orders[str(row["tranid"])] for row in rows]


def _shop_open(shop: Shop, order_id: int) -> list[tuple[str, int]]:
    """What the customer now wants, from the Shopify simulator's own order."""
    order = next(o for o in shop.orders() if o["id"] == order_id)
    if order["cancelled_at"]:
        return []
    return sorted((li["sku"], li["current_quantity"]) for li in order["line_items"] if li["current_quantity"])


def _ims_open(env: Stack, external_id: str) -> list[tuple[str, int]]:
    found = _ims_orders(env, external_id)
    if not found:
        return []
    return sorted(
        (str(line["itemId"]), int(float(line["quantity"])))
        for line in found[0]["lines"]
        if not line.get("isClosed")
    )


class _HeldClock:
    """The Shopify simulator's clock: real time, or one instant while `held` (two changes made then
    carry one `updated_at` second, as two changes within a second do at Shopify)."""

    def __init__(self) -> None:
        self.held: datetime | None = None

    def __call__(self) -> datetime:
        return self.held or datetime.now(UTC)


@pytest.mark.parametrize("route", ["clarus", "ims"])
def test_two_versions_of_one_second_in_either_order_end_as_the_store_says(
    db_url: str, tmp_path: Path, route: str
) -> None:
    """An edit that removes a line, in the same second as the order's create: its webhook delivered
    before the create's (order 1) and after it (order 2). The hub does not keep whichever came last;
    it reads each order from the store once that second is over (decision 0024). Clarus (route
    clarus) or the IMS sales order (route ims) ends as the store's order is now."""
    clock = _HeldClock()
    settings = shopify_sim.ShopifySettings(access_token=SHOPIFY_TOKEN, api_secret=SHOPIFY_SECRET, clock=clock)
    with stack(db_url, tmp_path) as s, simulator(settings) as shop_url:
        s.create_items(["MUG-1", "TEA-2"])
        s.overrides = {
            "storefronts.shopify": _store(shop_url, route),
            "orders.ship_methods": {"Standard Delivery": "STD"},
        }
        s.http.post(
            f"{s.ims_url}/_control/ship_items", json={"items": [{"itemId": "Standard Delivery"}]}
        ).raise_for_status()
        shop = Shop(s, shop_url)
        shop.subscribe()
        shop.faults(loss_rate=1.0)  # this test delivers the webhooks by hand, in the order it chooses
        with s.hub():
            s.run_job("product_sync", wait=True)
            # The catch-up query's first run (at start) is over; the next is an hour away.
            wait_until(lambda: bool(_db(s)[1].get("jobs.storefront_orders_poll")), 30, "the first catch-up")
            clock.held = datetime.now(UTC)
            deliveries: list[list[bytes]] = []
            for _ in range(2):
                placed = shop.place([("MUG-1", 1), ("TEA-2", 3)])
                tea = next(li for li in placed["line_items"] if li["sku"] == "TEA-2")
                edited = s.http.post(
                    f"{shop_url}/_control/orders/{placed['id']}/edit",
                    json={"line_items": [{"id": tea["id"], "quantity": 0}]},
                )
                edited.raise_for_status()
                assert edited.json()["updated_at"] == placed["updated_at"]  # one second
                deliveries.append([json.dumps(placed).encode(), json.dumps(edited.json()).encode()])
            clock.held = None
            hook = f"{s.hub_url}/webhooks/shopify/shopify"
            bodies = [*reversed(deliveries[0]), *deliveries[1]]  # order 1: edit first; order 2: create first
            for n, body in enumerate(bodies):
                headers = {
                    "X-Shopify-Topic": "orders/updated",
                    "X-Shopify-Webhook-Id": f"tie-{n}",
                    "X-Shopify-Hmac-Sha256": sign(SHOPIFY_SECRET.encode(), body),
                }
                assert s.http.post(hook, content=body, headers=headers).status_code == 200

            def as_the_store_says() -> bool:
                if not _settled(s):
                    return False
                if route == "ims":
                    return all(
                        _ims_open(s, f"shopify-order-{o['id']}") == _shop_open(shop, o["id"])
                        for o in shop.orders()
                    )
                return _report(s, shop).mismatched == [] and len(s.clarus_orders()) == 2

            wait_until(as_the_store_says, 30, "each order as the store says")
            counters = _db(s)[1]
            shop_open = {o["id"]: _shop_open(shop, o["id"]) for o in shop.orders()}
    assert list(shop_open.values()) == [[("MUG-1", 1)], [("MUG-1", 1)]]
    assert counters.get("storefront_orders.shopify.ties") == 2
    assert counters.get("storefront_orders.shopify.rereads") == 2  # one read per tie
    assert not counters.get("storefront_orders.shopify.polled")  # settled by the re-reads alone
