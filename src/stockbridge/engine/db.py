"""Run blocking store calls off the event loop: workers are async, SQLAlchemy is not."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine

T = TypeVar("T")


async def in_transaction(engine: Engine, work: Callable[[Connection], T]) -> T:
    """Run `work` in one transaction on a worker thread; commit if it returns, roll back if it raises."""

    def run() -> T:
        with engine.begin() as connection:
            return work(connection)

    return await asyncio.to_thread(run)
