"""Despatches end to end: Clarus simulator → hub → IMS simulator and a local SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.e2e.stack import Stack, stack, wait_until

from stockbridge.demo import mail_server
from stockbridge.demo.despatch_day import Mailbox

pytestmark = pytest.mark.slow

ADDRESS = {
    "addressee": "Ada Lovelace",
    "addr1": "12 Analytical St",
    "city": "London",
    "zip": "N1 9GU",
    "country": "GB",
}


@pytest.fixture
def env(db_url: str, tmp_path: Path) -> Iterator[tuple[Stack, Mailbox]]:
    mailbox = Mailbox()
    with mail_server(mailbox) as port, stack(db_url, tmp_path) as s:
        mailbox.ims_url = s.ims_url
        s.overrides = {
            # A notice ends before its lease (engine.lease_s is 5 in the stack) does.
            "fulfilment.notifier": {
                "kind": "smtp",
                "smtp_host": "127.0.0.1",
                "smtp_port": port,
                "timeout_s": 4,
            },
            "fulfilment.bill_on_fulfilment": True,
        }
        s.create_items(["MUG-1", "TEA-2"])
        members = [{"itemId": "MUG-1", "quantity": 2}, {"itemId": "TEA-2", "quantity": 1}]
        s.http.post(
            f"{s.ims_url}/_control/items",
            json={"items": [{"itemId": "GIFT-BOX", "itemType": "Kit", "members": members}]},
        ).raise_for_status()
        yield s, mailbox


def _order(env: Stack, tran_id: str, lines: list[tuple[str, int]]) -> str:
    order = {
        "tranId": tran_id,
        "status": "B",
        "shipMethod": "UPS Ground",
        "email": f"{tran_id.lower()}@example.com",
        "shippingAddress": ADDRESS,
        "lines": [{"itemId": sku, "quantity": qty} for sku, qty in lines],
    }
    response = env.http.post(f"{env.ims_url}/_control/sales_orders", json={"orders": [order]})
    response.raise_for_status()
    return str(response.json()["ids"][tran_id])


def _release(env: Stack) -> None:
    env.run_job("product_sync", wait=True)
    env.run_job("orders_poll", wait=True)
    wait_until(env.orders_settled, 30, "orders to reach the warehouse")


def _despatch(
    env: Stack, reference: str, shipment_id: str, lines: list[tuple[str, int]] | None = None
) -> None:
    body: dict[str, Any] = {
        "shipment_id": shipment_id,
        "carrier": "UPS",
        "tracking_numbers": [f"1Z{shipment_id}"],
    }
    if lines is not None:
        body["lines"] = [{"line_ref": ref, "quantity": qty} for ref, qty in lines]
    # The warehouse releases the order to the floor first (a no-op if it is already further on).
    env.http.post(f"{env.clarus_url}/_control/orders/{reference}/advance", json={"status": "released"})
    env.http.post(f"{env.clarus_url}/_control/orders/{reference}/despatch", json=body).raise_for_status()


def _settled(env: Stack) -> bool:
    health = env.health()
    return env.orders_settled() and not health["fulfilment_commands"].get("pending")


def _fulfilments(env: Stack) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = env.http.get(f"{env.ims_url}/_control/fulfilments").json()["fulfilments"]
    return found


def _ims_order(env: Stack, tran_id: str) -> dict[str, Any]:
    order: dict[str, Any] = env.http.get(f"{env.ims_url}/_control/sales_orders").json()["orders"][tran_id]
    return order


def test_three_partial_shipments_complete_the_order_once_each(env: tuple[Stack, Mailbox]) -> None:
    s, mailbox = env
    s.http.put(
        f"{s.clarus_url}/_control/faults", json={"duplicate_rate": 1.0, "reorder_rate": 0.5}
    ).raise_for_status()
    _order(s, "SO1", [("MUG-1", 3), ("TEA-2", 2)])
    with s.hub():
        s.subscribe()
        _release(s)
        _despatch(s, "SO1", "SHP-A", [("1", 1)])
        _despatch(s, "SO1", "SHP-B", [("1", 2), ("2", 1)])
        wait_until(lambda: len(_fulfilments(s)) == 2 and _settled(s), 30, "two fulfilments")
        assert _ims_order(s, "SO1")["status"] in ("D", "E")
        _despatch(s, "SO1", "SHP-C", [("2", 1)])
        wait_until(
            lambda: len(_fulfilments(s)) == 3 and _settled(s) and len(mailbox.received) == 3, 30, "third"
        )
    assert sorted(f["externalId"] for f in _fulfilments(s)) == ["sb-if-SHP-A", "sb-if-SHP-B", "sb-if-SHP-C"]
    assert _ims_order(s, "SO1")["status"] in ("F", "G")
    assert all(mail["if_existed"] for mail in mailbox.received)
    assert s.fulfilment_report(mailbox.received).problems == 0
    assert sorted(mail["shipment"] for mail in mailbox.received) == ["SHP-A", "SHP-B", "SHP-C"]
    invoices = s.http.get(f"{s.ims_url}/_control/invoices").json()["invoices"]
    assert sorted(i["externalId"] for i in invoices) == ["sb-inv-SHP-A", "sb-inv-SHP-B", "sb-inv-SHP-C"]


def test_a_bundle_shipped_in_two_parcels_is_reported_in_whole_bundles(env: tuple[Stack, Mailbox]) -> None:
    s, _ = env
    _order(s, "SO2", [("GIFT-BOX", 2)])
    with s.hub():
        s.subscribe()
        _release(s)
        _despatch(s, "SO2", "SHP-1", [("1.1", 3), ("1.2", 1)])  # one whole box, half of another
        wait_until(lambda: len(_fulfilments(s)) == 1 and _settled(s), 30, "the first fulfilment")
        _despatch(s, "SO2", "SHP-2", [("1.1", 1), ("1.2", 1)])
        wait_until(lambda: len(_fulfilments(s)) == 2 and _settled(s), 30, "the second fulfilment")
    quantities = [
        [line["quantity"] for line in f["lines"]] for f in sorted(_fulfilments(s), key=lambda f: f["seq"])
    ]
    assert quantities == [[1], [1]]
    assert s.fulfilment_report().problems == 0


def test_ims_failure_after_the_fulfilment_was_created_does_not_make_another(
    env: tuple[Stack, Mailbox],
) -> None:
    s, mailbox = env
    _order(s, "SO3", [("MUG-1", 1)])
    with s.hub():
        s.subscribe()
        _release(s)
        s.http.put(f"{s.ims_url}/_control/faults", json={"fail_after_commit_next": 1}).raise_for_status()
        _despatch(s, "SO3", "SHP-X")
        wait_until(lambda: _settled(s) and len(mailbox.received) == 1, 30, "the fulfilment and its notice")
    assert [f["externalId"] for f in _fulfilments(s)] == ["sb-if-SHP-X"]
    assert mailbox.received[0]["if_existed"]
    assert s.fulfilment_report(mailbox.received).problems == 0


def test_despatch_before_the_hub_knows_the_order_waits_then_applies(env: tuple[Stack, Mailbox]) -> None:
    s, _ = env
    with s.hub():
        s.subscribe()
        s.run_job("product_sync", wait=True)
        # The warehouse has the order (sent by another path) and ships it before the IMS order exists.
        s.http.post(
            f"{s.clarus_url}/api/v1/orders",
            headers={"Authorization": "Bearer test-clarus-key"},
            json={
                "reference": "SO4",
                "warehouse_id": "WH1",
                "ship_method": "STD",
                "ship_to": {
                    "name": "Ada",
                    "line1": "1 St",
                    "city": "London",
                    "postcode": "N1 9GU",
                    "country": "GB",
                },
                "lines": [{"line_ref": "1", "sku": "MUG-1", "quantity": 1}],
            },
        ).raise_for_status()
        _despatch(s, "SO4", "SHP-EARLY")
        wait_until(lambda: s.health()["shipments"].get("parked") == 1, 30, "the shipment to be parked")
        assert _fulfilments(s) == []
        _order(s, "SO4", [("MUG-1", 1)])
        s.run_job("orders_poll", wait=True)
        wait_until(lambda: len(_fulfilments(s)) == 1 and _settled(s), 30, "the parked shipment to be applied")
        assert s.health()["counters"].get("fulfilment.released_from_parking") == 1
    report = s.fulfilment_report()
    assert (report.problems, report.item_fulfilments, report.must_fulfil) == (0, 1, 1)
