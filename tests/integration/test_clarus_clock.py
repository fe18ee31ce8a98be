"""The Clarus simulator's clock control: a warehouse whose clock is off (`PUT /_control/clock`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
from tests.clarus_support import Receiver
from tests.servers import run_app

from stockbridge.simulators.clarus import ClarusSettings, create_app

FIXED = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
RECEIPT = {"warehouse_id": "WH1", "movement_type": "receipt", "sku": "SKU-1", "quantity": 3}


def test_offset_moves_event_times_and_webhook_timestamps_and_can_be_undone() -> None:
    receiver = Receiver()
    with run_app(receiver.app) as hook_url:
        settings = ClarusSettings(webhook_url=f"{hook_url}/hook", webhook_secret="s", clock=lambda: FIXED)
        with run_app(create_app(settings)) as url, httpx.Client(base_url=url, timeout=30) as client:
            assert client.get("/_control/clock").json()["offset_s"] == 0
            answer = client.put("/_control/clock", json={"offset_s": 300})
            assert answer.status_code == 200
            assert answer.json()["now"] == (FIXED + timedelta(seconds=300)).isoformat()
            client.post("/_control/movements", json={"movements": [RECEIPT]}).raise_for_status()
            client.put("/_control/clock", json={"offset_s": 0}).raise_for_status()
            client.post("/_control/movements", json={"movements": [RECEIPT]}).raise_for_status()
            assert client.post("/_control/drain", params={"timeout": 20}).json()["drained"]
    events = receiver.events()
    assert [e["data"]["occurred_at"] for e in events] == [
        "2026-11-26T09:05:00.000000Z",
        "2026-11-26T09:00:00.000000Z",
    ]
    stamps = {
        json.loads(body)["data"]["sequence"]: int(h["x-clarus-timestamp"]) for h, body in receiver.accepted
    }
    # The skewed delivery's stamp runs 300 s ahead of the wall clock, the later one does not.
    assert stamps[1] - stamps[2] >= 299


def test_offset_must_be_a_finite_number_of_seconds() -> None:
    with run_app(create_app(ClarusSettings())) as url, httpx.Client(base_url=url) as client:
        for bad in ("300", True, None, 10**9):
            response = client.put("/_control/clock", json={"offset_s": bad})
            assert response.status_code == 400, bad
            assert response.json()["error"]["code"] == "invalid_setting"
        assert client.get("/_control/clock").json()["offset_s"] == 0
