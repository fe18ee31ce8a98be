"""fulfillmentCreate (partial by fulfilment-order line items and quantities) and webhookSubscriptionCreate."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLResolveInfo

from .ids import gid, parse_gid
from .order_views import FulfilmentView
from .orders import LineItem, Order, OrderBook
from .webhooks import WebhookSender

Info = GraphQLResolveInfo


def _error(field: list[str], message: str) -> dict[str, Any]:
    return {"field": field, "message": message}


class OrderMutations:
    def __init__(self, book: OrderBook, webhooks: WebhookSender) -> None:
        self.book = book
        self.webhooks = webhooks

    def fulfillmentCreate(
        self, info: Info, fulfillment: dict[str, Any], message: str | None = None
    ) -> dict[str, Any]:
        groups = fulfillment.get("lineItemsByFulfillmentOrder") or []
        if not groups:
            return self._refused(
                ["fulfillment", "lineItemsByFulfillmentOrder"],
                "Line items by fulfillment order can't be blank.",
            )
        order: Order | None = None
        wanted: dict[int, int] = {}  # line item id -> quantity
        lines: dict[int, LineItem] = {}
        for g, group in enumerate(groups):
            path = ["fulfillment", "lineItemsByFulfillmentOrder", str(g)]
            fo_order = self.book.by_fulfillment_order(
                parse_gid(group.get("fulfillmentOrderId"), "FulfillmentOrder") or 0
            )
            if fo_order is None:
                return self._refused([*path, "fulfillmentOrderId"], "Fulfillment order does not exist.")
            if order is not None and fo_order is not order:
                return self._refused(path, "All fulfillment orders must belong to the same order.")
            order = fo_order
            status = order.fulfillment_order_status()
            if status in ("CLOSED", "CANCELLED"):
                return self._refused(
                    [*path, "fulfillmentOrderId"],
                    f"Fulfillment order {gid('FulfillmentOrder', order.fulfillment_order_id)} has an "
                    f"unfulfillable status= {status.lower()}.",
                )
            by_fo_line = {line.fo_line_id: line for line in order.line_items}
            items = group.get("fulfillmentOrderLineItems")
            if items is None:  # the whole fulfilment order: everything still to ship
                for line in order.line_items:
                    if line.remaining:
                        wanted[line.id] = wanted.get(line.id, 0) + line.remaining
                        lines[line.id] = line
                continue
            for i, item in enumerate(items):
                found = by_fo_line.get(parse_gid(item.get("id"), "FulfillmentOrderLineItem") or 0)
                if found is None:
                    return self._refused(
                        [*path, "fulfillmentOrderLineItems", str(i), "id"],
                        "Fulfillment order line item does not exist.",
                    )
                quantity = int(item["quantity"])
                if quantity <= 0:
                    return self._refused(
                        [*path, "fulfillmentOrderLineItems", str(i), "quantity"],
                        "Quantity must be greater than 0.",
                    )
                wanted[found.id] = wanted.get(found.id, 0) + quantity
                lines[found.id] = found
        assert order is not None
        for line_id, quantity in wanted.items():
            if quantity > lines[line_id].remaining:
                return self._refused(
                    ["fulfillment", "lineItemsByFulfillmentOrder"],
                    f"Invalid fulfillment order line item quantity requested: {quantity} exceeds the "
                    f"remaining {lines[line_id].remaining}.",
                )
        if not wanted:
            return self._refused(["fulfillment"], "There are no line items to fulfill.")
        tracking = fulfillment.get("trackingInfo") or {}
        done = self.book.fulfil(
            order,
            [(lines[i], q) for i, q in wanted.items()],
            tracking,
            bool(fulfillment.get("notifyCustomer")),
        )
        return {"fulfillment": FulfilmentView(self.book, order, done), "userErrors": []}

    @staticmethod
    def _refused(field: list[str], message: str) -> dict[str, Any]:
        return {"fulfillment": None, "userErrors": [_error(field, message)]}

    def webhookSubscriptionCreate(
        self,
        info: Info,
        topic: str,
        webhookSubscription: dict[str, Any],
    ) -> dict[str, Any]:
        uri = webhookSubscription.get("uri") or webhookSubscription.get("callbackUrl")
        if not uri or not str(uri).startswith(("http://", "https://")):
            return {
                "webhookSubscription": None,
                "userErrors": [_error(["webhookSubscription", "uri"], "Address is invalid")],
            }
        rest_topic = "/".join(
            topic.lower().rsplit("_", 1)
        )  # INVENTORY_LEVELS_UPDATE -> inventory_levels/update
        version = info.context.version
        subscription = self.webhooks.subscribe(str(uri), [rest_topic], version)
        view = {"id": gid("WebhookSubscription", subscription.id), "topic": topic, "uri": uri}
        return {"webhookSubscription": view, "userErrors": []}
