"""The push flow against an in-memory stock channel, on SQLite and PostgreSQL.

The channel counts its calls, so the tests see what a push costs; the clock only moves when told to,
so "at once" means without any time passing.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from tests.factories import T0, config, inbound, movement_event

from stockbridge.connectors.clarus.inbound import ClarusInbound
from stockbridge.domain.errors import RejectedError, RetriableError, StaleFigureError
from stockbridge.engine.clock import FakeClock
from stockbridge.flows.inventory import fold_entries
from stockbridge.flows.ports import ChannelFigure, FigureLine
from stockbridge.flows.stock_push import CycleResult, StockPusher
from stockbridge.monitor.drift import check_drift
from stockbridge.store import inbox_repo, targets_repo
from stockbridge.store.bookkeeping import list_exceptions, read_counters
from stockbridge.store.schema import push_batches
from stockbridge.store.states import ExceptionState

CONFIG = config()
LOCATION = "6"  # the example config's IMS location for WH1


class FakeChannel:
    """A stock channel in memory: figures per (location, SKU), calls counted, failures on demand."""

    def __init__(self, skus: Sequence[str], *, inactive: Sequence[str] = (), max_lines: int = 100) -> None:
        self.name = "ims"
        self.max_lines_per_call = max_lines
        self.compare_and_set = False
        self.figures: dict[tuple[str, str], int] = {(LOCATION, s): 0 for s in [*skus, *inactive]}
        self.inactive = set(inactive)
        self.reads = 0
        self.pushes: list[tuple[str, list[FigureLine]]] = []
        self.failures: list[Exception] = []  # raised by the next pushes, in order
        self.gate: asyncio.Event | None = None  # while set up and not set, a push waits (in flight)
        self.entered = asyncio.Event()  # a push has started
        self.wait = 0.0

    def budget_wait(self) -> float:
        return self.wait

    async def read_figures(self, location: str, skus: Sequence[str]) -> dict[str, ChannelFigure]:
        self.reads += 1
        return {
            s: ChannelFigure(self.figures[(location, s)], s not in self.inactive)
            for s in skus
            if (location, s) in self.figures
        }

    async def push_figures(self, batch_id: str, location: str, lines: Sequence[FigureLine]) -> None:
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.failures:
            raise self.failures.pop(0)
        self.pushes.append((batch_id, list(lines)))
        for line in lines:
            self.figures[(location, line.sku)] = line.quantity

    @property
    def calls(self) -> int:
        return self.reads + len(self.pushes)


def _fold(engine: Engine, events: list[dict[str, Any]]) -> None:
    inbox_repo.store_events(engine, [inbound(e) for e in events], T0)
    while True:
        with engine.begin() as c:
            entries = inbox_repo.claim_pending(c, 1000)
            if not entries:
                return
            fold_entries(c, entries, CONFIG, T0, formats=ClarusInbound())


def _pusher(engine: Engine, channel: FakeChannel, clock: FakeClock, worker: str = "w1") -> StockPusher:
    return StockPusher(
        engine=engine, config=CONFIG, channel=channel, clock=clock, worker_id=worker, rng=random.Random(1)
    )


def _until_idle(pusher: StockPusher) -> None:
    async def drive() -> None:
        for _ in range(20):
            if not (await pusher.run_cycle()).did_work:
                return
        raise AssertionError("the pusher never went idle")

    asyncio.run(drive())


def _figures(engine: Engine) -> dict[tuple[str, str], tuple[int, int | None, bool, str]]:
    with engine.begin() as c:
        return targets_repo.pushed_figures(c, "ims")


def _open(engine: Engine) -> set[tuple[str, str]]:
    with engine.begin() as c:
        return {(e.type, e.entity) for e in list_exceptions(c) if e.state == ExceptionState.OPEN}


def test_a_single_movement_goes_out_at_once(engine: Engine) -> None:
    channel, clock = FakeChannel(["MUG-1"]), FakeClock(T0)
    _fold(engine, [movement_event(1, "MUG-1", {"available": 4, "allocated": 1})])
    result = asyncio.run(_pusher(engine, channel, clock).run_cycle())
    assert result.batches_sent == 1  # no window: the first cycle, with no time passed
    assert (channel.reads, len(channel.pushes)) == (1, 1)
    (_, lines) = channel.pushes[0]
    assert [(ln.sku, ln.quantity, ln.expected) for ln in lines] == [("MUG-1", 5, 0)]
    assert _figures(engine)[("MUG-1", LOCATION)] == (5, 5, False, "ok")
    with engine.begin() as c:
        counters = read_counters(c)
    assert (counters["push.ims.calls"], counters["push.ims.lines"]) == (1, 1)


def test_a_storm_while_a_push_is_in_flight_costs_a_handful_of_calls(engine: Engine) -> None:
    skus = [f"SKU-{i:02d}" for i in range(50)]
    channel, clock = FakeChannel(skus), FakeClock(T0)
    first, second = _pusher(engine, channel, clock, "w1"), _pusher(engine, channel, clock, "w2")
    _fold(engine, [movement_event(1, "SKU-00", {"available": 1})])

    async def storm() -> None:
        channel.gate, channel.entered = asyncio.Event(), asyncio.Event()
        in_flight = asyncio.create_task(first.run_cycle())
        await asyncio.wait_for(channel.entered.wait(), 30)  # its batch is written and being sent
        await asyncio.to_thread(
            _fold,
            engine,
            [movement_event(2 + n, skus[n % 50], {"available": 10 + n}) for n in range(1000)],
        )
        # Another worker finds the channel busy: the storm waits, dirty, for the batch in flight.
        assert not (await second.run_cycle()).did_work
        channel.gate.set()
        await in_flight

    asyncio.run(storm())
    _until_idle(second)
    figures = _figures(engine)
    assert all(figures[(s, LOCATION)][1] == figures[(s, LOCATION)][0] for s in skus)
    assert channel.figures[(LOCATION, "SKU-49")] == 10 + 999
    assert channel.calls <= 4  # the first read and push, then one read and one push for the storm


def test_no_budget_no_read(engine: Engine) -> None:
    channel, clock = FakeChannel(["MUG-1"]), FakeClock(T0)
    _fold(engine, [movement_event(1, "MUG-1", {"available": 4})])
    channel.wait = 0.5
    assert not asyncio.run(_pusher(engine, channel, clock).run_cycle()).did_work
    assert channel.calls == 0
    channel.wait = 0.0
    assert asyncio.run(_pusher(engine, channel, clock).run_cycle()).batches_sent == 1


def test_a_due_batch_waits_for_the_budget_unleased(engine: Engine) -> None:
    """Out of budget, a cycle leases nothing (not even a retry that is due): another worker with
    budget may send it, and this one sends it once its budget returns."""
    channel, clock = FakeChannel(["MUG-1"]), FakeClock(T0)
    _fold(engine, [movement_event(1, "MUG-1", {"available": 3})])
    pusher = _pusher(engine, channel, clock)
    channel.failures.append(RetriableError("fake", "503", status=503))
    asyncio.run(pusher.run_cycle())
    clock.advance(CONFIG.engine.backoff_cap_s)  # the retry is due
    channel.wait = 0.5
    assert not asyncio.run(pusher.run_cycle()).did_work
    with engine.begin() as c:
        ((owner, attempts),) = list(c.execute(select(push_batches.c.lease_owner, push_batches.c.attempts)))
    assert (owner, attempts, channel.pushes) == (None, 1, [])
    channel.wait = 0.0
    assert asyncio.run(pusher.run_cycle()).batches_sent == 1
    assert [(ln.sku, ln.quantity) for _, lines in channel.pushes for ln in lines] == [("MUG-1", 3)]


def test_unknown_and_inactive_skus_are_blocked_in_that_channel(engine: Engine) -> None:
    channel, clock = FakeChannel(["MUG-1"], inactive=["OLD-1"]), FakeClock(T0)
    _fold(
        engine,
        [
            movement_event(1, "MUG-1", {"available": 2}),
            movement_event(2, "OLD-1", {"available": 3}),
            movement_event(3, "NEW-1", {"available": 4}),
        ],
    )
    _until_idle(_pusher(engine, channel, clock))
    figures = _figures(engine)
    assert figures[("MUG-1", LOCATION)] == (2, 2, False, "ok")
    assert figures[("OLD-1", LOCATION)][3] == figures[("NEW-1", LOCATION)][3] == "blocked"
    assert {("unknown_sku", "sku:NEW-1@ims"), ("inactive_sku", "sku:OLD-1@ims")} <= _open(engine)
    assert [ln.sku for _, lines in channel.pushes for ln in lines] == ["MUG-1"]


def test_a_stale_figure_is_read_again_and_recomputed_without_a_failure(engine: Engine) -> None:
    channel, clock = FakeChannel(["MUG-1", "TEA-2"]), FakeClock(T0)
    _fold(
        engine, [movement_event(1, "MUG-1", {"available": 5}), movement_event(2, "TEA-2", {"available": 6})]
    )
    pusher = _pusher(engine, channel, clock)
    channel.failures.append(StaleFigureError("fake", "changeFromQuantity is stale", ("MUG-1",)))
    channel.figures[(LOCATION, "MUG-1")] = 9  # moved in the channel after it was read... say
    asyncio.run(pusher.run_cycle())
    assert channel.pushes == []
    _until_idle(pusher)
    ((_, lines),) = channel.pushes
    assert {(ln.sku, ln.quantity, ln.expected) for ln in lines} == {("MUG-1", 5, 9), ("TEA-2", 6, 0)}
    with engine.begin() as c:
        assert list(c.execute(select(push_batches.c.state))) == [("sent",)]
        assert read_counters(c)["push.ims.stale"] == 1
    assert not {t for t, _ in _open(engine)} & {"push_failed", "unknown_sku", "inactive_sku"}


def test_a_refused_line_blocks_its_sku_and_the_rest_goes_out(engine: Engine) -> None:
    channel, clock = FakeChannel(["A-1", "B-2", "C-3"]), FakeClock(T0)
    _fold(
        engine, [movement_event(n + 1, s, {"available": n + 1}) for n, s in enumerate(["A-1", "B-2", "C-3"])]
    )
    pusher = _pusher(engine, channel, clock)
    channel.failures.append(RejectedError("fake", "item inactive", code="INACTIVE", path="lines[1]"))
    asyncio.run(pusher.run_cycle())  # planned and sent: refused, naming its second line
    assert channel.failures == []
    assert channel.pushes == []
    refused = _refused_sku(engine)
    _until_idle(pusher)
    pushed = {ln.sku for _, lines in channel.pushes for ln in lines}
    assert refused not in pushed
    assert len(pushed) == 2
    assert _figures(engine)[(refused, LOCATION)][3] == "blocked"
    assert ("inactive_sku", f"sku:{refused}@ims") in _open(engine)


def _refused_sku(engine: Engine) -> str:
    blocked = [sku for (sku, _), (_, _, _, state) in _figures(engine).items() if state == "blocked"]
    assert len(blocked) == 1
    return blocked[0]


def test_batches_hold_at_most_the_channels_lines_per_call(engine: Engine) -> None:
    skus = [f"S-{i}" for i in range(5)]
    channel, clock = FakeChannel(skus, max_lines=2), FakeClock(T0)
    _fold(engine, [movement_event(n + 1, s, {"available": 1}) for n, s in enumerate(skus)])
    _until_idle(_pusher(engine, channel, clock))
    assert sorted(len(lines) for _, lines in channel.pushes) == [1, 2, 2]
    assert channel.reads == 1


def test_a_retriable_failure_backs_off_and_the_batch_is_sent_again_under_its_id(engine: Engine) -> None:
    channel, clock = FakeChannel(["MUG-1"]), FakeClock(T0)
    _fold(engine, [movement_event(1, "MUG-1", {"available": 3})])
    pusher = _pusher(engine, channel, clock)
    channel.failures.append(RetriableError("fake", "503", status=503))
    asyncio.run(pusher.run_cycle())
    with engine.begin() as c:
        ((batch_id, attempts),) = list(c.execute(select(push_batches.c.id, push_batches.c.attempts)))
    assert attempts == 1
    assert channel.pushes == []
    assert not asyncio.run(pusher.run_cycle()).did_work  # backing off: not due yet, nothing new to plan
    clock.advance(CONFIG.engine.backoff_cap_s)
    _until_idle(pusher)
    assert [b for b, _ in channel.pushes] == [batch_id]
    assert channel.reads == 1


def test_drift_is_read_through_the_port_and_repaired(engine: Engine) -> None:
    channel, clock = FakeChannel(["MUG-1", "TEA-2"], inactive=["OLD-1"]), FakeClock(T0)
    _fold(
        engine, [movement_event(1, "MUG-1", {"available": 5}), movement_event(2, "TEA-2", {"available": 6})]
    )
    pusher = _pusher(engine, channel, clock)
    _until_idle(pusher)
    channel.figures[(LOCATION, "MUG-1")] = 3  # someone changed it in the channel
    report = asyncio.run(check_drift(engine, [channel], CONFIG, clock))
    assert (report.checked, report.units) == (2, 2)
    assert ("drift_manual_edit", "sku:MUG-1@ims/6") in _open(engine)
    _until_idle(pusher)
    assert channel.figures[(LOCATION, "MUG-1")] == 5
    assert asyncio.run(check_drift(engine, [channel], CONFIG, clock)).drifted == []
    assert ("drift_manual_edit", "sku:MUG-1@ims/6") not in _open(engine)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_recording_a_push_while_a_fold_locks_its_targets_does_not_deadlock(engine: Engine) -> None:
    # Two workers: one records a batch the channel answered, whose lines are not in key order; the
    # other folds movements of the same SKUs, locking their targets in key order (lock_targets).
    # The fold holds the first key and is about to ask for the second while the recording waits.
    # Recording the push in its lines' order would hold the second and wait for the first: a
    # deadlock PostgreSQL breaks by failing one of them (seen in bench/workers.py).
    channel, clock = FakeChannel(["MUG-1", "MUG-2"]), FakeClock(T0)
    _fold(
        engine, [movement_event(1, "MUG-1", {"available": 4}), movement_event(2, "MUG-2", {"available": 6})]
    )
    pusher = _pusher(engine, channel, clock)
    _, rows = asyncio.run(pusher._claim())
    (batch,) = asyncio.run(pusher._plan_batches(rows, CycleResult()))  # written leased to the pusher
    keys = [("ims", "MUG-1", LOCATION), ("ims", "MUG-2", LOCATION)]
    assert sorted(line.sku for line in batch.lines) == ["MUG-1", "MUG-2"]
    backwards = replace(batch, lines=tuple(sorted(batch.lines, key=lambda line: line.sku, reverse=True)))
    warehouse_of = dict.fromkeys(keys, "WH1")
    fold_holds_first, fold_may_go_on = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    recorder_pid: list[int] = []

    def fold() -> None:
        try:
            with engine.begin() as c:
                targets_repo.lock_targets(c, keys[:1], warehouse_of, T0)
                fold_holds_first.set()
                fold_may_go_on.wait()
                targets_repo.lock_targets(c, keys, warehouse_of, T0)
        except BaseException as exc:
            errors.append(exc)

    def record() -> None:
        fold_holds_first.wait()
        try:
            with engine.begin() as c:
                recorder_pid.append(int(c.execute(text("SELECT pg_backend_pid()")).scalar_one()))
                pusher._sent(c, backwards)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=fold), threading.Thread(target=record)]
    for thread in threads:
        thread.start()
    with engine.connect() as watcher:  # until the recording waits for a row lock the fold holds
        while (
            not recorder_pid
            or not watcher.execute(
                text("SELECT cardinality(pg_blocking_pids(:pid)) > 0"), {"pid": recorder_pid[0]}
            ).scalar_one()
        ):
            watcher.rollback()
            time.sleep(0.01)
    fold_may_go_on.set()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _figures(engine) == {
        ("MUG-1", LOCATION): (4, 4, False, "ok"),
        ("MUG-2", LOCATION): (6, 6, False, "ok"),
    }


class ReadOutlastingTheLease(FakeChannel):
    """Its first read runs `meanwhile` before answering: time passes and other workers go on."""

    def __init__(self, skus: Sequence[str], meanwhile: Callable[[], Awaitable[None]]) -> None:
        super().__init__(skus)
        self.meanwhile: Callable[[], Awaitable[None]] | None = meanwhile

    async def read_figures(self, location: str, skus: Sequence[str]) -> dict[str, ChannelFigure]:
        figures = await super().read_figures(location, skus)
        meanwhile, self.meanwhile = self.meanwhile, None
        if meanwhile is not None:
            await meanwhile()
        return figures


def test_a_read_that_outlasts_its_lease_records_nothing_and_the_next_claim_is_smaller(engine: Engine) -> None:
    # A budget every worker spends (a Shopify store's) can pace one worker's read past its lease;
    # another worker then claims the same targets and pushes them. The first must not write a batch
    # for them too: it would be pushed and never acknowledged on them (decision 0037: the 4-worker
    # Shopify run whose batches kept meeting stale figures).
    skus = ["MUG-1", "MUG-2", "MUG-3"]
    clock = FakeClock(T0)
    _fold(engine, [movement_event(i + 1, sku, {"available": 3 + i}) for i, sku in enumerate(skus)])

    async def other_worker_takes_over() -> None:
        clock.advance(CONFIG.engine.lease_s + 1)
        assert (await second.run_cycle()).batches_sent == 1

    channel = ReadOutlastingTheLease(skus, other_worker_takes_over)
    first, second = _pusher(engine, channel, clock, "w1"), _pusher(engine, channel, clock, "w2")
    result = asyncio.run(first.run_cycle())
    assert (result.targets_claimed, result.batches_sent) == (0, 0)
    assert len(channel.pushes) == 1  # the other worker's: each figure pushed once
    assert _figures(engine) == {(s, LOCATION): (3 + i, 3 + i, False, "ok") for i, s in enumerate(skus)}
    with engine.begin() as c:
        assert {r.state for r in c.execute(select(push_batches.c.state))} == {"sent"}
    # Its next claim is half the size, and grows back once a read fits in its lease.
    assert first._claim_size == CONFIG.engine.claim_batch // 2
    _fold(engine, [movement_event(9, "MUG-1", {"available": 9})])
    asyncio.run(first.run_cycle())
    assert first._claim_size == CONFIG.engine.claim_batch
