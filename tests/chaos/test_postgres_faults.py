"""PostgreSQL faults against a real (throwaway) server, with the hub as two processes sharing it:
a restart, sessions killed with pg_terminate_backend, the database refusing connections."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from tests.e2e.stack import ENVIRON, Stack, stack, wait_until

from stockbridge.chaos.fleet import HubFleet
from stockbridge.chaos.postgres import ThrowawayPostgres
from stockbridge.demo.traffic import Traffic, sku_name

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def _can_connect(url: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            c.execute(text("SELECT 1"))
        return True
    except OperationalError:
        return False
    finally:
        engine.dispose()


def test_the_throwaway_cluster_restarts_cuts_and_refuses(throwaway_pg: ThrowawayPostgres) -> None:
    engine = create_engine(throwaway_pg.url, pool_pre_ping=False)
    with engine.connect() as c:
        c.execute(text("SELECT 1"))
        assert throwaway_pg.terminate_backends() >= 1
        with pytest.raises(OperationalError):
            c.execute(text("SELECT 1"))
    engine.dispose()
    throwaway_pg.refuse_connections()
    assert not _can_connect(throwaway_pg.url)
    throwaway_pg.accept_connections()
    assert _can_connect(throwaway_pg.url)
    throwaway_pg.restart()
    assert _can_connect(throwaway_pg.url)
    assert throwaway_pg.port != 5432


def _failed_deliveries(env: Stack) -> int:
    return int(env.http.get(f"{env.clarus_url}/_control/deliveries").json()["failed_attempts"])


def _failed_deliveries(env: Stack) -> int:
    return int(env.http.get(f"{env.clarus_url}/_control/deliveries").json()["failed_attempts"])


FAULTS: dict[str, Callable[[ThrowawayPostgres], object]] = {
    "restart": lambda pg: pg.restart(),
    "terminate_backend": lambda pg: pg.terminate_backends(),
    "refuse_connections": lambda pg: pg.refuse_connections(),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_two_hub_processes_lose_and_double_nothing(
    fault: str, throwaway_pg: ThrowawayPostgres, tmp_path: Path
) -> None:
    with stack(throwaway_pg.url, tmp_path) as env:
        env.create_items([sku_name(i) for i in range(40)])
        env.ims_faults(latency_ms=20)
        env.subscribe()
        traffic = Traffic(40, seed=11)
        fleet = HubFleet(env.write_config(), dict(ENVIRON), 2, tmp_path / "logs")
        fleet.start()
        try:
            wait_until(env.hub_idle, 60, "the hub to start")
            env.move(list(traffic.initial_receipts()) + [traffic.next() for _ in range(200)])
            FAULTS[fault](throwaway_pg)
            env.move([traffic.next() for _ in range(300)])  # arrives while the database is out
            if fault == "refuse_connections":
                wait_until(lambda: _failed_deliveries(env) > 0, 30, "webhooks to be refused")
                throwaway_pg.accept_connections()
            assert env.drain()["drained"]
            env.wait_converged(timeout_s=120)
            assert env.stored_movements() == env.clarus_sequence()
            assert env.duplicate_adjustment_lines() == []
        finally:
            fleet.stop()
