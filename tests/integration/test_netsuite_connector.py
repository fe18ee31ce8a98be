"""Our NetSuite connector against the IMS simulator over real HTTP: auth kinds, reads, idempotent writes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from stockbridge.connectors.errors import AuthenticationError, RateLimitedError, RejectedError
from stockbridge.connectors.netsuite.auth import BearerAuth, ClientCredentialsAuth, TbaAuth
from stockbridge.connectors.netsuite.client import AdjustmentLine, NetSuiteClient
from stockbridge.servers import serve_in_thread
from stockbridge.simulators.ims import ImsSettings, create_app

SETTINGS = ImsSettings()


@pytest.fixture
def ims() -> Iterator[str]:
    with serve_in_thread(create_app(ImsSettings())) as url:
        httpx.post(
            f"{url}/_control/items",
            json={"items": [{"itemId": "A-1"}, {"itemId": "B-2"}, {"itemId": "OLD-3", "isInactive": True}]},
        ).raise_for_status()
        yield url


def _run(client: NetSuiteClient, coro_fn):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        try:
            return await coro_fn(client)
        finally:
            await client.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize(
    "auth",
    [
        lambda url: BearerAuth(SETTINGS.bearer_tokens[0]),
        lambda url: ClientCredentialsAuth(
            f"{url}/services/rest/auth/oauth2/v1/token", SETTINGS.client_id, SETTINGS.client_secret
        ),
        lambda url: TbaAuth(
            SETTINGS.account_id,
            SETTINGS.consumer_key,
            SETTINGS.consumer_secret,
            SETTINGS.token_id,
            SETTINGS.token_secret,
        ),
    ],
    ids=["bearer", "client_credentials", "tba"],
)
def test_every_auth_kind_reads_items(ims: str, auth) -> None:  # type: ignore[no-untyped-def]
    items = _run(NetSuiteClient(ims, auth(ims)), lambda c: c.inventory_items())
    assert {(i.sku, i.is_inactive) for i in items} == {("A-1", False), ("B-2", False), ("OLD-3", True)}


def test_wrong_tba_secret_is_an_authentication_error(ims: str) -> None:
    auth = TbaAuth(
        SETTINGS.account_id, SETTINGS.consumer_key, "wrong", SETTINGS.token_id, SETTINGS.token_secret
    )
    with pytest.raises(AuthenticationError):
        _run(NetSuiteClient(ims, auth), lambda c: c.inventory_items())


def test_adjustment_upsert_is_idempotent_and_read_back(ims: str) -> None:
    client = NetSuiteClient(ims, BearerAuth(SETTINGS.bearer_tokens[0]))

    async def scenario(c: NetSuiteClient) -> dict[str, int]:
        items = {i.sku: i.item_id for i in await c.inventory_items(["A-1", "B-2"])}
        lines = [AdjustmentLine(items["A-1"], 7, "v1"), AdjustmentLine(items["B-2"], 3, "v1")]
        for _ in range(3):  # a retry after a timeout sends the same external id again
            await c.upsert_inventory_adjustment(
                "sb-test-1", account_id="1", location_id="6", lines=lines, memo="t"
            )
        return await c.on_hand("6", list(items.values()))

    figures = _run(client, scenario)
    assert sorted(figures.values()) == [3, 7]


def test_inactive_item_is_rejected_with_the_line_path(ims: str) -> None:
    client = NetSuiteClient(ims, BearerAuth(SETTINGS.bearer_tokens[0]))

    async def scenario(c: NetSuiteClient) -> None:
        items = {i.sku: i.item_id for i in await c.inventory_items()}
        lines = [AdjustmentLine(items["A-1"], 1, "x"), AdjustmentLine(items["OLD-3"], 1, "x")]
        await c.upsert_inventory_adjustment(
            "sb-test-2", account_id="1", location_id="6", lines=lines, memo="t"
        )

    with pytest.raises(RejectedError) as info:
        _run(client, scenario)
    assert info.value.path is not None
    assert "inventory.items[1]" in info.value.path


def test_frequency_limit_is_a_rate_limited_error_with_retry_after(ims: str) -> None:
    httpx.put(f"{ims}/_control/limits", json={"calls_per_second": 1}).raise_for_status()
    client = NetSuiteClient(ims, BearerAuth(SETTINGS.bearer_tokens[0]))

    async def scenario(c: NetSuiteClient) -> None:
        for _ in range(5):
            await c.inventory_items()

    with pytest.raises(RateLimitedError) as info:
        _run(client, scenario)
    assert info.value.retry_after is not None
    assert info.value.retry_after > 0


def test_the_whole_item_list_is_read_by_id_a_page_at_a_time(ims: str) -> None:
    many = [f"P-{i:05d}" for i in range(2500)]
    httpx.post(f"{ims}/_control/items", json={"items": [{"itemId": s} for s in many]}).raise_for_status()
    before = httpx.get(f"{ims}/_control/stats").json()["calls"]

    async def pages(c: NetSuiteClient) -> list[list[str]]:
        return [[r.sku for r in page] async for page in c.inventory_item_pages()]

    read = _run(NetSuiteClient(ims, BearerAuth(SETTINGS.bearer_tokens[0])), pages)
    calls = httpx.get(f"{ims}/_control/stats").json()["calls"] - before
    skus = [sku for page in read for sku in page]
    # 2,503 items in pages of at most 1,000, each SKU once (no page read twice, none skipped).
    assert [len(page) for page in read] == [1000, 1000, 503]
    assert sorted(skus) == sorted([*many, "A-1", "B-2", "OLD-3"])
    assert calls == 3
