from __future__ import annotations

import asyncio

from sqlalchemy import Engine
from tests.factories import config

from stockbridge.connectors.errors import RetriableError
from stockbridge.engine.clock import FakeClock
from stockbridge.monitor.connector_health import ConnectorHealth
from stockbridge.store.bookkeeping import list_exceptions
from stockbridge.store.states import ExceptionState


def _states(engine: Engine) -> dict[str, ExceptionState]:
    with engine.connect() as c:
        return {e.entity: e.state for e in list_exceptions(c) if e.type == "connector_failing"}


def test_three_failures_open_an_exception_and_a_success_resolves_it(engine: Engine) -> None:
    health = ConnectorHealth(engine, config(), FakeClock(), threshold=3)
    outage = RetriableError("ims", "503 SERVICE_UNAVAILABLE")

    async def scenario() -> None:
        await health.failed(outage)
        await health.failed(outage)
        assert _states(engine) == {}
        await health.failed(outage)
        assert _states(engine) == {"connector:ims": ExceptionState.OPEN}
        await health.succeeded("clarus")
        assert _states(engine) == {"connector:ims": ExceptionState.OPEN}
        await health.succeeded("ims")
        assert _states(engine) == {"connector:ims": ExceptionState.RESOLVED}

    asyncio.run(scenario())
