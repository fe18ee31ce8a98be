"""Group commit: many webhook requests, one transaction and one fsync.

Each request hands its event to the writer and waits on a future of its own; the writer (a thread
holding one database connection of its own) takes everything queued, stores it in one transaction,
then resolves every waiting request's future on the event loop. While one commit is on disk the next
group gathers, so the commit rate, not the request rate, bounds the fsyncs (docs/decisions/0003,
0043).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable, Sequence

from sqlalchemy import Engine

from stockbridge.engine.clock import Clock
from stockbridge.store.inbox_repo import GroupStore, InboundEvent

MAX_GROUP = 2000

_Waiting = tuple[InboundEvent, "asyncio.Future[None]"]
_STOP = None


class GroupCommitWriter:
    def __init__(self, engine: Engine, clock: Clock, on_commit: Callable[[], None] | None = None) -> None:
        self._engine = engine
        self._clock = clock
        self._on_commit = on_commit
        # A thread-safe queue the writer thread blocks on: no event-loop task between a request and
        # its group, and one hand-off back to the loop a group (not one a request).
        self._queue: queue.SimpleQueue[_Waiting | None] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="group-commit", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Store what was handed over before, then close the writer's connection."""
        if self._thread is not None:
            self._queue.put(_STOP)
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    def store(self, event: InboundEvent) -> asyncio.Future[None]:
        """A future done once the event is durably stored (or was already); its exception if the
        store failed. Call on the event loop, after `start`."""
        assert self._loop is not None, "the writer is not started"
        done = self._loop.create_future()
        self._queue.put((event, done))  # unbounded: never waits
        return done

    def _run(self) -> None:
        store = GroupStore(self._engine)
        try:
            stopping = False
            while not stopping:
                first = self._queue.get()
                if first is _STOP:
                    break
                group = [first]
                while len(group) < MAX_GROUP:
                    try:
                        waiting = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if waiting is _STOP:
                        stopping = True
                        break
                    group.append(waiting)
                try:
                    store.store([event for event, _ in group], self._clock.now())
                except Exception as exc:  # answered to every waiting request as a 503, never swallowed
                    self._release(group, exc)
                else:
                    self._release(group, None)
        finally:
            store.close()

    def _release(self, group: Sequence[_Waiting], error: Exception | None) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            self._loop.call_soon_threadsafe(self._resolve, group, error)

    def _resolve(self, group: Sequence[_Waiting], error: Exception | None) -> None:
        for _, done in group:
            if done.done():  # the request went away (cancelled) while it waited
                continue
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)
        if error is None and self._on_commit is not None:
            self._on_commit()
