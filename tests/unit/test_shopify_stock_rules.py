"""The Shopify simulator's stock rules, without HTTP: orders commit, fulfilments ship, cancels release."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from stockbridge.simulators.shopify.inventory import InventorySetter
from stockbridge.simulators.shopify.orders import OrderBook, OrderError
from stockbridge.simulators.shopify.state import Catalog

SKUS = ("A", "B")


class Quiet:
    def send(self, topic: str, body: dict[str, Any]) -> None:
        pass


def _store() -> tuple[Catalog, OrderBook, InventorySetter]:
    catalog = Catalog(lambda: datetime(2026, 11, 30, tzinfo=UTC))
    for sku in SKUS:
        catalog.add_product(sku, [{"sku": sku, "inventory": {1: 10}}])
    return catalog, OrderBook(catalog, Quiet()), InventorySetter(catalog)


operation = st.one_of(
    st.tuples(st.just("place"), st.sampled_from(SKUS), st.integers(1, 5)),
    st.tuples(st.just("edit"), st.integers(0, 9), st.integers(0, 6)),
    st.tuples(st.just("fulfil"), st.integers(0, 9), st.integers(1, 3)),
    st.tuples(st.just("cancel"), st.integers(0, 9), st.just(0)),
    st.tuples(st.just("set"), st.sampled_from(SKUS), st.integers(0, 30)),
)


@given(st.lists(operation, max_size=30))
def test_on_hand_is_available_plus_committed_and_commitments_are_the_open_lines(
    operations: list[tuple[str, Any, int]],
) -> None:
    catalog, book, setter = _store()
    set_deltas = dict.fromkeys(SKUS, 0)
    for n, (kind, target, quantity) in enumerate(operations):
        orders = list(book.orders.values())
        order = orders[target % len(orders)] if orders and kind in ("edit", "fulfil", "cancel") else None
        try:
            if kind == "place":
                book.place({"line_items": [{"sku": target, "quantity": quantity}]})
            elif kind == "edit" and order is not None:
                book.edit(order.id, {"line_items": [{"id": order.line_items[0].id, "quantity": quantity}]})
            elif kind == "fulfil" and order is not None:
                line = order.line_items[0]
                if min(quantity, line.remaining) > 0 and order.cancelled_at is None:
                    book.fulfil(order, [(line, min(quantity, line.remaining))], {"number": f"T{n}"}, False)
            elif kind == "cancel" and order is not None:
                book.cancel(order.id, {})
            elif kind == "set":
                item = catalog.variant_by_sku(target)
                assert item is not None
                before = catalog.levels[(item.inventory_item_id, 1)].get("available")
                payload = {
                    "name": "available",
                    "reason": "correction",
                    "quantities": [
                        {
                            "inventoryItemId": f"gid://shopify/InventoryItem/{item.inventory_item_id}",
                            "locationId": "gid://shopify/Location/1",
                            "quantity": quantity,
                            "changeFromQuantity": before,
                        }
                    ],
                }
                result = setter.set_quantities(payload, key=f"k{n}", strict=True, max_quantities=250)
                assert result.user_errors == []
                set_deltas[target] += quantity - before
        except OrderError:
            pass  # refused edits (below what shipped, after cancel) change nothing
    for sku in SKUS:
        variant = catalog.variant_by_sku(sku)
        assert variant is not None
        level = catalog.levels[(variant.inventory_item_id, 1)]
        lines = [(o, line) for o in book.orders.values() for line in o.line_items if line.sku == sku]
        assert level.get("committed") == sum(line.remaining for o, line in lines if o.cancelled_at is None)
        assert level.get("on_hand") == level.get("available") + level.get("committed")
        shipped = sum(line.fulfilled for _, line in lines)
        assert level.get("available") + level.get("committed") + shipped == 10 + set_deltas[sku]
