"""The conformance suite: every connector against its simulator, over real HTTP, on the same cases.

Auth refused and accepted, paging to the end, throttling obeyed, error bodies translated, an
idempotent write sent twice applied once. A connector joins by adding an adapter module
(harness.py says what it provides) to ADAPTERS.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
from tests.conformance import clarus, magento, netsuite, shopify
from tests.conformance.harness import Adapter, Client

from stockbridge.connectors.errors import AuthenticationError
from stockbridge.connectors.http import RateLimiter
from stockbridge.connectors.rest import with_retries

T = TypeVar("T")
ADAPTERS: list[Adapter] = [clarus.ADAPTER, netsuite.ADAPTER, shopify.ADAPTER, magento.ADAPTER]


@pytest.fixture(params=ADAPTERS, ids=lambda a: a.name)
def adapter(request: pytest.FixtureRequest) -> Adapter:
    found: Adapter = request.param
    return found


@pytest.fixture
def far(adapter: Adapter) -> Iterator[str]:
    with adapter.serve() as url:
        yield url


def _with(client: Client, call: Callable[[Client], Awaitable[T]]) -> T:
    async def go() -> T:
        try:
            return await call(client)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_auth_refused_and_accepted(adapter: Adapter, far: str) -> None:
    with pytest.raises(AuthenticationError) as refused:
        _with(adapter.client(far, good=False), adapter.probe)
    assert refused.value.system == adapter.system
    assert refused.value.status in (401, 403)
    _with(adapter.client(far), adapter.probe)  # accepted: no error
    assert adapter.far_calls(far).calls >= 2  # both reached the far end


@pytest.mark.parametrize("page_size", [1, 4, 50])
def test_paging_reaches_the_end_with_every_record_once(adapter: Adapter, far: str, page_size: int) -> None:
    seeded = adapter.seed(far, 23)
    before = adapter.far_calls(far).calls
    listed = _with(adapter.client(far), lambda c: adapter.list_all(c, page_size))
    assert sorted(listed) == sorted(seeded)  # each once: none lost, none repeated
    pages = adapter.far_calls(far).calls - before
    assert math.ceil(23 / page_size) <= pages <= math.ceil(23 / page_size) + 1


FAR_RATE = 10.0  # calls per second the simulator allows in this case
CALLS = 40


def test_throttling_is_obeyed_without_a_storm(adapter: Adapter, far: str) -> None:
    """The client starts at four times the far end's rate: it is refused a few times, slows to the
    far end's rate, and every call is answered in the end; the far end's own counts say so."""
    adapter.throttle(far, FAR_RATE)
    limiter = RateLimiter(4 * FAR_RATE, 4, min_calls_per_second=0.5, recovery_step=1.0, system=adapter.system)
    client = adapter.client(far, limiter=limiter)

    async def drive(c: Client) -> float:
        async def worker() -> None:
            for _ in range(CALLS // 4):
                await with_retries(lambda: adapter.cheap_call(c), attempts=20, base=0.05, cap=1.0)

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(4)))
        return time.monotonic() - started

    elapsed = _with(client, drive)
    far_calls = adapter.far_calls(far)
    summary = f"{far_calls}, {elapsed:.2f}s, client rate {limiter.rate:.1f}"
    assert far_calls.calls - far_calls.refused == CALLS, summary  # every call answered in the end
    assert far_calls.refused <= CALLS // 4, summary  # refused a few times, not a storm
    burst = FAR_RATE  # the far end's bucket starts full: one second's worth
    assert elapsed >= (CALLS - burst) / FAR_RATE * 0.8, summary  # slowed to the far end's rate


def test_error_bodies_are_translated_with_the_far_ends_words(adapter: Adapter, far: str) -> None:
    async def provoke(c: Client) -> list[tuple[Any, BaseException | None]]:
        found: list[tuple[Any, BaseException | None]] = []
        for p in adapter.provocations():
            try:
                await p.call(c)
            except Exception as exc:  # the class is what is checked below
                found.append((p, exc))
            else:
                found.append((p, None))
        return found

    for p, error in _with(adapter.client(far), provoke):
        assert type(error) is p.error, f"{p.name}: {error!r}"
        assert error.system == adapter.system, p.name
        assert getattr(error, "code", None) == p.code, f"{p.name}: {error!r}"
        assert p.says in error.message, f"{p.name}: {error.message}"
        if p.path is not None:
            assert getattr(error, "path", None) == p.path, f"{p.name}: {error!r}"


def test_an_idempotent_write_sent_twice_is_applied_once(adapter: Adapter, far: str) -> None:
    prepared = adapter.prepare_write(far)

    async def twice(c: Client) -> None:
        await adapter.write(c, prepared)
        await adapter.write(c, prepared)  # a retry after a lost answer looks exactly like this

    _with(adapter.client(far), twice)
    assert adapter.writes_received(far) == 2  # both reached the far end...
    assert adapter.writes_applied(far, prepared) == 1  # ...which applied one
