"""A worker's loops run when there is work for them, not at the next poll: a push loop held back by
its channel's budget pushes as soon as the budget returns, with no new work to wake it and an idle
poll far away (engine.idle_poll_s is an hour here)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import Engine
from tests.factories import T0, config, inbound, movement_event

from stockbridge.connectors.clarus.inbound import ClarusInbound
from stockbridge.domain.inbound import WAREHOUSE_ORDER_STATUS
from stockbridge.engine.clock import FakeClock
from stockbridge.engine.connect import connect
from stockbridge.engine.worker import Worker
from stockbridge.flows.inventory import fold_entries
from stockbridge.flows.ports import ChannelFigure, FigureLine
from stockbridge.store import inbox_repo
from stockbridge.store.inbox_repo import InboundEvent

CONFIG = config(engine__idle_poll_s=3600, hub__register_webhooks=False)


class _SpentChannel:
    """The IMS as a channel whose budget is spent for the next `held_s` seconds (real time: the
    worker waits on the event loop's clock), then free."""

    def __init__(self, held_s: float) -> None:
        self.name = "ims"
        self.max_lines_per_call = 100
        self.compare_and_set = False  # absolute figures, as the IMS sets them
        self.free_at = time.monotonic() + held_s
        self.asked = 0
        self.pushed: list[FigureLine] = []
        self.done = asyncio.Event()

    def budget_wait(self) -> float:
        self.asked += 1
        return max(0.0, self.free_at - time.monotonic())

    async def read_figures(self, location: str, skus: Sequence[str]) -> dict[str, ChannelFigure]:
        return {sku: ChannelFigure(0) for sku in skus}

    async def push_figures(self, batch_id: str, location: str, lines: Sequence[FigureLine]) -> None:
        self.pushed += lines
        self.done.set()


def test_a_channel_out_of_budget_pushes_when_its_budget_returns(engine: Engine) -> None:
    inbox_repo.store_events(engine, [inbound(movement_event(1, "MUG-1", {"available": 5}))], T0)
    with engine.begin() as c:
        fold_entries(c, inbox_repo.claim_pending(c, 10), CONFIG, T0, formats=ClarusInbound())

    async def go() -> None:
        connections = connect(CONFIG, {name: "wakes-test-value" for name in CONFIG.required_env().values()})
        channel = _SpentChannel(held_s=0.2)
        connections.stock_channels = {"ims": channel}
        worker = Worker(engine=engine, config=CONFIG, connections=connections, clock=FakeClock(T0))
        stop = asyncio.Event()
        # The push loop alone: the scheduled jobs wake every loop when they finish.
        running = asyncio.create_task(worker._push_loop("ims", stop))
        try:
            await asyncio.wait_for(channel.done.wait(), timeout=30)  # never, if it waited for the poll
        finally:
            stop.set()
            worker.push_wakes["ims"].set()
            await running
            await connections.aclose()
        assert [(line.sku, line.quantity) for line in channel.pushed] == [("MUG-1", 5)]
        assert channel.asked >= 2  # it was held back, then went when the budget returned

    asyncio.run(go())


def test_a_trickle_is_folded_as_it_arrives_and_a_stream_in_groups(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a fold, the worker waits `fold_gather_s` for the next group only when the fold found
    at least `fold_gather_min` entries: one movement at a time (nominal load) is not held back."""
    cfg = config(engine__fold_gather_min=3, engine__fold_gather_s=0.5, hub__register_webhooks=False)
    gathered: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(seconds: float) -> None:
        gathered.append(seconds)
        await real_sleep(0)

    async def go() -> list[tuple[int, list[float]]]:
        connections = connect(cfg, {name: "wakes-test-value" for name in cfg.required_env().values()})
        worker = Worker(engine=engine, config=cfg, connections=connections, clock=FakeClock(T0))
        monkeypatch.setattr("stockbridge.engine.worker.asyncio.sleep", sleep)
        seen = []
        try:
            for first, count in ((1, 1), (2, 2), (4, 3), (7, 5)):
                events = [movement_event(first + k, "MUG-1", {"available": first + k}) for k in range(count)]
                inbox_repo.store_events(engine, [inbound(e) for e in events], T0)
                gathered.clear()
                seen.append((await worker.fold_once(), list(gathered)))
        finally:
            await connections.aclose()
        return seen

    assert asyncio.run(go()) == [(1, []), (2, []), (3, [0.5]), (5, [0.5])]


def test_a_streams_gather_grows_while_it_lasts_and_a_trickle_resets_it(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each fold of a stream lets the next group gather twice as long as the last, up to
    `fold_gather_max_s`: a long burst is folded in few large groups (a fold has a fixed cost). A fold
    that finds a trickle folds the next group as it arrives and starts the gather short again."""
    cfg = config(
        engine__fold_gather_min=2,
        engine__fold_gather_s=0.1,
        engine__fold_gather_max_s=0.3,
        hub__register_webhooks=False,
    )
    gathered: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(seconds: float) -> None:
        gathered.append(seconds)
        await real_sleep(0)

    async def go() -> None:
        connections = connect(cfg, {name: "wakes-test-value" for name in cfg.required_env().values()})
        worker = Worker(engine=engine, config=cfg, connections=connections, clock=FakeClock(T0))
        monkeypatch.setattr("stockbridge.engine.worker.asyncio.sleep", sleep)
        sequence = 0
        try:
            for count in (2, 2, 2, 2, 1, 2):
                events = [movement_event(sequence + k + 1, "MUG-1", {"available": k}) for k in range(count)]
                sequence += count
                inbox_repo.store_events(engine, [inbound(e) for e in events], T0)
                assert await worker.fold_once() == count
        finally:
            await connections.aclose()

    asyncio.run(go())
    assert gathered == [0.1, 0.2, 0.3, 0.3, 0.1]  # the trickle (1) waited for nothing and reset it


def test_a_fold_of_stock_wakes_the_pushers_and_only_other_kinds_wake_the_order_senders(
    engine: Engine,
) -> None:
    """Movements make no order, storefront or fulfilment commands: a burst of them must not wake
    those three loops at every fold (each wake is a transaction that finds nothing)."""

    async def go() -> list[tuple[bool, bool, bool, bool]]:
        connections = connect(CONFIG, {name: "wakes-test-value" for name in CONFIG.required_env().values()})
        worker = Worker(engine=engine, config=CONFIG, connections=connections, clock=FakeClock(T0))
        seen = []
        try:
            order = InboundEvent("clarus", "evt_order_1", WAREHOUSE_ORDER_STATUS, '{"id": "evt_order_1"}')
            for stored in ([inbound(movement_event(1, "MUG-1", {"available": 5}))], [order]):
                inbox_repo.store_events(engine, stored, T0)
                for wake in (worker.command_wake, worker.storefront_wake, worker.fulfilment_wake):
                    wake.clear()
                worker.push_wakes["ims"].clear()
                await worker.fold_once()
                seen.append(
                    (
                        worker.push_wakes["ims"].is_set(),
                        worker.command_wake.is_set(),
                        worker.storefront_wake.is_set(),
                        worker.fulfilment_wake.is_set(),
                    )
                )
        finally:
            await connections.aclose()
        return seen

    # The order entry (unreadable here, so set aside) still wakes the senders: they look.
    assert asyncio.run(go()) == [(True, False, False, False), (True, True, True, True)]


def test_an_idle_loop_looks_ever_less_often_and_a_wake_or_work_makes_it_look_soon_again(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loop whose work this process makes (and wakes it for) backs its idle poll off from
    `idle_poll_s` to `idle_poll_max_s`; the fold, whose inbox other processes fill, never does."""
    cfg = config(engine__idle_poll_s=0.05, engine__idle_poll_max_s=0.3, hub__register_webhooks=False)
    waits: list[float] = []
    real_wait_for = asyncio.wait_for

    async def go(backs_off: bool, plan: list[str]) -> list[float]:
        """`plan`: what each step finds, in order: "idle", "work", or "wake" (idle, then woken)."""
        connections = connect(cfg, {name: "wakes-test-value" for name in cfg.required_env().values()})
        worker = Worker(engine=engine, config=cfg, connections=connections, clock=FakeClock(T0))
        stop, wake = asyncio.Event(), asyncio.Event()
        steps = iter(plan)
        woken = False
        waits.clear()

        async def step() -> int:
            nonlocal woken
            now = next(steps, None)
            if now is None:
                stop.set()
                return 1
            woken = now == "wake"  # new work in this process arrives while the loop waits
            return int(now == "work")

        async def wait_for(awaitable: Any, delay: float) -> None:
            waits.append(delay)
            awaitable.close()
            if not woken:
                raise TimeoutError

        monkeypatch.setattr("stockbridge.engine.worker.asyncio.wait_for", wait_for)
        try:
            await worker._loop("test", step, wake, stop, backs_off=backs_off)
        finally:
            monkeypatch.setattr("stockbridge.engine.worker.asyncio.wait_for", real_wait_for)
            await connections.aclose()
        return list(waits)

    plan = ["idle", "idle", "idle", "idle", "idle", "work", "idle", "idle", "wake", "idle"]
    assert asyncio.run(go(True, plan)) == [0.05, 0.1, 0.2, 0.3, 0.3, 0.05, 0.1, 0.2, 0.05]
    assert asyncio.run(go(False, plan)) == [0.05] * 9
