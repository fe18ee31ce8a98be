"""Slots: a piece of work that hangs holds one slot; the others keep being refilled."""

from __future__ import annotations

import asyncio
import logging

import pytest

from stockbridge.engine.bounded import Slots, wait_for_any_free_slot


def test_a_hung_piece_holds_one_slot_while_the_others_are_refilled() -> None:
    async def scenario() -> None:
        slots = Slots(2, "test")
        release = asyncio.Event()
        done: list[str] = []

        async def hangs() -> None:
            await release.wait()
            done.append("hung")

        async def quick(name: str) -> None:
            done.append(name)

        slots.start(hangs())
        for name in ("a", "b", "c"):  # one free slot, refilled three times while the first hangs
            await asyncio.wait_for(slots.wait_for_free_slot(), 5)
            slots.start(quick(name))
        await asyncio.wait_for(slots.wait_for_free_slot(), 5)
        assert done == ["a", "b", "c"]
        assert (slots.running, slots.free) == (1, 1)
        release.set()
        await asyncio.wait_for(slots.join(), 5)
        assert done[-1] == "hung"
        assert slots.free == 2

    asyncio.run(scenario())


def test_starting_past_the_limit_is_refused() -> None:
    async def scenario() -> None:
        slots = Slots(1, "test")
        never = asyncio.Event()
        slots.start(never.wait())
        with pytest.raises(RuntimeError, match="no free slot"):
            slots.start(never.wait())
        await slots.cancel()
        assert slots.free == 1

    asyncio.run(scenario())


def test_work_that_fails_is_logged_and_frees_its_slot(caplog: pytest.LogCaptureFixture) -> None:
    async def fails() -> None:
        raise ValueError("store unreachable")

    async def scenario() -> None:
        slots = Slots(1, "order commands")
        slots.start(fails())
        await asyncio.wait_for(slots.join(), 5)
        assert slots.free == 1

    with caplog.at_level(logging.ERROR, logger="stockbridge.engine.bounded"):
        asyncio.run(scenario())
    assert "slot work failed" in caplog.text
    assert "store unreachable" in caplog.text


def test_waiting_on_several_pools_ends_when_any_of_them_frees_a_slot() -> None:
    async def scenario() -> None:
        store, ims = Slots(1, "store"), Slots(1, "ims")
        store_hangs, ims_done = asyncio.Event(), asyncio.Event()
        store.start(store_hangs.wait())
        await asyncio.wait_for(wait_for_any_free_slot([store, ims]), 5)  # ims is free: at once
        ims.start(ims_done.wait())
        waiting = asyncio.create_task(wait_for_any_free_slot([store, ims]))
        await asyncio.sleep(0)  # let it start waiting: both pools are full
        assert not waiting.done()
        ims_done.set()  # the ims pool frees its slot; the store's stays held
        await asyncio.wait_for(waiting, 5)
        assert (store.free, ims.free) == (0, 1)
        await store.cancel()

    asyncio.run(scenario())
