"""Run a coroutine per item, at most `limit` at a time, and collect the results in item order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


async def run_bounded(items: Sequence[T], limit: int, work: Callable[[T], Awaitable[R]]) -> list[R]:
    gate = asyncio.Semaphore(max(1, limit))

    async def one(item: T) -> R:
        async with gate:
            return await work(item)

    return list(await asyncio.gather(*(one(item) for item in items)))
