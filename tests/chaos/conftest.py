"""A throwaway PostgreSQL cluster for the chaos tests: restarted, cut off and refused at will, so the
machine's shared server (which other tests use) is never disturbed."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from stockbridge.chaos.postgres import PostgresUnavailable, ThrowawayPostgres, throwaway_postgres


@pytest.fixture
def throwaway_pg() -> Iterator[ThrowawayPostgres]:
    try:
        with throwaway_postgres() as cluster:
            yield cluster
    except PostgresUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs PostgreSQL's server binaries for the chaos tests: {exc}")
        pytest.skip(str(exc))
