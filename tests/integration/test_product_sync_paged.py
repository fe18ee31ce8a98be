"""The product master sync reads both item lists a page at a time and holds no list of either:
the plan it carries out a page at a time is `plan_sync`'s over the whole lists.

Memory is not measured here (bench/million.py does): the bound is checked by counting the item
records alive while the sync reads and puts, which a sync holding the catalogue would exceed.
"""

from __future__ import annotations

import asyncio
import gc
import random
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import Engine
from tests.factories import T0, config

from stockbridge.config import Config
from stockbridge.domain.bundles import KitMember
from stockbridge.domain.product_master import CatalogItem, ItemRecord, plan_sync
from stockbridge.engine.clock import FakeClock
from stockbridge.flows.order_sync import sync_products
from stockbridge.store import items_repo
from stockbridge.store.bookkeeping import list_exceptions

PAGE = 50
CONFIG = config()  # sku_rules: strip " ./#", upper case


def _live_records() -> int:
    return sum(1 for o in gc.get_objects() if type(o) is ItemRecord)


class _Products:
    """The IMS's list served a page at a time, each page's records made when it is read (the test
    keeps only tuples), and the records alive counted at each page."""

    def __init__(self, rows: list[tuple[str, bool, bool]], page: int = PAGE) -> None:
        self.rows = rows  # (SKU, active, kit)
        self.page = page
        self.most_alive = 0

    async def inventory_items(self) -> list[ItemRecord]:
        raise AssertionError("the product sync must not read the IMS's list whole")

    async def inventory_item_pages(self) -> AsyncIterator[list[ItemRecord]]:
        for start in range(0, len(self.rows), self.page):
            self.most_alive = max(self.most_alive, _live_records())
            yield [
                ItemRecord(str(start + i), sku, not active, None, "Kit" if kit else "InvtPart")
                for i, (sku, active, kit) in enumerate(self.rows[start : start + self.page])
            ]

    async def kits(self) -> dict[str, list[KitMember]]:
        return {}


class _Warehouse:
    """Clarus's item list a page at a time; puts recorded (and the records alive at each put)."""

    def __init__(self, items: dict[str, bool], products: _Products, page: int = PAGE) -> None:
        self.held = dict(items)
        self.products = products
        self.page = page
        self.puts: list[tuple[str, bool, str]] = []

    async def items(self) -> dict[str, bool]:
        raise AssertionError("the product sync must not read the warehouse's list whole")

    async def item_pages(self) -> AsyncIterator[dict[str, bool]]:
        skus = sorted(self.held)
        for start in range(0, len(skus), self.page):
            yield {sku: self.held[sku] for sku in skus[start : start + self.page]}

    async def put_item(self, sku: str, *, active: bool, description: str = "") -> None:
        if len(self.puts) % 100 == 0:
            self.products.most_alive = max(self.products.most_alive, _live_records())
        self.puts.append((sku, active, description))
        self.held[sku] = active


def _sync(engine: Engine, products: _Products, warehouse: _Warehouse, cfg: Config = CONFIG) -> None:
    asyncio.run(sync_products(engine, products, warehouse, cfg, FakeClock(T0), page_size=PAGE))


def _catalogue(rng: random.Random, n: int) -> tuple[list[tuple[str, bool, bool]], dict[str, bool]]:
    """IMS rows with collisions after normalisation (`ab.1` and `AB1`), SKUs the warehouse refuses,
    kits and inactive items; a warehouse holding some of them, some active otherwise, and others."""
    rows: list[tuple[str, bool, bool]] = []
    for i in range(n):
        roll = rng.random()
        if roll < 0.05:
            rows += [(f"ab.{i}", rng.random() < 0.8, False), (f"AB{i}", True, False)]
        elif roll < 0.08:
            rows.append((f"bad+{i}" if rng.random() < 0.5 else "L" * 51 + str(i), True, False))
        else:
            rows.append((f"sku-{i}", rng.random() < 0.8, rng.random() < 0.05))
    rng.shuffle(rows)
    wms: dict[str, bool] = {}
    for sku, _active, _kit in rows:
        if rng.random() < 0.4:
            wms[sku.upper().replace(".", "")] = rng.random() < 0.7
    wms.update({f"LEGACY-{i}": True for i in range(7)})
    return rows, wms


@pytest.mark.parametrize("seed", [1, 7])
def test_the_paged_sync_does_what_plan_sync_says_over_the_whole_lists(engine: Engine, seed: int) -> None:
    rng = random.Random(seed)
    rows, wms = _catalogue(rng, 400)
    plan = plan_sync(
        [CatalogItem(sku, active, kit) for sku, active, kit in rows], wms, CONFIG.sku_rules.rules()
    )
    products = _Products(rows)
    warehouse = _Warehouse(wms, products)
    _sync(engine, products, warehouse)
    assert sorted(warehouse.puts) == sorted(plan.puts)
    # The catalogue exercises each case.
    assert plan.puts
    assert plan.collisions
    assert plan.invalid
    with engine.connect() as c:
        raised = {(e.type, e.entity): e.detail for e in list_exceptions(c)}
        recorded = items_repo.wms_catalog(c)
        left = items_repo.sync_items_count(c)
    assert {e for t, e in raised if t == "sku_collision"} == {f"sku:{s}" for s in plan.collisions}
    for wms_sku, skus in plan.collisions.items():
        assert ", ".join(skus) in raised[("sku_collision", f"sku:{wms_sku}")]
    assert {e for t, e in raised if t == "invalid_sku"} == {f"sku:{s}" for s in plan.invalid}
    for sku, problem in plan.invalid.items():
        assert raised[("invalid_sku", f"sku:{sku}")].endswith(problem)
    assert recorded == warehouse.held  # the hub's copy of the warehouse's list, read and written
    assert left == 0  # the run's working list is gone

    # Run again: the warehouse holds everything already, so nothing is put.
    warehouse.puts.clear()
    _sync(engine, products, warehouse)
    assert warehouse.puts == []


def test_the_sync_holds_no_more_than_a_page_of_item_records(engine: Engine) -> None:
    rows = [(f"sku-{i}", True, False) for i in range(2_000)]
    products = _Products(rows)
    warehouse = _Warehouse({f"SKU-{i}": True for i in range(0, 2_000, 2)}, products)
    gc.collect()
    before = _live_records()
    _sync(engine, products, warehouse)
    assert len(warehouse.puts) == 1_000
    # Counted at every page read and every 100th put: the page in hand at most, never the catalogue
    # (a sync holding the IMS's list while it puts holds all 2,000).
    assert products.most_alive - before <= PAGE
