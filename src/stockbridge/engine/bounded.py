"""Bounded concurrency: a batch gathered at most `limit` at a time, work kept running in slots, or
pages read one ahead of their use."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)


async def run_bounded(items: Sequence[T], limit: int, work: Callable[[T], Awaitable[R]]) -> list[R]:
    gate = asyncio.Semaphore(max(1, limit))

    async def one(item: T) -> R:
        async with gate:
            return await work(item)

    return list(await asyncio.gather(*(one(item) for item in items)))


async def read_ahead(pages: AsyncIterator[T]) -> AsyncGenerator[T, None]:
    """What `pages` yields, the next one asked for as each is handed out: while the consumer stores
    a page, the next is being read, so a paged read goes at the pace of the slower of the far end
    and the consumer, not of both one after the other. At most one page is held ahead.

    A failure reading a page is raised where that page is awaited, after every page before it was
    handed out; a consumer that stops (an error of its own, or cancelled) cancels the read ahead,
    whose outcome is then dropped: the consumer's own failure is the one to report."""
    ahead: asyncio.Future[T] | None = asyncio.ensure_future(anext(pages))
    try:
        while ahead is not None:
            try:
                page = await ahead
            except StopAsyncIteration:
                ahead = None
                return
            ahead = asyncio.ensure_future(anext(pages))
            yield page
    finally:
        if ahead is not None:
            ahead.cancel()
            await asyncio.wait({ahead})
            if not ahead.cancelled():
                ahead.exception()  # retrieved, not raised


class Slots:
    """At most `limit` pieces of work running at once, each on its own task.

    A batch gathered with `run_bounded` ends with its slowest piece, so one far call waiting out its
    timeout holds back everything claimed after it. Work started in slots holds one slot while it
    runs; the caller fills the others as they come free. The work handles its own failures (an
    outbox row records them); anything it lets escape is logged here, and the row's lease expiring
    brings it back.
    """

    def __init__(self, limit: int, name: str) -> None:
        self._limit = max(1, limit)
        self._name = name
        self._running: set[asyncio.Task[object]] = set()
        self._freed = asyncio.Event()

    @property
    def free(self) -> int:
        return self._limit - len(self._running)

    @property
    def running(self) -> int:
        return len(self._running)

    def start(self, work: Coroutine[Any, Any, object]) -> None:
        if self.free <= 0:
            work.close()
            raise RuntimeError(f"{self._name}: no free slot")
        task = asyncio.create_task(work)
        self._running.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[object]) -> None:
        self._running.discard(task)
        self._freed.set()
        if not task.cancelled() and (error := task.exception()) is not None:
            # EventLogger logs the exception being handled; here it comes from a finished task.
            log.error(
                "slot work failed",
                exc_info=error,
                extra={"fields": {"slots": self._name, "next": "lease expiry"}},
            )

    async def wait_for_free_slot(self) -> None:
        while self.free <= 0:
            self._freed.clear()
            await self._freed.wait()

    async def join(self) -> None:
        """Wait until nothing is running."""
        while self._running:
            await asyncio.wait(set(self._running))

    async def cancel(self) -> None:
        """Stop everything running (on shutdown); leases bring the work back."""
        running = list(self._running)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


async def wait_for_any_free_slot(pools: Sequence[Slots]) -> None:
    """Wait until one of `pools` has a free slot (pools of different kinds of work, each filled on
    its own, so that one kind stuck in all its slots does not stop the others)."""
    if any(pool.free > 0 for pool in pools):
        return
    waits = [asyncio.ensure_future(pool.wait_for_free_slot()) for pool in pools]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
