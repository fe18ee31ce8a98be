"""The Clarus WMS simulator over real HTTP: uvicorn on a free port, httpx client, a Starlette receiver."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from tests.servers import run_app

from stockbridge.simulators.clarus import ClarusSettings, create_app

AUTH = {"Authorization": "Bearer clarus-dev-key"}
SECRET = "whsec-test"


class Receiver:
    """A webhook endpoint that records what it accepted; answers `fail_first` 500s per event, or `status`."""

    def __init__(self, fail_first: int = 0, status: int = 204) -> None:
        self.fail_first = fail_first
        self.status = status
        self.lock = threading.Lock()
        self.accepted: list[tuple[dict[str, str], bytes]] = []
        self.attempts: Counter[str] = Counter()
        self.app = Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        event_id = request.headers["x-clarus-event-id"]
        with self.lock:
            self.attempts[event_id] += 1
            attempt = self.attempts[event_id]
        if attempt <= self.fail_first:
            return Response(status_code=500)
        if self.status >= 300:
            return Response(status_code=self.status)
        with self.lock:
            self.accepted.append((dict(request.headers), body))
        return Response(status_code=self.status)

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for _, body in self.accepted]

    def sequences(self) -> list[int]:
        return [e["data"]["sequence"] for e in self.events()]


@contextmanager
def clarus(**settings: Any) -> Iterator[httpx.Client]:
    with (
        run_app(create_app(ClarusSettings(**settings))) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        yield client


@contextmanager
def receiving(receiver: Receiver) -> Iterator[str]:
    with run_app(receiver.app) as url:
        yield f"{url}/hook"


def move(client: httpx.Client, *movements: dict[str, Any], expect: int = 200) -> dict[str, Any]:
    response = client.post("/_control/movements", json={"movements": list(movements)})
    assert response.status_code == expect, response.text
    body: dict[str, Any] = response.json()
    return body


def receipts(n: int, sku: str = "SKU-1", warehouse: str = "WH1") -> list[dict[str, Any]]:
    return [
        {"warehouse_id": warehouse, "movement_type": "receipt", "sku": sku, "quantity": i + 1}
        for i in range(n)
    ]


def drain(client: httpx.Client, timeout: float = 20) -> dict[str, Any]:
    body: dict[str, Any] = client.post("/_control/drain", params={"timeout": timeout}).json()
    assert body["drained"] is True, body
    return body


def test_api_requires_bearer_token() -> None:
    with clarus(warehouses=["WH1", "WH2"]) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic clarus-dev-key"}):
            response = client.get("/api/v1/warehouses", headers=headers)
            assert response.status_code == 401
            assert response.json()["error"]["code"] == "unauthorized"
            assert response.headers["www-authenticate"].startswith("Bearer")
        response = client.get("/api/v1/warehouses", headers=AUTH)
        assert [w["id"] for w in response.json()["data"]] == ["WH1", "WH2"]
        assert client.get("/api/v1/nothing", headers=AUTH).json()["error"]["code"] == "not_found"


def test_stock_snapshot_pages_in_sku_order_and_keeps_emptied_rows() -> None:
    with clarus() as client:
        skus = [f"SKU-{i:03d}" for i in range(30)]
        move(
            client,
            *[
                {"warehouse_id": "WH1", "movement_type": "receipt", "sku": s, "quantity": 10}
                for s in reversed(skus)
            ],
        )
        move(
            client,
            *[
                {"warehouse_id": "WH1", "movement_type": "allocate", "sku": s, "quantity": 3}
                for s in skus[::2]
            ],
        )
        move(
            client,
            {
                "warehouse_id": "WH1",
                "movement_type": "status_change",
                "sku": "SKU-005",
                "quantity": 10,
                "from_status": "available",
                "to_status": "quarantine",
            },
        )
        rows: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {
                "warehouse_id": "WH1",
                "limit": 7,
                **({"cursor": cursor} if cursor else {}),
            }
            page = client.get("/api/v1/stock", params=params, headers=AUTH).json()
            assert len(page["data"]) <= 7
            assert page["as_of_sequence"] == 46
            rows += page["data"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert [r["sku"] for r in rows] == sorted(r["sku"] for r in rows)
        assert {
            "warehouse_id": "WH1",
            "sku": "SKU-005",
            "status": "available",
            "quantity": 0,
            "sequence": 46,
        } in rows
        state = client.get("/_control/state").json()["warehouses"]["WH1"]
        assert {(r["sku"], r["status"]): r["quantity"] for r in rows if r["quantity"]} == {
            (sku, status): q for sku, statuses in state["stock"].items() for status, q in statuses.items()
        }
        one = client.get("/api/v1/stock", params={"warehouse_id": "WH1", "sku": "SKU-004"}, headers=AUTH)
        assert [(r["status"], r["quantity"]) for r in one.json()["data"]] == [
            ("available", 7),
            ("allocated", 3),
        ]
        cases: list[tuple[dict[str, Any], int, str]] = [
            ({"warehouse_id": "WH1", "limit": 1001}, 400, "limit"),
            ({"warehouse_id": "WH1", "cursor": "bogus"}, 400, "cursor"),
            ({}, 400, "warehouse_id"),
            ({"warehouse_id": "WH9"}, 404, "warehouse_id"),
        ]
        for bad, status, field in cases:
            response = client.get("/api/v1/stock", params=bad, headers=AUTH)
            assert (response.status_code, response.json()["error"]["field"]) == (status, field)


def test_events_feed_resumes_after_a_sequence() -> None:
    with clarus() as client:
        move(client, *receipts(25))
        seen: list[dict[str, Any]] = []
        after = 0
        while True:
            page = client.get(
                "/api/v1/events",
                params={"warehouse_id": "WH1", "after_sequence": after, "limit": 10},
                headers=AUTH,
            ).json()
            seen += page["data"]
            after = page["next_after_sequence"]
            if not page["has_more"]:
                break
        assert [e["data"]["sequence"] for e in seen] == list(range(1, 26))
        assert seen[-1]["id"] == "evt_WH1_000000000025"
        assert seen[-1]["data"]["balances"] == [{"status": "available", "quantity": sum(range(1, 26))}]
        assert after == 25
        client.post("/_control/reset")
        response = client.get(
            "/api/v1/events", params={"warehouse_id": "WH1", "after_sequence": 25}, headers=AUTH
        )
        assert (response.status_code, response.json()["error"]["code"]) == (409, "sequence_ahead")


def test_negative_movement_is_refused_and_changes_nothing() -> None:
    with clarus() as client:
        body = move(
            client,
            {"warehouse_id": "WH1", "movement_type": "receipt", "sku": "A", "quantity": 2},
            {"warehouse_id": "WH1", "movement_type": "allocate", "sku": "A", "quantity": 3},
            {"warehouse_id": "WH1", "movement_type": "count", "sku": "A", "quantity": 3},
            expect=422,
        )
        assert body["applied"] == 1
        assert body["last_sequence"] == {"WH1": 1}
        assert [(r["index"], r["code"], r["field"]) for r in body["rejected"]] == [
            (1, "insufficient_stock", "quantity"),
            (2, "invalid_field", "counted_quantity"),
        ]
        assert "only 2" in body["rejected"][0]["reason"]
        assert body["error"]["code"] == "movement_rejected"
        assert client.get("/_control/state").json()["warehouses"]["WH1"] == {
            "name": "Clarus warehouse WH1",
            "sequence": 1,
            "stock": {"A": {"available": 2}},
        }
        feed = client.get("/api/v1/events", params={"warehouse_id": "WH1"}, headers=AUTH).json()
        assert len(feed["data"]) == 1


def test_transfer_between_warehouses_added_at_runtime() -> None:
    with clarus() as client:
        assert client.post("/_control/warehouses", json={"id": "WH2", "name": "North"}).status_code == 201
        assert client.post("/_control/warehouses", json={"id": "WH2"}).status_code == 409
        move(
            client,
            {"warehouse_id": "WH1", "movement_type": "receipt", "sku": "A", "quantity": 9},
            {
                "warehouse_id": "WH1",
                "movement_type": "transfer_out",
                "sku": "A",
                "quantity": 4,
                "to_warehouse_id": "WH2",
            },
        )
        body = move(
            client,
            {
                "warehouse_id": "WH1",
                "movement_type": "transfer_in",
                "sku": "A",
                "quantity": 4,
                "to_warehouse_id": "WH2",
            },
        )
        assert body["last_sequence"] == {"WH1": 3, "WH2": 1}
        state = client.get("/_control/state").json()["warehouses"]
        assert (state["WH1"]["stock"], state["WH2"]["stock"]) == (
            {"A": {"available": 5}},
            {"A": {"available": 4}},
        )


def test_webhooks_are_signed_and_match_the_events_feed() -> None:
    receiver = Receiver()
    with receiving(receiver) as hook_url, clarus() as client:
        created = client.post(
            "/api/v1/webhooks",
            json={"url": hook_url, "secret": SECRET, "events": ["inventory.movement"]},
            headers=AUTH,
        )
        assert created.status_code == 201
        assert created.json()["id"] == "wh_1"
        listed = client.get("/api/v1/webhooks", headers=AUTH).json()["data"]
        assert [w["url"] for w in listed] == [hook_url]
        assert "secret" not in listed[0]
        move(client, *receipts(20))
        drain(client)
        feed = client.get("/api/v1/events", params={"warehouse_id": "WH1"}, headers=AUTH).json()["data"]
        assert sorted(receiver.events(), key=lambda e: e["data"]["sequence"]) == feed
        for headers, body in receiver.accepted:
            signed = headers["x-clarus-timestamp"].encode() + b"." + body
            expected = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(headers["x-clarus-signature"], f"sha256={expected}")
            assert headers["content-type"] == "application/json"
            assert headers["x-clarus-event-type"] == "inventory.movement"
            assert headers["x-clarus-event-id"] == json.loads(body)["id"]
            assert abs(int(headers["x-clarus-timestamp"]) - time.time()) < 60
            assert body == json.dumps(json.loads(body), separators=(",", ":")).encode()
        counters = client.get("/_control/deliveries").json()
        assert (counters["delivered"], counters["queued"], counters["in_flight"]) == (20, 0, 0)


def test_paused_deliveries_wait_in_the_queue_and_leave_together_when_released() -> None:
    receiver = Receiver()
    with receiving(receiver) as hook_url, clarus() as client:
        client.post(
            "/api/v1/webhooks",
            json={"url": hook_url, "secret": SECRET, "events": ["inventory.movement"]},
            headers=AUTH,
        ).raise_for_status()
        assert client.put("/_control/deliveries", json={"paused": True}).json()["paused"] is True
        move(client, *receipts(30))
        counters = client.get("/_control/deliveries").json()
        assert (counters["queued"], counters["delivered"], len(receiver.accepted)) == (30, 0, 0)
        assert client.put("/_control/deliveries", json={"paused": "yes"}).status_code == 400
        assert client.put("/_control/deliveries", json={"paused": False}).json()["paused"] is False
        drain(client)
        assert client.get("/_control/deliveries").json()["delivered"] == 30
        assert sorted(e["data"]["sequence"] for e in receiver.events()) == list(range(1, 31))


def test_clock_skew_fault_shifts_the_signed_timestamp() -> None:
    receiver = Receiver()
    with receiving(receiver) as hook_url, clarus(webhook_url=hook_url, webhook_secret=SECRET) as client:
        assert client.put("/_control/faults", json={"clock_skew_s": -600}).json()["clock_skew_s"] == -600.0
        assert client.put("/_control/faults", json={"clock_skew_s": "soon"}).status_code == 400
        move(client, *receipts(2))
        drain(client)
        for headers, body in receiver.accepted:
            assert abs(int(headers["x-clarus-timestamp"]) - (time.time() - 600)) < 60
            signed = headers["x-clarus-timestamp"].encode() + b"." + body
            expected = hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
            assert headers["x-clarus-signature"] == f"sha256={expected}"


def test_preconfigured_webhook_and_deleted_subscription() -> None:
    receiver = Receiver()
    with receiving(receiver) as hook_url, clarus(webhook_url=hook_url, webhook_secret=SECRET) as client:
        move(client, *receipts(3))
        drain(client)
        assert sorted(receiver.sequences()) == [1, 2, 3]
        assert client.delete("/api/v1/webhooks/wh_1", headers=AUTH).status_code == 204
        assert client.delete("/api/v1/webhooks/wh_1", headers=AUTH).status_code == 404
        move(client, *receipts(3))
        drain(client)
        assert len(receiver.accepted) == 3


def test_duplicate_fault_sends_every_event_twice() -> None:
    receiver = Receiver()
    with receiving(receiver) as hook_url, clarus(webhook_url=hook_url, webhook_secret=SECRET) as client:
        faults = client.put("/_control/faults", json={"duplicate_rate": 1.0}).json()
        assert faults["duplicate_rate"] == 1.0
        move(client, *receipts(15))
        counters = drain(client)
        assert Counter(receiver.sequences()) == {seq: 2 for seq in range(1, 16)}
        assert (counters["delivered"], counters["duplicates_sent"]) == (15, 15)


def test_drop_fault_loses_webhooks_but_not_events_and_is_seeded() -> None:
    receiver = Receiver()
    with receiving(receiver) as hook_url, clarus(webhook_url=hook_url, webhook_secret=SECRET) as client:
        delivered_sets = []
        for _ in range(2):
            client.post("/_control/reset", json={"seed": 42, "faults": {"drop_rate": 0.4}})
            with receiver.lock:
                receiver.accepted.clear()
            move(client, *receipts(50))
            counters = drain(client)
            received = set(receiver.sequences())
            assert 0 < counters["dropped"] < 50
            assert len(received) + counters["dropped"] == 50 == counters["delivered"] + counters["dropped"]
            feed = client.get("/api/v1/events", params={"warehouse_id": "WH1"}, headers=AUTH).json()["data"]
            assert len(feed) == 50
            delivered_sets.append(received)
        assert delivered_sets[0] == delivered_sets[1]


def test_reorder_fault_sends_held_deliveries_after_later_ones() -> None:
    receiver = Receiver()
    with (
        receiving(receiver) as hook_url,
        clarus(webhook_url=hook_url, webhook_secret=SECRET, concurrency=1, seed=7) as client,
    ):
        client.put("/_control/faults", json={"reorder_rate": 0.3, "reorder_depth": 5})
        move(client, *receipts(40))
        counters = drain(client)
        sequences = receiver.sequences()
        assert sorted(sequences) == list(range(1, 41))
        assert sequences != sorted(sequences)
        assert counters["reordered"] > 0
        late = [s for i, s in enumerate(sequences) if any(later < s for later in sequences[i + 1 :])]
        assert late, "some deliveries should have overtaken a held one"


def test_receiver_500_is_retried_until_accepted() -> None:
    receiver = Receiver(fail_first=2)
    with (
        receiving(receiver) as hook_url,
        clarus(webhook_url=hook_url, webhook_secret=SECRET, retry_base_s=0.01) as client,
    ):
        move(client, *receipts(10))
        counters = drain(client)
        assert sorted(receiver.sequences()) == list(range(1, 11))
        assert set(receiver.attempts.values()) == {3}
        assert {h["x-clarus-delivery-attempt"] for h, _ in receiver.accepted} == {"3"}
        assert (counters["delivered"], counters["failed_attempts"]) == (10, 20)


def test_simulated_failures_are_retried_without_reaching_the_receiver() -> None:
    receiver = Receiver()
    with (
        receiving(receiver) as hook_url,
        clarus(
            webhook_url=hook_url, webhook_secret=SECRET, seed=1, retry_base_s=0.01, retry_max_s=0.05
        ) as client,
    ):
        client.put("/_control/faults", json={"failure_rate": 0.5, "delay_ms": [0, 2]})
        move(client, *receipts(30))
        counters = drain(client)
        assert sorted(receiver.sequences()) == list(range(1, 31))
        assert set(receiver.attempts.values()) == {1}
        assert counters["failed_attempts"] > 0
        assert counters["delivered"] == 30


def test_receiver_4xx_is_rejected_without_retry() -> None:
    receiver = Receiver(status=400)
    with (
        receiving(receiver) as hook_url,
        clarus(webhook_url=hook_url, webhook_secret=SECRET, retry_base_s=0.01) as client,
    ):
        move(client, *receipts(5))
        counters = drain(client)
        assert (counters["rejected"], counters["delivered"], counters["failed_attempts"]) == (5, 0, 0)
        assert set(receiver.attempts.values()) == {1}


def test_drain_reports_timeout_while_receiver_is_down() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    with clarus(webhook_url=dead_url, webhook_secret=SECRET, retry_base_s=0.05) as client:
        move(client, *receipts(2))
        body = client.post("/_control/drain", params={"timeout": 0.3}).json()
        assert body["drained"] is False
        assert body["queued"] + body["in_flight"] == 2
        assert body["failed_attempts"] >= 2


@pytest.mark.slow
def test_module_entry_point_serves() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "stockbridge.simulators.clarus", "--port", str(port), "--api-key", "k1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/api/v1/warehouses", headers={"Authorization": "Bearer k1"}
                )
                break
            except httpx.TransportError:
                assert process.poll() is None, "simulator exited"
                assert time.monotonic() < deadline, "simulator did not start"
                time.sleep(0.05)
        assert response.json() == {"data": [{"id": "WH1", "name": "Clarus warehouse WH1"}]}
    finally:
        process.terminate()
        process.wait(10)


def test_validation_errors_and_injected_clock() -> None:
    fixed = datetime(2026, 11, 26, 3, 30, 0, 123456, tzinfo=UTC)
    with clarus(clock=lambda: fixed) as client:
        move(client, *receipts(1))
        feed = client.get("/api/v1/events", params={"warehouse_id": "WH1"}, headers=AUTH).json()["data"]
        assert feed[0]["data"]["occurred_at"] == feed[0]["created_at"] == "2026-11-26T03:30:00.123456Z"
        bad_hook = client.post("/api/v1/webhooks", json={"url": "ftp://x", "secret": "s"}, headers=AUTH)
        assert (bad_hook.status_code, bad_hook.json()["error"]["field"]) == (422, "url")
        assert client.get("/api/v1/webhooks/wh_9", headers=AUTH).status_code == 404
        assert client.put("/api/v1/warehouses", headers=AUTH).json()["error"]["code"] == "method_not_allowed"
        bad_fault = client.put("/_control/faults", json={"drop_rate": 2})
        assert (bad_fault.status_code, bad_fault.json()["error"]["field"]) == (400, "drop_rate")
        bad_reset = client.post("/_control/reset", json={"colour": "red"})
        assert (bad_reset.status_code, bad_reset.json()["error"]["field"]) == (400, "colour")
        assert client.post("/_control/movements", content=b"{").json()["error"]["code"] == "invalid_json"
        assert client.post("/_control/reset", json={"warehouses": ["A", "B"]}).status_code == 200
        state = client.get("/_control/state").json()["warehouses"]
        assert state == {w: {"name": f"Clarus warehouse {w}", "sequence": 0, "stock": {}} for w in ("A", "B")}


def test_the_api_rate_limit_refuses_with_retry_after_and_counts_calls() -> None:
    with run_app(create_app(ClarusSettings())) as url:
        httpx.put(f"{url}/_control/limits", json={"calls_per_second": 2}).raise_for_status()
        statuses = [httpx.get(f"{url}/api/v1/warehouses", headers=AUTH) for _ in range(4)]
        refused = [r for r in statuses if r.status_code == 429]
        assert refused, [r.status_code for r in statuses]  # a burst of 2, then refusals
        assert refused[0].json()["error"]["code"] == "rate_limited"
        assert 0 < float(refused[0].headers["retry-after"]) <= 0.5
        stats = httpx.get(f"{url}/_control/stats").json()
        assert (stats["calls"], stats["throttled_429"]) == (4, len(refused))
        assert stats["calls_by_route"] == {"GET /api/v1/warehouses": 4}
        assert httpx.put(f"{url}/_control/limits", json={"calls_per_second": 0}).status_code == 400
        httpx.put(f"{url}/_control/limits", json={"calls_per_second": None}).raise_for_status()
        httpx.post(f"{url}/_control/reset").raise_for_status()
        assert httpx.get(f"{url}/api/v1/warehouses", headers=AUTH).status_code == 200
        assert httpx.get(f"{url}/_control/stats").json()["calls"] == 1
