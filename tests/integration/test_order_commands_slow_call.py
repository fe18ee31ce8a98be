"""One Clarus create hanging until its timeout must not hold up other orders' commands.

The order command sender runs against the Clarus simulator over real HTTP and a real store (SQLite
and PostgreSQL). The simulator's `create_timeout_rate` fault holds the answer to one create (the
order is applied, the answer withheld); orders folded after it must reach the warehouse long before
the hung call times out, and the hung one is created exactly once in the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from tests.clarus_support import AUTH, clarus_client
from tests.factories import config

from stockbridge.connectors.clarus.client import ClarusClient
from stockbridge.connectors.clarus.orders import ClarusOrders
from stockbridge.domain.order_state import OrderState
from stockbridge.domain.orders import OrderLine, SalesOrder
from stockbridge.domain.shipping import Address
from stockbridge.engine.clock import SystemClock
from stockbridge.flows.order_sync import OrderCommandSender
from stockbridge.flows.orders import OrderFolder
from stockbridge.store import items_repo, orders_repo
from stockbridge.store.items_repo import ImsItem
from stockbridge.store.schema import order_commands

CONFIG = config(
    orders={"ship_methods": {"UPS Ground": "STD"}},
    sku_rules={"case": "upper"},
    engine={"backoff_base_s": 0.1, "backoff_cap_s": 0.5},
)
ADDRESS = Address("Ada Lovelace", "1 Analytical St", "", "London", "", "N1 9GU", "GB")
CALL_TIMEOUT_S = 10.0  # the hub's timeout for one Clarus call
HANG_S = 60.0  # how long the simulator withholds the answer
OTHERS_DEADLINE_S = 6.0  # "well before the hang ends": before even the hub's own timeout


@pytest.fixture
def clarus_url() -> Iterator[str]:
    with clarus_client() as client:
        for sku in ("MUG", "TEA"):
            client.put(f"/api/v1/items/{sku}", json={"active": True}).raise_for_status()
        yield str(client.base_url).rstrip("/")


@pytest.fixture
def catalog(engine: Engine) -> Engine:
    with engine.begin() as c:
        items_repo.upsert_items(c, [ImsItem("mug", "101", False), ImsItem("tea", "102", False)])
        items_repo.record_wms_items(c, {"MUG": (True, "mug"), "TEA": (True, "tea")}, SystemClock().now())
    return engine


def _release(engine: Engine, ims_id: str, reference: str) -> None:
    """The IMS order reaches the release status: the fold writes its create command."""
    order = SalesOrder(
        ims_id, reference, "B", "UPS Ground", ADDRESS, (OrderLine(1, "mug", 1),), "2026-11-26 09:00:00"
    )
    with engine.begin() as c:
        OrderFolder(c, CONFIG, SystemClock().now()).fold_sales_order(order)


def _state(engine: Engine, reference: str) -> OrderState | None:
    with engine.connect() as c:
        record = orders_repo.get_order(c, reference=reference)
    return None if record is None else record.state


async def _eventually(condition: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> float:
    """Poll until `condition` holds; returns the seconds it took. Fails past the deadline."""
    started = time.monotonic()
    while not await condition():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"not within {timeout_s}s: {what}")
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def _drive(sender: OrderCommandSender, stop: asyncio.Event) -> None:
    """The worker's command loop: run a cycle, and when nothing was due wait a moment."""
    while not stop.is_set():
        if not await sender.run_cycle():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.05)


def test_a_hung_create_does_not_hold_up_other_orders(catalog: Engine, clarus_url: str) -> None:
    engine = catalog
    client = ClarusClient(clarus_url, "clarus-dev-key", timeout_s=CALL_TIMEOUT_S)
    sender = OrderCommandSender(
        engine=engine,
        config=lambda: CONFIG,
        clarus=ClarusOrders(client),
        clock=SystemClock(),
        worker_id="w1",
        concurrency=4,
    )

    control = httpx.AsyncClient(base_url=clarus_url, timeout=30, headers=AUTH)

    async def in_clarus(*references: str) -> bool:
        orders = (await control.get("/_control/orders")).json()["orders"]
        return all(r in orders for r in references)

    async def all_released() -> bool:
        states = await asyncio.to_thread(lambda: [_state(engine, r) for r in ("SO1", "SO2", "SO3")])
        return states == [OrderState.RELEASED] * 3

    async def scenario() -> None:
        stop = asyncio.Event()
        await control.put("/_control/faults", json={"create_timeout_rate": 1.0, "timeout_delay_s": HANG_S})
        _release(engine, "1", "SO1")
        driver = asyncio.create_task(_drive(sender, stop))
        try:
            await _eventually(lambda: in_clarus("SO1"), 10, "SO1's create to be applied (its answer held)")
            await control.put("/_control/faults", json={"create_timeout_rate": 0.0})
            await asyncio.to_thread(_release, engine, "2", "SO2")
            await asyncio.to_thread(_release, engine, "3", "SO3")
            await _eventually(
                lambda: in_clarus("SO2", "SO3"), OTHERS_DEADLINE_S, "SO2 and SO3 to reach Clarus"
            )
            # SO1's create is still waiting for its answer: the others went past it, not after it.
            assert await asyncio.to_thread(_state, engine, "SO1") == OrderState.RELEASE_PENDING
            await _eventually(all_released, CALL_TIMEOUT_S + 30, "SO1's retry to be answered 409, as done")
        finally:
            stop.set()
            await driver
            await sender.aclose()
            await client.aclose()
            await control.aclose()

    asyncio.run(scenario())
    events = httpx.get(
        f"{clarus_url}/api/v1/events", params={"warehouse_id": "WH1", "after_sequence": 0}, headers=AUTH
    ).json()["data"]
    created = [e["data"]["reference"] for e in events if e["data"].get("previous_status", "") is None]
    assert sorted(created) == ["SO1", "SO2", "SO3"]  # SO1 created once, despite the retry
    with engine.connect() as c:
        rows: list[Any] = list(c.execute(select(order_commands).order_by(order_commands.c.reference)))
    assert [(r.reference, r.kind, r.state, r.attempts) for r in rows] == [
        ("SO1", "create", "sent", 1),  # one timed-out attempt, then the 409 counted as done
        ("SO2", "create", "sent", 0),
        ("SO3", "create", "sent", 0),
    ]
