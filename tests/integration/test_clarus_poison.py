"""The Clarus simulator's poison events: signed webhooks and events-feed entries no consumer can use."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from tests.clarus_support import Receiver, clarus_client
from tests.servers import run_app

SECRET = "whsec-poison"


def _receipt(sku: str, quantity: int) -> dict[str, object]:
    return {"warehouse_id": "WH1", "movement_type": "receipt", "sku": sku, "quantity": quantity}


def test_poison_events_are_delivered_signed_and_listed_in_the_feed_in_sequence() -> None:
    receiver = Receiver()
    with run_app(receiver.app) as hook_url, clarus_client() as client:
        client.post("/api/v1/webhooks", json={"url": f"{hook_url}/hook", "secret": SECRET}).raise_for_status()
        client.post("/_control/movements", json={"movements": [_receipt("GOOD-1", 4)]}).raise_for_status()
        made = []
        for kind in ("malformed_json", "schema_invalid", "out_of_range"):
            response = client.post("/_control/poison", json={"kind": kind})
            assert response.status_code == 201, response.text
            made.append(response.json())
        client.post("/_control/movements", json={"movements": [_receipt("GOOD-2", 6)]}).raise_for_status()
        assert client.post("/_control/drain", params={"timeout": 30}).json()["drained"]
        feed = client.get("/api/v1/events", params={"warehouse_id": "WH1"}).json()["data"]
        stock = client.get("/_control/state").json()["warehouses"]["WH1"]["stock"]

    assert [m["sequence"] for m in made] == [2, 3, 4]
    assert [m["id"] for m in made] == [f"evt_WH1_{n:012d}" for n in (2, 3, 4)]
    # Signed through the normal delivery, like every event.
    delivered = {headers["x-clarus-event-id"]: (headers, body) for headers, body in receiver.accepted}
    assert len(delivered) == 5
    for m in made:
        headers, body = delivered[m["id"]]
        signed = headers["x-clarus-timestamp"].encode() + b"." + body
        expected = "sha256=" + hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
        assert headers["x-clarus-signature"] == expected
        assert headers["x-clarus-event-type"] == "inventory.movement"
        assert body.decode() == m["body"]
    malformed, invalid, huge = (delivered[m["id"]][1] for m in made)
    with pytest.raises(json.JSONDecodeError):
        json.loads(malformed)
    assert "sequence" not in json.loads(invalid)["data"]
    assert json.loads(invalid)["data"]["balances"] == "available=5"
    assert json.loads(huge)["data"]["balances"] == [{"status": "available", "quantity": 10**20}]
    # Listed in the feed in sequence order, between the good events; a feed cannot carry broken JSON,
    # so the malformed one is an item that is not an event object.
    assert feed[0]["id"] == "evt_WH1_000000000001"
    assert feed[1] == malformed.decode()
    assert feed[2] == json.loads(invalid)
    assert feed[3] == json.loads(huge)
    assert feed[4]["data"]["sku"] == "GOOD-2"
    assert stock == {"GOOD-1": {"available": 4}, "GOOD-2": {"available": 6}}


def test_poison_requests_are_checked() -> None:
    with clarus_client() as client:
        bad_kind = client.post("/_control/poison", json={"kind": "gremlins"})
        bad_warehouse = client.post("/_control/poison", json={"kind": "out_of_range", "warehouse_id": "NOPE"})
        own_quantity = client.post("/_control/poison", json={"kind": "out_of_range", "quantity": 2**63})
    assert (bad_kind.status_code, bad_kind.json()["error"]["field"]) == (422, "kind")
    assert bad_warehouse.status_code == 404
    assert own_quantity.status_code == 201
    assert json.loads(own_quantity.json()["body"])["data"]["balances"][0]["quantity"] == 2**63
