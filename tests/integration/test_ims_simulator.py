"""The NetSuite-shaped IMS simulator over real HTTP (uvicorn in a thread, httpx as the client)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256
from oauthlib.oauth1 import Client as OAuth1Client
from tests.servers import run_app

from stockbridge.simulators.ims import ImsSettings, create_app
from stockbridge.simulators.ims.limits import TokenBucket, format_retry_after

RECORD = "/services/rest/record/v1"
SUITEQL = "/services/rest/query/v1/suiteql"
BEARER = {"Authorization": "Bearer ims-dev-token"}
QUERY = {**BEARER, "Prefer": "transient"}
ACCOUNT = "1234567_SB1"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with run_app(create_app(ImsSettings())) as url:
        yield url


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=10) as client:
        assert client.post("/_control/reset").status_code == 200
        yield client


def _seed(http: httpx.Client, *items: dict[str, Any]) -> dict[str, str]:
    response = http.post("/_control/items", json={"items": list(items)})
    assert response.status_code == 200, response.text
    ids: dict[str, str] = response.json()["ids"]
    return ids


def _adjustment(*lines: tuple[str, float], location: str = "6", memo: str = "sync") -> dict[str, Any]:
    items = [{"item": {"id": item}, "location": {"id": location}, "adjustQtyBy": qty} for item, qty in lines]
    return {
        "account": {"id": "1"},
        "adjLocation": {"id": location},
        "memo": memo,
        "inventory": {"items": items},
    }


def _on_hand(http: httpx.Client, sku: str) -> dict[str, float]:
    on_hand: dict[str, float] = http.get("/_control/state").json()["items"][sku]["onHand"]
    return on_hand


def _error(response: httpx.Response) -> dict[str, Any]:
    detail: dict[str, Any] = response.json()["o:errorDetails"][0]
    return detail


# --- authentication -----------------------------------------------------------------------------
def test_bearer_token_is_accepted_and_anything_else_is_invalid_login(http: httpx.Client) -> None:
    ok = http.get(f"{RECORD}/location", headers=BEARER)
    assert ok.status_code == 200
    assert [item["id"] for item in ok.json()["items"]] == ["6"]
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic eDp5"}):
        refused = http.get(f"{RECORD}/location/6", headers=headers)
        assert refused.status_code == 401
        body = refused.json()
        assert body["title"] == "Unauthorized"
        assert body["status"] == 401
        assert body["type"].startswith("https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#")
        assert _error(refused)["o:errorCode"] == "INVALID_LOGIN"
    assert http.get(f"{RECORD}/location/6", headers=BEARER).json()["name"] == "Main Warehouse"


def test_oauth2_client_credentials_token_works_as_bearer(http: httpx.Client) -> None:
    basic = base64.b64encode(b"ims-client-id:ims-client-secret").decode()
    form = {"grant_type": "client_credentials"}
    issued = http.post(
        "/services/rest/auth/oauth2/v1/token", data=form, headers={"Authorization": f"Basic {basic}"}
    )
    assert issued.status_code == 200
    token = issued.json()
    assert token["token_type"] == "bearer"
    assert token["expires_in"] == 3600
    assert http.get(
        f"{RECORD}/location", headers={"Authorization": f"Bearer {token['access_token']}"}
    ).is_success
    by_form = {**form, "client_id": "ims-client-id", "client_secret": "ims-client-secret"}
    assert http.post("/services/rest/auth/oauth2/v1/token", data=by_form).status_code == 200
    wrong = http.post("/services/rest/auth/oauth2/v1/token", data={**by_form, "client_secret": "nope"})
    assert wrong.status_code == 400
    assert wrong.json() == {"error": "invalid_client"}
    # NetSuite's M2M form: a JWT client assertion whose issuer is the client id (signature not checked)
    claims = base64.urlsafe_b64encode(
        json.dumps({"iss": "ims-client-id", "scope": ["rest_webservices"]}).encode()
    )
    assertion = f"eyJhbGciOiJQUzI1NiJ9.{claims.decode().rstrip('=')}.c2ln"
    m2m = {**form, "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
           "client_assertion": assertion}  # fmt: skip
    assert http.post("/services/rest/auth/oauth2/v1/token", data=m2m).status_code == 200


def _tba(realm: str = ACCOUNT, token_secret: str = "ims-token-secret") -> OAuth1Client:
    return OAuth1Client(
        "ims-consumer-key",
        client_secret="ims-consumer-secret",
        resource_owner_key="ims-token-id",
        resource_owner_secret=token_secret,
        signature_method=SIGNATURE_HMAC_SHA256,
        realm=realm,
    )


def test_tba_signed_requests_are_verified(http: httpx.Client, base_url: str) -> None:
    ids = _seed(http, {"itemId": "SKU-1"})
    url = str(httpx.URL(f"{base_url}{RECORD}/inventoryItem", params={"q": 'itemId IS "SKU-1"'}))
    uri, headers, _ = _tba().sign(url, http_method="GET")
    assert headers["Authorization"].startswith('OAuth realm="1234567_SB1"')
    assert 'oauth_signature_method="HMAC-SHA256"' in headers["Authorization"]
    found = http.get(uri, headers=headers)
    assert found.status_code == 200, found.text
    assert [item["id"] for item in found.json()["items"]] == [ids["SKU-1"]]
    # the same signed request again is a replay (same nonce and timestamp)
    assert http.get(uri, headers=headers).status_code == 401
    # a wrong token secret, a foreign realm, or a tampered URL fail verification
    for client in (_tba(token_secret="guess"), _tba(realm="7654321")):
        uri, headers, _ = client.sign(url, http_method="GET")
        assert http.get(uri, headers=headers).status_code == 401
    uri, headers, _ = _tba().sign(url, http_method="GET")
    assert http.get(uri.replace("SKU-1", "SKU-2"), headers=headers).status_code == 401
    # a JSON write signed with TBA (the body is not part of the signature)
    put_url = f"{base_url}{RECORD}/inventoryAdjustment/eid:TBA-1"
    uri, headers, _ = _tba().sign(put_url, http_method="PUT")
    written = http.put(uri, headers=headers, json=_adjustment((ids["SKU-1"], 3)))
    assert written.status_code == 204, written.text
    assert _on_hand(http, "SKU-1") == {"6": 3}


# --- items and locations ------------------------------------------------------------------------
def test_items_are_found_by_query_and_read_with_locations(http: httpx.Client) -> None:
    ids = _seed(http, {"itemId": "SKU-1", "displayName": "One", "externalId": "ext-1"}, {"itemId": "SKU-2"})
    found = http.get(f"{RECORD}/inventoryItem", params={"q": 'itemId IS "SKU-2"'}, headers=BEARER).json()
    assert {k: found[k] for k in ("count", "hasMore", "offset", "totalResults")} == {
        "count": 1, "hasMore": False, "offset": 0, "totalResults": 1}  # fmt: skip
    assert found["items"][0]["id"] == ids["SKU-2"]
    assert found["items"][0]["links"][0]["href"].endswith(f"{RECORD}/inventoryItem/{ids['SKU-2']}")
    page = http.get(f"{RECORD}/inventoryItem", params={"limit": 1, "offset": 1}, headers=BEARER).json()
    assert (page["count"], page["hasMore"], page["totalResults"]) == (1, False, 2)
    assert {link["rel"] for link in page["links"]} >= {"self", "first", "previous", "last"}

    assert http.put(
        f"{RECORD}/inventoryAdjustment/eid:a", json=_adjustment(("101", 5)), headers=BEARER
    ).is_success
    plain = http.get(f"{RECORD}/inventoryItem/101", headers=BEARER).json()
    assert plain["itemId"] == "SKU-1"
    assert plain["externalId"] == "ext-1"
    assert plain["isInactive"] is False
    assert plain["lastModifiedDate"].endswith("Z")
    assert "items" not in plain["locations"]  # sublists are links unless expanded, as in NetSuite
    expanded = http.get(
        f"{RECORD}/inventoryItem/eid:ext-1", params={"expandSubResources": "true"}, headers=BEARER
    )
    line = expanded.json()["locations"]["items"][0]
    assert line["location"]["id"] == "6"
    assert line["location"]["refName"] == "Main Warehouse"
    assert (line["quantityOnHand"], line["quantityAvailable"], line["quantityCommitted"]) == (5.0, 5.0, 0.0)
    missing = http.get(f"{RECORD}/inventoryItem/999", headers=BEARER)
    assert missing.status_code == 404
    assert _error(missing)["o:errorCode"] == "NONEXISTENT_ID"


def test_item_create_patch_and_upsert(http: httpx.Client) -> None:
    created = http.post(
        f"{RECORD}/inventoryItem", json={"itemId": "NEW-1", "displayName": "New"}, headers=BEARER
    )
    assert created.status_code == 204
    assert created.headers["Location"].endswith(f"{RECORD}/inventoryItem/101")
    duplicate = http.post(f"{RECORD}/inventoryItem", json={"itemId": "new-1"}, headers=BEARER)
    assert duplicate.status_code == 400
    assert _error(duplicate)["o:errorPath"] == "itemId"
    assert (
        http.patch(f"{RECORD}/inventoryItem/101", json={"isInactive": True}, headers=BEARER).status_code
        == 204
    )
    assert http.get(f"{RECORD}/inventoryItem/101", headers=BEARER).json()["isInactive"] is True
    upsert = http.put(f"{RECORD}/inventoryItem/eid:E-2", json={"itemId": "NEW-2"}, headers=BEARER)
    assert upsert.status_code == 204
    assert upsert.headers["Location"].endswith("/inventoryItem/102")
    again = http.put(f"{RECORD}/inventoryItem/eid:E-2", json={"displayName": "Two"}, headers=BEARER)
    assert again.headers["Location"].endswith("/inventoryItem/102")
    assert http.get(f"{RECORD}/inventoryItem/102", headers=BEARER).json()["displayName"] == "Two"
    # quantities are not item fields: on hand changes only through transactions
    strict = {**BEARER, "X-NetSuite-PropertyNameValidation": "error"}
    refused = http.patch(f"{RECORD}/inventoryItem/102", json={"quantityOnHand": 50}, headers=strict)
    assert refused.status_code == 400
    assert _error(refused)["o:errorPath"] == "quantityOnHand"


# --- inventory adjustments ----------------------------------------------------------------------
def test_put_by_external_id_is_applied_once_when_retried(http: httpx.Client) -> None:
    ids = _seed(http, {"itemId": "SKU-1"})
    body = _adjustment((ids["SKU-1"], 5))
    first = http.put(f"{RECORD}/inventoryAdjustment/eid:SYNC-1", json=body, headers=BEARER)
    assert first.status_code == 204
    assert first.content == b""
    assert first.headers["Location"].endswith(f"{RECORD}/inventoryAdjustment/1001")
    retry = http.put(f"{RECORD}/inventoryAdjustment/eid:SYNC-1", json=body, headers=BEARER)
    assert retry.status_code == 204
    assert retry.headers["Location"] == first.headers["Location"]
    assert _on_hand(http, "SKU-1") == {"6": 5}
    state = http.get("/_control/state").json()
    assert (state["adjustments"], state["adjustment_lines"], state["replaced"]) == (1, 1, 1)
    record = http.get(
        f"{RECORD}/inventoryAdjustment/eid:SYNC-1?expandSubResources=true", headers=BEARER
    ).json()
    assert record["externalId"] == "SYNC-1"
    assert record["id"] == "1001"
    assert record["adjLocation"]["id"] == "6"
    assert [(ln["item"]["id"], ln["adjustQtyBy"]) for ln in record["inventory"]["items"]] == [
        (ids["SKU-1"], 5.0)
    ]


def test_put_on_existing_adjustment_replaces_its_effect(http: httpx.Client) -> None:
    ids = _seed(http, {"itemId": "A"}, {"itemId": "B"})
    url = f"{RECORD}/inventoryAdjustment/eid:BATCH-7"
    assert http.put(url, json=_adjustment((ids["A"], 10), (ids["B"], 4)), headers=BEARER).status_code == 204
    assert http.put(url, json=_adjustment((ids["A"], -2)), headers=BEARER).status_code == 204
    assert _on_hand(http, "A") == {"6": -2}
    assert _on_hand(http, "B") == {"6": 0}
    lines = http.get(f"{url}/inventory", headers=BEARER).json()["items"]
    assert [(ln["item"]["refName"], ln["adjustQtyBy"]) for ln in lines] == [("A", -2.0)]
    rows = http.post(SUITEQL, json={"q": "SELECT item, quantity FROM transactionline"}, headers=QUERY).json()
    assert [(r["item"], r["quantity"]) for r in rows["items"]] == [(ids["A"], "-2")]


def test_post_adjustment_and_duplicate_external_id(http: httpx.Client) -> None:
    ids = _seed(http, {"itemId": "SKU-1"})
    body = {**_adjustment((ids["SKU-1"], 1)), "externalId": "X"}
    posted = http.post(f"{RECORD}/inventoryAdjustment", json=body, headers=BEARER)
    assert posted.status_code == 204
    again = http.post(f"{RECORD}/inventoryAdjustment", json=body, headers=BEARER)
    assert again.status_code == 400
    assert _error(again)["o:errorCode"] == "INVALID_REQUEST"
    assert _on_hand(http, "SKU-1") == {"6": 1}


def test_inactive_item_is_refused_with_error_path_and_nothing_applies(http: httpx.Client) -> None:
    ids = _seed(http, {"itemId": "OK"}, {"itemId": "OLD", "isInactive": True})
    body = _adjustment((ids["OK"], 5), (ids["OLD"], 5))
    refused = http.put(f"{RECORD}/inventoryAdjustment/eid:R-1", json=body, headers=BEARER)
    assert refused.status_code == 400
    assert refused.headers["content-type"].startswith("application/vnd.oracle.resource+json; type=error")
    assert refused.json()["title"] == "Bad Request"
    detail = _error(refused)
    assert detail["o:errorCode"] == "INVALID_CONTENT"
    assert detail["o:errorPath"] == "inventory.items[1].item"
    assert "inactive" in detail["detail"]
    assert _on_hand(http, "OK") == {"6": 0}  # the whole request is atomic
    assert http.get("/_control/state").json()["adjustments"] == 0
    assert http.patch("/_control/items/OLD", json={"isInactive": False}).json()["isInactive"] is False
    assert http.put(f"{RECORD}/inventoryAdjustment/eid:R-1", json=body, headers=BEARER).status_code == 204


@pytest.mark.parametrize(
    ("line", "path"),
    [
        ({"item": {"id": "9999"}, "location": {"id": "6"}, "adjustQtyBy": 1}, "item"),
        ({"item": {"id": "101"}, "location": {"id": "77"}, "adjustQtyBy": 1}, "location"),
        ({"item": {"externalId": "nope"}, "location": "6", "adjustQtyBy": 1}, "item"),
        ({"item": {"id": "101"}, "location": {"id": "6"}, "adjustQtyBy": 0}, "adjustQtyBy"),
        ({"item": {"id": "101"}, "location": {"id": "6"}}, "adjustQtyBy"),
        ({"item": {"id": "101"}, "location": {"id": "6"}, "adjustQtyBy": "5"}, "adjustQtyBy"),
        ({"item": {"id": "101"}, "adjustQtyBy": 1}, "location"),
    ],
)
def test_invalid_lines_are_refused(http: httpx.Client, line: dict[str, Any], path: str) -> None:
    _seed(http, {"itemId": "SKU-1"})
    body = {"account": {"id": "1"}, "inventory": {"items": [line]}}
    refused = http.post(f"{RECORD}/inventoryAdjustment", json=body, headers=BEARER)
    assert refused.status_code == 400
    assert _error(refused)["o:errorCode"] == "INVALID_CONTENT"
    assert _error(refused)["o:errorPath"] == f"inventory.items[0].{path}"


def test_too_many_lines_and_property_name_validation(http: httpx.Client) -> None:
    ids = _seed(http, {"itemId": "SKU-1"})
    assert (
        http.put("/_control/limits", json={"max_lines_per_request": 2}).json()["max_lines_per_request"] == 2
    )
    too_many = http.post(
        f"{RECORD}/inventoryAdjustment", json=_adjustment(*[(ids["SKU-1"], 1)] * 3), headers=BEARER
    )
    assert too_many.status_code == 400
    assert _error(too_many)["o:errorCode"] == "INVALID_REQUEST"
    body = _adjustment((ids["SKU-1"], 1))
    body["inventory"]["items"][0]["binNumber"] = "A-1"
    strict = {**BEARER, "X-NetSuite-PropertyNameValidation": "error"}
    refused = http.post(f"{RECORD}/inventoryAdjustment", json=body, headers=strict)
    assert refused.status_code == 400
    assert _error(refused)["o:errorCode"] == "INVALID_CONTENT"
    assert _error(refused)["o:errorPath"] == "inventory.items[0].binNumber"
    assert "binNumber" in _error(refused)["detail"]
    assert http.post(f"{RECORD}/inventoryAdjustment", json=body, headers=BEARER).status_code == 204  # ignored
    assert _on_hand(http, "SKU-1") == {"6": 1}


# --- SuiteQL ------------------------------------------------------------------------------------
def test_suiteql_pages_through_results(http: httpx.Client) -> None:
    _seed(http, *({"itemId": f"SKU-{n:02d}", "isInactive": n % 5 == 0} for n in range(1, 26)))
    q = {"q": "SELECT id, itemid, isinactive FROM item ORDER BY id"}
    seen: list[str] = []
    pages: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = http.post(f"{SUITEQL}?limit=10&offset={offset}", json=q, headers=QUERY)
        assert page.status_code == 200, page.text
        pages.append(page.json())
        seen += [row["itemid"] for row in page.json()["items"]]
        if not page.json()["hasMore"]:
            break
        offset += 10
    assert [p["count"] for p in pages] == [10, 10, 5]
    assert {p["totalResults"] for p in pages} == {25}
    assert seen == [f"SKU-{n:02d}" for n in range(1, 26)]
    first = pages[0]["items"][0]
    assert first == {"links": [], "id": "101", "itemid": "SKU-01", "isinactive": "F"}
    assert pages[0]["items"][4]["isinactive"] == "T"
    assert any(link["rel"] == "next" for link in pages[0]["links"])
    count = http.post(
        SUITEQL, json={"q": "SELECT COUNT(*) AS n FROM item WHERE isinactive = 'T'"}, headers=QUERY
    )
    assert count.json()["items"] == [{"links": [], "n": "5"}]
    odd = http.post(f"{SUITEQL}?limit=10&offset=5", json=q, headers=QUERY)
    assert odd.status_code == 400
    too_big = http.post(f"{SUITEQL}?limit=1001", json=q, headers=QUERY)
    assert too_big.status_code == 400


def test_suiteql_needs_prefer_transient_and_allows_only_select(http: httpx.Client) -> None:
    _seed(http, {"itemId": "SKU-1"})
    no_prefer = http.post(SUITEQL, json={"q": "SELECT id FROM item"}, headers=BEARER)
    assert no_prefer.status_code == 400
    assert _error(no_prefer)["o:errorCode"] == "INVALID_REQUEST"
    for q in ("DELETE FROM item", "UPDATE item SET isinactive = 'T'", "SELECT 1; DROP TABLE item",
              "SELECT sql FROM sqlite_master", "PRAGMA writable_schema = 1"):  # fmt: skip
        refused = http.post(SUITEQL, json={"q": q}, headers=QUERY)
        assert refused.status_code == 400, q
        assert _error(refused)["o:errorCode"] == "INVALID_REQUEST"
    assert http.get("/_control/state").json()["items"]["SKU-1"]["isInactive"] is False
    unknown = http.post(SUITEQL, json={"q": "SELECT id FROM salesorder"}, headers=QUERY)
    assert unknown.status_code == 400
    assert _error(unknown)["o:errorCode"] == "INVALID_PARAMETER"


# --- governance ---------------------------------------------------------------------------------
def test_concurrency_limit_answers_429_at_once(http: httpx.Client, base_url: str) -> None:
    http.put("/_control/limits", json={"concurrency_limit": 2})
    http.put("/_control/faults", json={"latency_ms": 400})

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            calls = [client.get(f"{RECORD}/location/6", headers=BEARER) for _ in range(4)]
            calls += [client.post(SUITEQL, json={"q": "SELECT 1 AS one"}, headers=QUERY) for _ in range(2)]
            return list(await asyncio.gather(*calls))

    responses = asyncio.run(burst())
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) >= 2
    assert statuses.count(429) >= 1
    assert set(statuses) == {200, 429}
    throttled = next(r for r in responses if r.status_code == 429)
    assert throttled.json()["o:errorCode"] == "USER_ERROR"
    assert _error(throttled) == {
        "detail": "Concurrent request limit exceeded. Request blocked.",
        "o:errorCode": "CONCURRENCY_LIMIT_EXCEEDED",
    }
    stats = http.get("/_control/stats").json()
    assert stats["throttled_429"] == statuses.count(429)
    assert stats["in_flight"] == 0


def test_calls_per_second_limit_answers_429_with_retry_after(http: httpx.Client) -> None:
    limits = http.put("/_control/limits", json={"calls_per_second": 0.5}).json()
    assert limits == {"concurrency_limit": 5, "calls_per_second": 0.5, "max_lines_per_request": 1000}
    assert http.get(f"{RECORD}/location/6", headers=BEARER).status_code == 200
    limited = http.get(f"{RECORD}/location/6", headers=BEARER)
    assert limited.status_code == 429
    assert _error(limited)["o:errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert 0 < float(limited.headers["Retry-After"]) <= 2
    assert http.get("/_control/state").status_code == 200  # control calls are not limited
    assert http.get("/_control/stats").json()["throttled_429"] == 1


def test_token_bucket_burst_and_retry_after() -> None:
    now = [100.0]
    bucket = TokenBucket(rate=10, capacity=10, clock=lambda: now[0])
    assert [bucket.try_take() for _ in range(10)] == [0.0] * 10
    assert format_retry_after(bucket.try_take()) == "0.1"
    now[0] += 0.05
    assert format_retry_after(bucket.try_take()) == "0.05"
    now[0] += 0.05
    assert bucket.try_take() == 0.0
    assert format_retry_after(2.0) == "2"
    assert format_retry_after(0.0001) == "0.001"


# --- faults -------------------------------------------------------------------------------------
def test_fail_after_commit_applies_the_call_but_answers_500(http: httpx.Client) -> None:
    ids = _seed(http, {"itemId": "SKU-1"})
    http.put("/_control/faults", json={"fail_after_commit_rate": 1.0})
    url = f"{RECORD}/inventoryAdjustment/eid:T-1"
    failed = http.put(url, json=_adjustment((ids["SKU-1"], 7)), headers=BEARER)
    assert failed.status_code == 500
    assert _error(failed)["o:errorCode"] == "UNEXPECTED_ERROR"
    assert _on_hand(http, "SKU-1") == {"6": 7}  # it was applied
    http.put("/_control/faults", json={"fail_after_commit_rate": 0.0})
    assert http.put(url, json=_adjustment((ids["SKU-1"], 7)), headers=BEARER).status_code == 204
    assert _on_hand(http, "SKU-1") == {"6": 7}  # the idempotent retry changed nothing
    assert http.get("/_control/stats").json()["errors_5xx"] == 1


def test_fail_rate_is_seeded_and_outage_blocks_everything(http: httpx.Client) -> None:
    def run() -> list[int]:
        http.put("/_control/faults", json={"fail_rate": 0.5, "seed": 42})
        return [http.get(f"{RECORD}/location/6", headers=BEARER).status_code for _ in range(20)]

    first, second = run(), run()
    assert first == second
    assert set(first) == {200, 500}
    http.put("/_control/faults", json={"fail_rate": 0, "outage": True})
    down = http.get(f"{RECORD}/location/6", headers=BEARER)
    assert down.status_code == 503
    assert http.get("/_control/state").status_code == 200
    assert http.post("/_control/reset").status_code == 200  # reset restores the start-up faults
    assert http.get(f"{RECORD}/location/6", headers=BEARER).status_code == 200


# --- control ------------------------------------------------------------------------------------
def test_control_seeding_state_and_stats(http: httpx.Client) -> None:
    ids = _seed(http, *({"itemId": f"BULK-{n}"} for n in range(2000)))
    assert ids["BULK-0"] == "101"
    assert ids["BULK-1999"] == "2100"
    locations = http.post(
        "/_control/locations", json={"locations": [{"name": "Overflow"}, {"id": "9", "name": "X"}]}
    )
    assert locations.json() == {"ids": {"Overflow": "7", "X": "9"}}
    assert _on_hand(http, "BULK-5") == {"6": 0, "7": 0, "9": 0}
    committed = http.patch("/_control/items/BULK-5", json={"quantityCommitted": {"6": 2}})
    assert committed.status_code == 200
    q = "SELECT quantityavailable FROM inventoryitemlocations WHERE item = 106 AND location = 6"
    row = http.post(SUITEQL, json={"q": q}, headers=QUERY)
    assert row.json()["items"][0]["quantityavailable"] == "-2"
    http.get(f"{RECORD}/inventoryItem/101", headers=BEARER)
    http.get(f"{RECORD}/inventoryItem/eid:nope", headers=BEARER)
    http.get(f"{RECORD}/customer/1", headers=BEARER)
    stats = http.get("/_control/stats").json()
    assert stats["calls"] == 4
    assert stats["calls_by_route"] == {
        "GET inventoryItem/eid:{externalId}": 1,
        "GET inventoryItem/{id}": 1,
        "GET unknown": 1,
        "POST suiteql": 1,
    }
    assert json.loads(json.dumps(stats))["errors_5xx"] == 0
