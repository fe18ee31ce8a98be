"""The IMS as a stock channel (`ImsStock`) against the IMS simulator over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import httpx
import pytest

from stockbridge.connectors.errors import RejectedError
from stockbridge.connectors.http import RateLimiter
from stockbridge.connectors.netsuite.auth import BearerAuth
from stockbridge.connectors.netsuite.client import NetSuiteClient
from stockbridge.connectors.netsuite.stock import ImsStock, SuiteQLItems
from stockbridge.flows.ports import ChannelFigure, FigureLine, StockChannel
from stockbridge.servers import serve_in_thread
from stockbridge.simulators.ims import ImsSettings, create_app

SETTINGS = ImsSettings()
T = TypeVar("T")


@pytest.fixture
def ims() -> Iterator[str]:
    with serve_in_thread(create_app(ImsSettings())) as url:
        httpx.post(
            f"{url}/_control/items",
            json={"items": [{"itemId": "A-1"}, {"itemId": "B-2"}, {"itemId": "OLD-3", "isInactive": True}]},
        ).raise_for_status()
        yield url


def _run(url: str, scenario: Callable[[ImsStock], Awaitable[T]]) -> T:
    async def go() -> T:
        limiter = RateLimiter(50, 4)
        client = NetSuiteClient(url, BearerAuth(SETTINGS.bearer_tokens[0]), limiter=limiter)
        channel = ImsStock(client, limiter, SuiteQLItems(client), adjustment_account_id="1")
        try:
            return await scenario(channel)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_reads_known_skus_and_reports_inactive_ones_unpushable(ims: str) -> None:
    async def scenario(channel: ImsStock) -> dict[str, ChannelFigure]:
        port: StockChannel = channel  # mypy checks that ImsStock implements the port
        assert port.budget_wait() == 0.0
        return await port.read_figures("6", ["A-1", "OLD-3", "NOPE-9"])

    assert _run(ims, scenario) == {"A-1": ChannelFigure(0), "OLD-3": ChannelFigure(0, pushable=False)}


def test_figures_are_set_once_however_often_the_batch_is_sent(ims: str) -> None:
    async def scenario(channel: ImsStock) -> dict[str, ChannelFigure]:
        lines = [FigureLine("A-1", 7, 0, 3), FigureLine("B-2", 2, None, 3)]
        for _ in range(3):  # a retry after a timeout sends the same batch id again
            await channel.push_figures("sb-inv-t1", "6", lines)
        # Recomputed from a fresh read, the next batch posts the difference only.
        await channel.push_figures("sb-inv-t2", "6", [FigureLine("A-1", 4, 7, 4), FigureLine("B-2", 2, 2, 4)])
        return await channel.read_figures("6", ["A-1", "B-2"])

    assert _run(ims, scenario) == {"A-1": ChannelFigure(4), "B-2": ChannelFigure(2)}


def test_a_refused_line_is_named_by_its_index(ims: str) -> None:
    async def scenario(channel: ImsStock) -> None:
        await channel.push_figures("sb-inv-t3", "6", [FigureLine("A-1", 1, 0), FigureLine("OLD-3", 1, 0)])

    with pytest.raises(RejectedError) as inactive:
        _run(ims, scenario)
    assert "[1]" in (inactive.value.path or "")

    async def unknown(channel: ImsStock) -> None:
        await channel.push_figures("sb-inv-t4", "6", [FigureLine("A-1", 1, 0), FigureLine("NOPE-9", 1, 0)])

    with pytest.raises(RejectedError) as missing:
        _run(ims, unknown)
    assert (missing.value.code, missing.value.path) == ("UNKNOWN_SKU", "inventory.items[1].item")


def test_a_line_needing_no_adjustment_is_left_out_and_refusals_still_name_the_callers_line(ims: str) -> None:
    async def scenario(channel: ImsStock) -> None:
        await channel.push_figures("sb-inv-t5", "6", [FigureLine("A-1", 2, 0)])
        # A-1 already shows 2 (NetSuite refuses a zero adjustment): the refused OLD-3 is the caller's [1].
        await channel.push_figures("sb-inv-t6", "6", [FigureLine("A-1", 2, None), FigureLine("OLD-3", 1, 0)])

    with pytest.raises(RejectedError) as info:
        _run(ims, scenario)
    assert (info.value.path or "").startswith("inventory.items[1]")


def test_a_push_cycle_waits_until_its_read_and_its_adjustment_could_both_go() -> None:
    """A cycle reads the on hand and then posts the adjustment: it is ready when the limiter could
    start both back to back, so the adjustment never queues on the limiter behind its own read."""
    now = [0.0]
    limiter = RateLimiter(10, 4, clock=lambda: now[0])
    client = NetSuiteClient("http://127.0.0.1:9", BearerAuth("unused"), limiter=limiter)
    channel = ImsStock(client, limiter, SuiteQLItems(client), adjustment_account_id="1")

    async def ok() -> None:
        return None

    async def spend(calls: int) -> None:
        for _ in range(calls):
            await limiter.run(ok)
        await client.aclose()

    asyncio.run(spend(9))  # one call of the second's ten left
    assert limiter.wait_s() == 0.0
    assert channel.budget_wait() == pytest.approx(0.1)
    now[0] += 0.1
    assert channel.budget_wait() == 0.0
