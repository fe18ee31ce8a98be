"""Orders end to end: IMS simulator → hub → Clarus simulator, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from tests.e2e.stack import ENVIRON, Stack, stack, wait_until

from stockbridge.store.bookkeeping import list_exceptions

pytestmark = pytest.mark.slow

ADDRESS = {
    "addressee": "Ada Lovelace",
    "addr1": "12 Analytical St",
    "city": "London",
    "zip": "N1 9GU",
    "country": "GB",
}


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[Stack]:
    with stack(db_url, tmp_path) as s:
        s.create_items(["MUG-1", "TEA-2", "odd.sku-7", "OLD-9"], inactive=frozenset({"OLD-9"}))
        members = [{"itemId": "MUG-1", "quantity": 2}, {"itemId": "TEA-2", "quantity": 1}]
        s.http.post(
            f"{s.ims_url}/_control/items",
            json={"items": [{"itemId": "GIFT-BOX", "itemType": "Kit", "members": members}]},
        ).raise_for_status()
        yield s


def _create(
    env: Stack, tran_id: str, lines: list[tuple[str, int]], ship: str = "UPS Ground", **extra: Any
) -> str:
    order = {
        "tranId": tran_id,
        "status": extra.get("status", "B"),
        "shipMethod": ship,
        "shippingAddress": extra.get("address", ADDRESS),
        "lines": [{"itemId": sku, "quantity": qty} for sku, qty in lines],
    }
    response = env.http.post(f"{env.ims_url}/_control/sales_orders", json={"orders": [order]})
    response.raise_for_status()
    return str(response.json()["ids"][tran_id])


def _sync(env: Stack) -> None:
    env.run_job("orders_poll", wait=True)
    wait_until(env.orders_settled, 30, "orders to settle")


def _lines(order: dict[str, Any]) -> list[tuple[str, str, int]]:
    return sorted((line["line_ref"], line["sku"], line["quantity"]) for line in order["lines"])


def _exceptions(env: Stack) -> set[tuple[str, str]]:
    engine = create_engine(env.database_url)
    with engine.connect() as c:
        found = {(e.type, e.entity) for e in list_exceptions(c) if e.state.value == "open"}
    engine.dispose()
    return found


def test_items_then_orders_reach_the_warehouse_once_normalised_and_de_kitted(env: Stack) -> None:
    with env.hub():
        env.run_job("product_sync", wait=True)
        items = env.clarus_items()
        assert {"MUG-1", "TEA-2", "ODDSKU-7"} <= set(items)
        assert "GIFT-BOX" not in items  # kits are not stocked
        assert "OLD-9" not in items  # inactive and never synced
        _create(env, "SO1", [("MUG-1", 1), ("GIFT-BOX", 2), ("odd.sku-7", 3)])
        _sync(env)
        _sync(env)  # the same version read again changes nothing
        order = env.clarus_orders()["SO1"]
    assert env.order_report().mismatched == []
    assert order["ship_method"] == "STD"
    assert order["version"] == 1
    assert _lines(order) == [
        ("1", "MUG-1", 1),
        ("2.1", "MUG-1", 4),
        ("2.2", "TEA-2", 2),
        ("3", "ODDSKU-7", 3),
    ]


def test_unmapped_ship_method_is_held_then_released_when_the_mapping_is_added(env: Stack) -> None:
    with env.hub():
        env.run_job("product_sync", wait=True)
        _create(env, "SO2", [("MUG-1", 1)], ship="Royal Mail Tracked 24")
        _create(env, "SO3", [("OLD-9", 1)])
        _sync(env)
        assert "SO2" not in env.clarus_orders()
        found = _exceptions(env)
        assert ("unmapped_ship_method", "order:SO2") in found
        assert ("inactive_item", "order:SO3") in found
        mapped = env.config.orders.ship_methods
        env.overrides = {"orders.ship_methods": {**mapped, "Royal Mail Tracked 24": "STD"}}
        env.write_config()  # the hub reloads the file; the oracle reads the same settings
        wait_until(lambda: "SO2" in env.clarus_orders(), 30, "the held order to be released")
        assert ("unmapped_ship_method", "order:SO2") not in _exceptions(env)
        assert "SO3" not in env.clarus_orders()
    report = env.order_report()
    assert report.mismatched == [], report.examples
    assert dict(report.held) == {"inactive_item": 1}


def test_edit_before_pick_is_applied_and_after_pick_is_raised(env: Stack) -> None:
    with env.hub():
        env.run_job("product_sync", wait=True)
        early = _create(env, "SO4", [("MUG-1", 1)])
        late = _create(env, "SO5", [("TEA-2", 1)])
        _sync(env)
        env.http.post(
            f"{env.clarus_url}/_control/orders/SO5/advance", json={"status": "picking"}
        ).raise_for_status()
        wait_until(env.orders_settled, 30, "the picking status to be folded")
        held_when_picking = {"SO5": env.clarus_orders()["SO5"]}
        for ims_id in (early, late):
            env.http.patch(
                f"{env.ims_url}/_control/sales_orders/{ims_id}", json={"lines": [{"line": 1, "quantity": 4}]}
            ).raise_for_status()
        _sync(env)
        wait_until(lambda: ("edit_after_pick", "order:SO5") in _exceptions(env), 30, "edit_after_pick")
        orders = env.clarus_orders()
    assert env.order_report(frozen=held_when_picking).mismatched == []
    assert _lines(orders["SO4"]) == [("1", "MUG-1", 4)]
    assert _lines(orders["SO5"]) == [("1", "TEA-2", 1)]


def test_cancellation_and_manual_fulfilment_in_the_ims(env: Stack) -> None:
    with env.hub():
        env.run_job("product_sync", wait=True)
        cancelled = _create(env, "SO6", [("MUG-1", 1)])
        partly = _create(env, "SO7", [("MUG-1", 5), ("TEA-2", 1)])
        _sync(env)
        env.http.post(f"{env.ims_url}/_control/sales_orders/{cancelled}/cancel").raise_for_status()
        env.http.post(
            f"{env.ims_url}/_control/sales_orders/{partly}/fulfil",
            json={"lines": [{"line": 1, "quantity": 2}]},
        ).raise_for_status()
        _sync(env)
        orders = env.clarus_orders()
    assert env.order_report().mismatched == []
    assert orders["SO6"]["status"] == "cancelled"
    assert _lines(orders["SO7"]) == [("1", "MUG-1", 3), ("2", "TEA-2", 1)]


def test_create_answered_too_late_is_retried_without_a_second_order(env: Stack) -> None:
    env.overrides = {"connectors.clarus": {"base_url": env.clarus_url, "timeout_s": 0.5}}
    env.http.put(
        f"{env.clarus_url}/_control/faults", json={"create_timeout_rate": 1.0, "timeout_delay_s": 2}
    ).raise_for_status()
    with env.hub():
        env.run_job("product_sync", wait=True)
        _create(env, "SO8", [("MUG-1", 1)])
        env.run_job("orders_poll", wait=True)
        wait_until(lambda: "SO8" in env.clarus_orders(), 30, "the first (timed out) create to apply")
        env.http.put(
            f"{env.clarus_url}/_control/faults", json={"create_timeout_rate": 0.0}
        ).raise_for_status()
        wait_until(env.orders_settled, 30, "the retry to be answered 409 and counted as done")
        assert env.health()["orders"] == {"released": 1}
    assert list(env.clarus_orders()) == ["SO8"]
    assert env.order_report().mismatched == []


def test_bundle_of_bundles_is_flattened_and_the_sku_audit_reports_collisions(env: Stack) -> None:
    from typer.testing import CliRunner

    from stockbridge.cli import app

    env.create_items(["ab-1", "AB.-1", "SPARE-3"])  # ab-1 and AB.-1 both become AB-1 in the warehouse
    members = [{"itemId": "GIFT-BOX", "quantity": 2}, {"itemId": "TEA-2", "quantity": 1}]
    env.http.post(
        f"{env.ims_url}/_control/items",
        json={"items": [{"itemId": "MEGA-BOX", "itemType": "Kit", "members": members}]},
    ).raise_for_status()
    env.http.put(
        f"{env.clarus_url}/api/v1/items/LEGACY-1",
        headers={"Authorization": "Bearer test-clarus-key"},
        json={"active": True},
    ).raise_for_status()
    with env.hub():
        env.run_job("product_sync", wait=True)
        assert ("sku_collision", "sku:AB-1") in _exceptions(env)
        _create(env, "SO9", [("MEGA-BOX", 1)])
        _sync(env)
        order = env.clarus_orders()["SO9"]
        result = CliRunner().invoke(
            app, ["audit", "skus", "--json", "--config", str(env.write_config())], env=ENVIRON
        )
    assert _lines(order) == [("1.1", "MUG-1", 4), ("1.2", "TEA-2", 3)]
    assert env.order_report().mismatched == []
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert set(report) == {"missing_in_wms", "extra_in_wms", "inactive_mismatch", "collisions"}
    assert report["collisions"] == [{"wms_sku": "AB-1", "ims_skus": ["AB.-1", "ab-1"]}]
    assert "LEGACY-1" in report["extra_in_wms"]
    assert "AB.-1" in report["missing_in_wms"] or "ab-1" in report["missing_in_wms"]
