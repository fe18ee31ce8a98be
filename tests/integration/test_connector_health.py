"""Connector health: circuit state, error rate and throttling per connector, as exceptions and as
Prometheus metrics, with the IMS simulator failing and throttling over real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy import Engine
from tests.factories import config

from stockbridge.config import Config
from stockbridge.connectors.errors import ConnectorError, RetriableError
from stockbridge.connectors.netsuite.auth import BearerAuth
from stockbridge.connectors.netsuite.client import NetSuiteClient
from stockbridge.connectors.rest import CallStats
from stockbridge.domain.circuit import Circuit
from stockbridge.engine.clock import FakeClock
from stockbridge.engine.connect import connect
from stockbridge.monitor.connector_health import ConnectorHealth, ConnectorMetrics
from stockbridge.servers import serve_in_thread
from stockbridge.simulators import ims as ims_sim
from stockbridge.store.bookkeeping import list_exceptions
from stockbridge.store.states import ExceptionState

IMS_TOKEN = ims_sim.ImsSettings().bearer_tokens[0]


async def _put(url: str, body: dict[str, object]) -> None:
    """A change through the simulator's control API."""
    async with httpx.AsyncClient() as http:
        (await http.put(url, json=body)).raise_for_status()


def _states(engine: Engine, kind: str = "connector_failing") -> dict[str, tuple[str, ExceptionState]]:
    with engine.connect() as c:
        return {e.entity: (e.owner, e.state) for e in list_exceptions(c) if e.type == kind}


def _metric(health: ConnectorHealth, name: str, system: str) -> float:
    registry = CollectorRegistry()
    registry.register(ConnectorMetrics(health))
    text = generate_latest(registry).decode()
    found = re.search(rf'^{name}{{system="{system}"}} (\S+)$', text, re.MULTILINE)
    assert found is not None, f"{name} for {system} not in /metrics:\n{text}"
    return float(found.group(1))


@pytest.fixture
def ims_url() -> Iterator[str]:
    with serve_in_thread(ims_sim.create_app(ims_sim.ImsSettings())) as url:
        httpx.post(f"{url}/_control/items", json={"items": [{"itemId": "A-1"}]}).raise_for_status()
        yield url


def test_failures_in_a_row_open_the_circuit_and_a_quiet_stretch_closes_it(engine: Engine) -> None:
    clock = FakeClock()
    health = ConnectorHealth(engine, config(), clock)
    outage = RetriableError("ims", "503 SERVICE_UNAVAILABLE")

    async def scenario() -> None:
        await health.failed(outage)
        await health.failed(outage)
        assert _states(engine) == {}
        await health.failed(outage)
        assert _states(engine) == {"connector:ims": ("integration", ExceptionState.OPEN)}
        await health.succeeded("clarus")
        await health.succeeded("ims")  # half-open: one success is not yet health
        assert health.circuit("ims") is Circuit.HALF_OPEN
        await health.failed(outage)  # failing again half-open: open at once
        assert health.circuit("ims") is Circuit.OPEN
        await health.succeeded("ims")
        clock.advance(14)
        await health.review()
        assert _states(engine)["connector:ims"][1] is ExceptionState.OPEN
        clock.advance(1)  # 15 s (connector_health.close_after_s) without a failure
        await health.review()
        assert health.circuit("ims") is Circuit.CLOSED
        assert _states(engine) == {"connector:ims": ("integration", ExceptionState.RESOLVED)}

    asyncio.run(scenario())


def _config(ims_url: str) -> Config:
    return config(connectors__ims__base_url=ims_url)


def _env(cfg: Config) -> dict[str, str]:
    return {name: IMS_TOKEN for name in cfg.required_env().values()}


def test_an_ims_outage_opens_connector_failing_and_the_circuit_and_recovery_resolves_them(
    engine: Engine, ims_url: str
) -> None:
    cfg = _config(ims_url)

    clock = FakeClock()

    async def scenario() -> None:
        connections = connect(cfg, _env(cfg))
        health = ConnectorHealth(engine, cfg, clock, stats=connections.call_stats)
        ims = connections.stock_channels["ims"]

        async def read_once() -> None:
            """One step of a loop that reads the IMS, reporting to health as the worker does."""
            try:
                await ims.read_figures("6", ["A-1"])
            except ConnectorError as exc:
                await health.failed(exc, system="ims")
            else:
                await health.succeeded("ims")

        try:
            await read_once()
            assert _metric(health, "stockbridge_connector_circuit_state", "ims") == 0
            await _put(f"{ims_url}/_control/faults", {"outage": True})
            for _ in range(3):
                await read_once()
            assert _states(engine) == {"connector:ims": ("integration", ExceptionState.OPEN)}
            assert _metric(health, "stockbridge_connector_circuit_state", "ims") == 2
            assert _metric(health, "stockbridge_connector_error_rate", "ims") == pytest.approx(3 / 5)
            assert _metric(health, "stockbridge_connector_failures_total", "ims") == 3
            assert _metric(health, "stockbridge_connector_circuit_state", "clarus") == 0

            await _put(f"{ims_url}/_control/faults", {"outage": False})
            await read_once()
            assert _metric(health, "stockbridge_connector_circuit_state", "ims") == 1  # half-open
            assert _states(engine)["connector:ims"][1] is ExceptionState.OPEN
            clock.advance(cfg.connector_health.close_after_s)
            await read_once()
            assert _metric(health, "stockbridge_connector_circuit_state", "ims") == 0
            assert _states(engine) == {"connector:ims": ("integration", ExceptionState.RESOLVED)}
        finally:
            await connections.aclose()

    asyncio.run(scenario())


class _Monotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_throttled_ims_opens_connector_throttled_once_it_lasts_and_resolves_when_it_stops(
    engine: Engine, ims_url: str
) -> None:
    cfg = config(connector_health={"throttled_share": 0.5, "throttled_for_s": 120, "min_calls": 10})
    monotonic, clock = _Monotonic(), FakeClock()
    stats = CallStats("ims", cfg.connector_health.window_s, monotonic)
    health = ConnectorHealth(engine, cfg, clock, stats={"ims": stats})

    async def calls(n: int) -> None:
        client = NetSuiteClient(ims_url, BearerAuth(IMS_TOKEN), stats=stats)  # no limiter: every 429 met
        try:
            for _ in range(n):
                with contextlib.suppress(RetriableError):  # counted by the stats, as a worker's would be
                    await client.on_hand("6", ["1"])
        finally:
            await client.aclose()

    async def scenario() -> None:
        # Another integration on the same account spends nearly all of it: one call a minute is left.
        await _put(f"{ims_url}/_control/limits", {"calls_per_second": 1 / 60})
        await calls(12)
        window = stats.window()
        assert (window.calls, window.throttled) == (12, 11)
        await health.review()
        assert _states(engine, "connector_throttled") == {}  # not for long enough yet
        assert _metric(health, "stockbridge_connector_throttled_share", "ims") == pytest.approx(11 / 12)
        clock.advance(120)
        await health.review()
        assert _states(engine, "connector_throttled") == {
            "connector:ims": ("integration", ExceptionState.OPEN)
        }
        assert _metric(health, "stockbridge_connector_circuit_state", "ims") == 0  # slow, not failing

        await _put(f"{ims_url}/_control/limits", {"calls_per_second": None})
        monotonic.now += cfg.connector_health.window_s  # the throttled calls leave the window
        await calls(10)
        clock.advance(60)
        await health.review()
        assert _states(engine, "connector_throttled") == {
            "connector:ims": ("integration", ExceptionState.RESOLVED)
        }

    asyncio.run(scenario())
