"""Group commit: many webhook requests, one transaction and one fsync.

Each request hands its event to the writer and waits; the writer takes everything queued, stores it
in one transaction, then answers every waiting request. While one commit is on disk the next group
gathers, so the commit rate, not the request rate, bounds the fsyncs (docs/decisions/0003).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from sqlalchemy import Engine

from stockbridge.engine.clock import Clock
from stockbridge.store.inbox_repo import InboundEvent, store_events

MAX_GROUP = 2000


class GroupCommitWriter:
    def __init__(self, engine: Engine, clock: Clock, on_commit: Callable[[], None] | None = None) -> None:
        self._engine = engine
        self._clock = clock
        self._queue: asyncio.Queue[tuple[InboundEvent, asyncio.Future[None]]] = asyncio.Queue()
        self._on_commit = on_commit
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="group-commit")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def store(self, event: InboundEvent) -> None:
        """Return once the event is durably stored (or was already); raise if the store failed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((event, done))  # unbounded: never waits
        await done

    async def _run(self) -> None:
        while True:
            group = [await self._queue.get()]
            while len(group) < MAX_GROUP and not self._queue.empty():
                group.append(self._queue.get_nowait())
            events = [event for event, _ in group]
            try:
                await asyncio.to_thread(store_events, self._engine, events, self._clock.now())
            except Exception as exc:  # answered to every waiting request as a 503, never swallowed
                for _, done in group:
                    if not done.done():
                        done.set_exception(exc)
                continue
            for _, done in group:
                if not done.done():
                    done.set_result(None)
            if self._on_commit is not None:
                self._on_commit()
