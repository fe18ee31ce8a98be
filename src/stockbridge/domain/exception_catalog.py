"""Every kind of exception the hub raises: what it means, how to check it, how to fix it, who owns it.

One list, so the operating guide (`stockbridge docs ownership`), the default owners in `config.Owners`
and the code that raises exceptions cannot drift apart: tests hold all three to it. The owner here is
the default; `owners.<type>` in the configuration moves it to another team.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Area(StrEnum):
    STOCK = "stock"
    ORDERS = "orders"
    FULFILMENT = "fulfilment"
    INBOUND = "inbound events"
    CONNECTORS = "connectors"
    MONITORING = "monitoring"
    FINANCE = "finance"


@dataclass(frozen=True, slots=True)
class ExceptionKind:
    type: str
    area: Area
    owner: str  # the default team
    entity: str  # what the exception's entity names
    meaning: str
    check: str
    fix: str
    clears_itself: bool = False  # the hub resolves it once the cause is gone


_REPLAY = "fix the cause, then `stockbridge exceptions retry ID` (idempotent at the far end)"

CATALOG: tuple[ExceptionKind, ...] = (
    # Stock
    ExceptionKind(
        "unknown_sku",
        Area.STOCK,
        "merchandising",
        "sku:<sku>@<channel>",
        "Clarus moved a SKU the channel has no item (IMS) or variant (store) for; its figure waits "
        "there (target blocked), every other channel still gets its own",
        "`stockbridge exceptions show ID`; `stockbridge audit skus`",
        "create the item or variant with the same SKU; the hub reads blocked SKUs again every "
        "`schedules.item_refresh_s`, pushes the figure that waited and resolves the exception",
        clears_itself=True,
    ),
    ExceptionKind(
        "inactive_sku",
        Area.STOCK,
        "merchandising",
        "sku:<sku>@<channel>",
        "the channel's item is inactive, not stocked at the mapped location, or two variants share the SKU",
        "`stockbridge audit skus`; the item in the channel",
        "activate or stock it at the location (or give each variant its own SKU), or stop stocking it "
        "in Clarus",
        clears_itself=True,
    ),
    ExceptionKind(
        "unmapped_status",
        Area.STOCK,
        "operations",
        "status:<status>",
        "Clarus reported an inventory status missing from `inventory_statuses`; its units count nowhere",
        "`stockbridge exceptions list --state open`",
        "add the status to `inventory_statuses` with its `counts_for`",
    ),
    ExceptionKind(
        "unmapped_warehouse",
        Area.STOCK,
        "operations",
        "warehouse:<id>",
        "a Clarus warehouse has no `locations` entry; its stock reaches no channel",
        "`stockbridge exceptions list --state open`",
        "map it under `locations` (and each storefront's `locations`)",
    ),
    ExceptionKind(
        "push_failed",
        Area.STOCK,
        "integration",
        "batch:<id>",
        "a stock batch was dead-lettered: refused as a whole, or failing for `engine.retry_for_s`",
        "`stockbridge replay --list`",
        _REPLAY,
    ),
    ExceptionKind(
        "drift_manual_edit",
        Area.STOCK,
        "operations",
        "sku:<sku>@<channel>/<location>",
        "the drift check read a channel figure other than the hub's last acknowledged push, more than "
        "`drift.tolerance_units` off the warehouse's figure for `drift.grace_s`: someone or another app "
        "set stock there by hand (the detail says also when the hub's own figure was behind)",
        "the channel's inventory history (Shopify: the level's history names the app or staff "
        "member; the IMS: the inventory adjustment's creator); `/metrics` `stockbridge_drift_skus`",
        "none for the figure: the target was marked dirty and the warehouse's figure is pushed again; "
        "stop whoever edits by hand (stock belongs to Clarus, DESIGN §1)",
        clears_itself=True,
    ),
    ExceptionKind(
        "drift",
        Area.STOCK,
        "integration",
        "sku:<sku>@<channel>/<location>",
        "the channel shows the hub's last figure, but that is not the warehouse's figure and no push is "
        "on its way (the hub is behind or stuck), more than `drift.tolerance_units` off for `drift.grace_s`",
        "`stockbridge status` (dirty targets, dead letters); the target's row; the log around its last push",
        "none for the figure: the check marked the target dirty and it is pushed again; find why the "
        "hub lost track (a bug: keep the log and the target row)",
        clears_itself=True,
    ),
    ExceptionKind(
        "drift_unrepaired",
        Area.STOCK,
        "integration",
        "sku:<sku>@<channel>/<location>",
        "escalation: a drift (`drift_manual_edit` or `drift`) was still seen after "
        "`drift.escalate_after_repairs` repairs or `drift.escalate_after_s`: something keeps setting "
        "the channel's figure, or the hub's pushes do not stick",
        "the channel's inventory history for who writes after the hub (another app, an import, a "
        "sync job); `/metrics` `stockbridge_drift_unrepaired_skus`",
        "stop the other writer (or exclude the SKU from it); the hub keeps repairing, and the exception "
        "resolves the first run that finds the figure right",
        clears_itself=True,
    ),
    # Orders (hold reasons first: a held order names them)
    ExceptionKind(
        "unknown_item",
        Area.ORDERS,
        "merchandising",
        "order:<ref>",
        "an order line names an item the IMS does not have; the order is held",
        "`stockbridge orders show REF`",
        "create the item in the IMS; the order is checked again every `orders.revalidate_s`",
        clears_itself=True,
    ),
    ExceptionKind(
        "inactive_item",
        Area.ORDERS,
        "merchandising",
        "order:<ref>",
        "an order line names an inactive IMS item; the order is held",
        "`stockbridge orders show REF`",
        "activate the item in the IMS",
        clears_itself=True,
    ),
    ExceptionKind(
        "invalid_sku",
        Area.ORDERS,
        "merchandising",
        "order:<ref> or sku:<sku>",
        "a SKU the warehouse cannot take even after `sku_rules`; the order is held",
        "`stockbridge orders show REF`",
        "rename the item, or add a SKU rule (strip the character, an alias)",
        clears_itself=True,
    ),
    ExceptionKind(
        "sku_collision",
        Area.ORDERS,
        "merchandising",
        "order:<ref> or sku:<sku>",
        "two IMS SKUs become one warehouse SKU (the detail names both); the order is held",
        "`stockbridge audit skus`",
        "rename one, or add an alias; the next product sync creates it and releases the order",
        clears_itself=True,
    ),
    ExceptionKind(
        "unknown_in_wms",
        Area.ORDERS,
        "merchandising",
        "order:<ref>",
        "the warehouse does not know a SKU of the order yet; the order is held",
        "`stockbridge audit skus`",
        "usually clears itself at the next product sync (`orders.product_sync_s`)",
        clears_itself=True,
    ),
    ExceptionKind(
        "inactive_in_wms",
        Area.ORDERS,
        "merchandising",
        "order:<ref>",
        "the warehouse has the SKU inactive; the order is held",
        "`stockbridge audit skus`",
        "usually clears itself at the next product sync; else activate it in Clarus",
        clears_itself=True,
    ),
    ExceptionKind(
        "bad_kit",
        Area.ORDERS,
        "merchandising",
        "order:<ref>",
        "a kit contains itself or is nested too deep to de-kit; the order is held",
        "`stockbridge orders show REF`",
        "fix the kit's members in the IMS",
        clears_itself=True,
    ),
    ExceptionKind(
        "unmapped_ship_method",
        Area.ORDERS,
        "operations",
        "order:<ref>",
        "the order's shipping title is not in `orders.ship_methods`; held, never a guessed default",
        "`stockbridge orders list --state held`",
        "add the title to `orders.ship_methods`; held orders are released at the next check",
        clears_itself=True,
    ),
    ExceptionKind(
        "incomplete_address",
        Area.ORDERS,
        "customer_service",
        "order:<ref>",
        "the ship-to address lacks what the warehouse needs; the order is held",
        "`stockbridge orders show REF`",
        "complete the address in the IMS or the store",
        clears_itself=True,
    ),
    ExceptionKind(
        "rejected_by_wms",
        Area.ORDERS,
        "integration",
        "order:<ref>",
        "the warehouse refused the order (its reason is in the detail)",
        "`stockbridge orders show REF`",
        "fix what the reason names, then `stockbridge orders release REF`",
    ),
    ExceptionKind(
        "edit_after_pick",
        Area.ORDERS,
        "operations",
        "order:<ref>",
        "the order was edited or cancelled after the warehouse started picking it",
        "`stockbridge orders show REF`",
        "call the warehouse, or ship as is",
    ),
    ExceptionKind(
        "edit_invalid",
        Area.ORDERS,
        "operations",
        "order:<ref>",
        "an edit made a released order unsendable; the warehouse keeps the last good version",
        "`stockbridge orders show REF`",
        "fix the order in the IMS or the store",
    ),
    ExceptionKind(
        "order_stalled",
        Area.ORDERS,
        "operations",
        "order:<ref>",
        "released but not acknowledged by Clarus after `orders.stall_after_s`",
        "`stockbridge orders show REF`; the order's other exceptions",
        "`stockbridge orders release REF` once the cause is fixed",
        clears_itself=True,
    ),
    ExceptionKind(
        "order_held_too_long",
        Area.ORDERS,
        "operations",
        "order:<ref>",
        "an order has been held longer than `orders.held_alert_after_s`",
        "`stockbridge orders list --state held`",
        "work its hold reasons; `stockbridge orders release REF`",
        clears_itself=True,
    ),
    ExceptionKind(
        "order_command_failed",
        Area.ORDERS,
        "integration",
        "order:<ref>",
        "a create, amend or cancel to the warehouse was dead-lettered (refused, or Clarus unreachable "
        "for `engine.retry_for_s`)",
        "`stockbridge replay --list`",
        _REPLAY + "; the warehouse keys orders by reference, so a replay never doubles one",
    ),
    ExceptionKind(
        "storefront_order_failed",
        Area.ORDERS,
        "integration",
        "order:<ref>",
        "making the IMS sales order of a storefront order was dead-lettered",
        "`stockbridge replay --list`",
        _REPLAY + "; the IMS order is found by its external id, so none is made twice",
    ),
    ExceptionKind(
        "cancelled_after_despatch",
        Area.ORDERS,
        "customer_service",
        "order:<ref>",
        "goods left the warehouse on an order cancelled in the IMS or the store",
        "`stockbridge orders show REF`",
        "recall or return, refund (runbook below)",
    ),
    # Fulfilment
    ExceptionKind(
        "fulfilment_waiting_for_order",
        Area.FULFILMENT,
        "operations",
        "shipment:<id>",
        "despatched, but the order is unknown to the hub for `fulfilment.park_alert_after_s`",
        "`GET /admin/status` (shipments parked)",
        "find the order; the shipment is applied when it arrives",
        clears_itself=True,
    ),
    ExceptionKind(
        "fulfilment_stalled",
        Area.FULFILMENT,
        "integration",
        "shipment:<id>",
        "shipped, but no Item Fulfilment (or store fulfilment: on the direct route since the despatch, "
        "on route ims since the Item Fulfilment) after `fulfilment.stall_after_s`",
        "`GET /admin/status` (fulfilment commands pending); `stockbridge replay --list`",
        "check the IMS or store connector; the command retries by itself",
        clears_itself=True,
    ),
    ExceptionKind(
        "fulfilment_command_failed",
        Area.FULFILMENT,
        "integration",
        "shipment:<id>",
        "an Item Fulfilment or invoice was dead-lettered (refused, or failing for `engine.retry_for_s`)",
        "`stockbridge replay --list`",
        _REPLAY,
    ),
    ExceptionKind(
        "storefront_fulfilment_failed",
        Area.FULFILMENT,
        "integration",
        "shipment:<id>",
        "a shipment's fulfilment in its storefront was dead-lettered; the customer has not been told",
        "`stockbridge replay --list`",
        _REPLAY + "; a fulfilment the store already has is found by its tracking number",
    ),
    ExceptionKind(
        "over_fulfilment",
        Area.FULFILMENT,
        "operations",
        "shipment:<id>",
        "the IMS refused the fulfilment (more than ordered), or the shipment names lines the order lacks",
        "`stockbridge orders show REF`",
        "correct the order or the shipment with the warehouse",
    ),
    ExceptionKind(
        "notification_failed",
        Area.FULFILMENT,
        "customer_service",
        "shipment:<id>",
        "a customer's shipment notice was dead-lettered (no address, refused, mail server down)",
        "`stockbridge replay --list`",
        _REPLAY + "; the notice keeps its Message-ID",
    ),
    ExceptionKind(
        "tracking_drift",
        Area.FULFILMENT,
        "operations",
        "shipment:<id>",
        "the IMS shows other tracking numbers than the warehouse shipped",
        "the Item Fulfilment in the IMS",
        "correct the tracking in the IMS",
    ),
    ExceptionKind(
        "status_drift",
        Area.FULFILMENT,
        "operations",
        "order:<ref>",
        "the IMS order status is not what `fulfilment.status_map` says it should be",
        "`stockbridge orders list`",
        "correct the status in the IMS, or the map",
    ),
    # Inbound events
    ExceptionKind(
        "bad_webhook",
        Area.INBOUND,
        "integration",
        "<source>:<event id>",
        "a correctly signed webhook whose content was unusable; answered 422 and kept (state rejected)",
        "`SELECT event_id, error, payload FROM inbox WHERE state = 'rejected'`",
        "read the reason; fix the sender or the parser",
    ),
    ExceptionKind(
        "bad_feed_event",
        Area.INBOUND,
        "integration",
        "<source>:<event id>",
        "the same for an event read from a catch-up feed; kept rejected, the cursor moves past it",
        "as `bad_webhook`",
        "as `bad_webhook`",
    ),
    ExceptionKind(
        "poison_event",
        Area.INBOUND,
        "integration",
        "<source>:<event id>",
        "an inbox row the fold could not use; set aside (state failed), the rows behind it were folded",
        "`stockbridge exceptions show ID` (body and error kept)",
        "fix the cause, then `stockbridge exceptions retry ID`",
    ),
    ExceptionKind(
        "webhook_clock_skew",
        Area.INBOUND,
        "integration",
        "<source>",
        "a signed webhook's timestamp was outside the tolerance: a clock is off, or a replay",
        "both clocks (NTP); a steady skew is a clock, scattered old stamps a replay",
        "fix the clock (or rotate the secret); `stockbridge sync events_poll` catches up",
    ),
    ExceptionKind(
        "webhook_subscription",
        Area.INBOUND,
        "integration",
        "clarus:webhooks",
        "the hub could not register its Clarus webhook subscription; events arrive by the poll, later",
        "`stockbridge exceptions show ID`",
        "fix the cause; `stockbridge sync subscriptions_check` registers it and resolves the exception",
        clears_itself=True,
    ),
    # Finance
    ExceptionKind(
        "finance_batch_failed",
        Area.FINANCE,
        "finance",
        "finance_batch:<id>",
        "a day's inventory adjustment (one IMS location and account, external id FIN-...) was not "
        "posted: refused by the IMS (an inactive or unknown item, a closed period, a bad account), or "
        "failing for `engine.retry_for_s`; its units stay held back from the IMS figure until it posts",
        "`stockbridge finance batches`; `stockbridge exceptions show ID` (the IMS's reason); the "
        "adjustment by external id in the IMS",
        "fix the cause (item, account, period), then `stockbridge exceptions retry ID`: the batch is "
        "posted whole under the same external id, once",
    ),
    # Connectors
    ExceptionKind(
        "connector_failing",
        Area.CONNECTORS,
        "integration",
        "connector:<system>",
        "`connector_health.open_after_failures` failed calls in a row to one system (outage, "
        "credentials, timeouts): its circuit is open (`stockbridge_connector_circuit_state` 2)",
        "the system's status page; the credentials; `/metrics` `stockbridge_connector_error_rate`",
        "none for the work: it waits and retries by itself; the first success makes the circuit "
        "half-open, and `connector_health.close_after_s` without a failure closes it and resolves this",
        clears_itself=True,
    ),
    ExceptionKind(
        "connector_throttled",
        Area.CONNECTORS,
        "integration",
        "connector:<system>",
        "at least `connector_health.throttled_share` of one system's calls were throttled (429, "
        "`Retry-After`, Shopify THROTTLED) for `connector_health.throttled_for_s`: work goes slower "
        "than the far end's limits should allow",
        "`/metrics` `stockbridge_connector_throttled_share` and `stockbridge_far_api_rate`; the far "
        "account's other integrations",
        "none for the work: the hub slows itself; lower this hub's call rate (several workers share the "
        "account's limit) or find what else spends it; resolves once the share falls below",
        clears_itself=True,
    ),
    # Monitoring (service-level targets: `slo:` in the configuration, decision 0026)
    ExceptionKind(
        "latency_slo",
        Area.MONITORING,
        "integration",
        "channel:<channel>",
        "movement → acknowledged by the channel was slower than its target (`slo.latency_ms`, p95 or "
        "p99) over the last `slo.window_s`; the detail gives both figures",
        "`/metrics` `stockbridge_movement_ack_latency_seconds` and the `targets.<channel>` backlog; the "
        "channel's `connector_failing` and `push_failed` exceptions; its rate limit",
        "fix what slows the channel (outage, throttling, a budget set too low, `engine.push_delay_s`); "
        "resolves at the first check within target",
        clears_itself=True,
    ),
    ExceptionKind(
        "backlog_stalled",
        Area.MONITORING,
        "integration",
        "flow:<flow>",
        "the oldest item of a flow (inbox kind, dirty targets, an outbox, held orders...) has waited "
        "longer than `slo.backlog_age_s`; the detail gives its size and age",
        "`/metrics` `stockbridge_backlog_items` and `stockbridge_backlog_oldest_age_seconds`; "
        "`GET /admin/status`; the flow's loop in the log",
        "fix what stops the flow (a connector down, a worker not running, a poison item); resolves at "
        "the first check with the oldest item within target",
        clears_itself=True,
    ),
    # Alerts (`alerts:` in the configuration, decision 0027)
    ExceptionKind(
        "alert_failed",
        Area.MONITORING,
        "integration",
        "channel:<channel>",
        "an alert message to one channel (`slack:<VAR>`, `email:<addresses>`) was dead-lettered: the "
        "webhook refused it (URL revoked, channel archived), its variable is unset, the mail server "
        "refused it, or it failed for `engine.retry_for_s`; that team has not had those alerts",
        "`stockbridge replay --list --outbox alerts`; `stockbridge alerts list --state dead`; "
        "`stockbridge alerts test --owner TEAM`",
        "fix the webhook URL (its variable) or the mail server, then `stockbridge exceptions retry ID` "
        "(the message keeps its reference); the next message the channel takes resolves this",
        clears_itself=True,
    ),
)

_BY_TYPE = {kind.type: kind for kind in CATALOG}
if len(_BY_TYPE) != len(CATALOG):  # pragma: no cover - caught by the tests at once
    raise RuntimeError("an exception type is listed twice in the catalogue")


def kind_of(exception_type: str) -> ExceptionKind | None:
    return _BY_TYPE.get(exception_type)


def default_owners() -> dict[str, str]:
    return {kind.type: kind.owner for kind in CATALOG}
