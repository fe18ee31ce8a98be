"""The scheduler's rest between ticks ends when a job is asked for (or the worker stops), not only
when its second is up; what it waited on leaves no task behind."""

from __future__ import annotations

import asyncio

from stockbridge.engine.worker import _first_of


def test_a_wake_ends_the_rest_however_long_it_was_to_be() -> None:
    async def scenario() -> set[asyncio.Task[object]]:
        stop, wake = asyncio.Event(), asyncio.Event()
        asyncio.get_running_loop().call_soon(wake.set)
        await _first_of(stop, wake, longest_s=3600)  # returns at the wake, not in an hour
        assert wake.is_set()
        assert not stop.is_set()
        await asyncio.sleep(0)  # let the cancelled waits finish
        return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}

    assert asyncio.run(scenario()) == set()


def test_stop_ends_it_too() -> None:
    async def scenario() -> None:
        stop, wake = asyncio.Event(), asyncio.Event()
        stop.set()
        await _first_of(stop, wake, longest_s=3600)
        assert not wake.is_set()

    asyncio.run(scenario())
