"""Running the hub: schedules, the engine, exception owners, SKU rules, orders, fulfilments, the API."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    field_validator,
)

from stockbridge.config.base import _Frozen
from stockbridge.domain.skus import SkuRules


class Schedules(_Frozen):
    full_sync_s: Annotated[float, Field(gt=0)] = 3600.0
    events_poll_s: Annotated[float, Field(gt=0)] = 60.0
    item_refresh_s: Annotated[float, Field(gt=0)] = 300.0
    drift_check_s: Annotated[float, Field(gt=0)] = 900.0
    subscriptions_check_s: Annotated[float, Field(gt=0)] = 300.0  # re-check the Clarus webhook subscription
    # How often the finance job looks for a day to close and for batches due (a retry, a replay).
    finance_batch_s: Annotated[float, Field(gt=0)] = 60.0
    slo_check_s: Annotated[float, Field(gt=0)] = 60.0  # latency and backlog against slo: (monitor/slo.py)
    alerts_check_s: Annotated[float, Field(gt=0)] = 60.0  # evaluate alert rules, send what is due


class EngineSettings(_Frozen):
    # Outboxed work is dead-lettered once BOTH are spent: `retry_for_s` since its first failure
    # and `max_attempts` attempts (domain/retry.py, docs/decisions/0010).
    max_attempts: Annotated[int, Field(gt=0)] = 8
    retry_for_s: Annotated[float, Field(ge=0)] = 6 * 3600.0
    lease_s: Annotated[float, Field(gt=0)] = 60.0
    fold_batch: Annotated[int, Field(gt=0, le=5000)] = 1000
    # ... and at most this many payload bytes (at least one entry): a snapshot page is a thousand rows.
    fold_batch_bytes: Annotated[int, Field(gt=0)] = 512_000
    claim_batch: Annotated[int, Field(gt=0, le=1000)] = 1000
    backoff_base_s: Annotated[float, Field(gt=0)] = 0.5
    backoff_cap_s: Annotated[float, Field(gt=0)] = 300.0
    idle_poll_s: Annotated[float, Field(gt=0)] = 0.05
    # An idle loop other than the fold polls ever less often, up to this (engine/worker.py `_loop`).
    idle_poll_max_s: Annotated[float, Field(gt=0)] = 1.0
    fold_gather_s: Annotated[float, Field(ge=0)] = 0.05
    # ... doubled after each fold of a stream, up to this (a fold that finds a trickle resets it).
    fold_gather_max_s: Annotated[float, Field(ge=0)] = 0.4
    # A fold that found fewer inbox entries than this does not wait `fold_gather_s`: a trickle is
    # folded as it arrives (latency), a burst is folded in groups (throughput).
    fold_gather_min: Annotated[int, Field(ge=1)] = 4
    # Least time a dirty target waits before it is pushed (0: at once when the channel has budget and
    # no batch in flight; changes coalesce while one is; docs/decisions/0016).
    push_delay_s: Annotated[float, Field(ge=0)] = 0.0
    # On PostgreSQL every worker process takes its far calls from one budget per account, kept in the
    # database (docs/decisions/0037); false: each process paces itself at the configured rates.
    shared_budgets: bool = True
    # A shared budget paces this share below each account's `calls_per_second`: a call granted on
    # time can reach the far end late, bunched with another worker's, and the far end's bucket is
    # as full as ours only on paper (docs/decisions/0037).
    shared_budget_margin: Annotated[float, Field(ge=0, lt=1)] = 0.15


class Owners(_Frozen):
    """Which team owns each kind of exception (DESIGN.md section 4), hold reasons included."""

    unknown_sku: str = "merchandising"
    inactive_sku: str = "merchandising"
    unknown_item: str = "merchandising"
    inactive_item: str = "merchandising"
    invalid_sku: str = "merchandising"
    unknown_in_wms: str = "merchandising"
    inactive_in_wms: str = "merchandising"
    bad_kit: str = "merchandising"
    sku_collision: str = "merchandising"
    unmapped_ship_method: str = "operations"
    incomplete_address: str = "customer_service"
    rejected_by_wms: str = "integration"
    edit_after_pick: str = "operations"
    edit_invalid: str = "operations"
    order_stalled: str = "operations"
    order_command_failed: str = "integration"
    order_held_too_long: str = "operations"
    fulfilment_waiting_for_order: str = "operations"
    fulfilment_stalled: str = "integration"
    fulfilment_command_failed: str = "integration"
    storefront_fulfilment_failed: str = "integration"
    storefront_order_failed: str = "integration"
    over_fulfilment: str = "operations"
    cancelled_after_despatch: str = "customer_service"
    notification_failed: str = "customer_service"
    tracking_drift: str = "operations"
    status_drift: str = "operations"
    unmapped_status: str = "operations"
    unmapped_warehouse: str = "operations"
    bad_webhook: str = "integration"
    bad_feed_event: str = "integration"
    poison_event: str = "integration"
    webhook_clock_skew: str = "integration"
    push_failed: str = "integration"
    finance_batch_failed: str = "finance"
    drift: str = "integration"
    drift_manual_edit: str = "operations"
    drift_unrepaired: str = "integration"
    connector_failing: str = "integration"
    connector_throttled: str = "integration"
    latency_slo: str = "integration"
    backlog_stalled: str = "integration"
    webhook_subscription: str = "integration"
    alert_failed: str = "integration"
    default: str = "integration"

    def owner_of(self, exception_type: str) -> str:
        owner = getattr(self, exception_type, None)
        return owner if isinstance(owner, str) else self.default


class SkuRulesSettings(_Frozen):
    """How an IMS SKU becomes the warehouse's SKU (domain/skus.py)."""

    strip_characters: str = ""
    case: Literal["upper", "lower", "keep"] = "keep"
    leading_zeros: Literal["keep", "strip", "pad"] = "keep"
    pad_width: Annotated[int, Field(ge=0, le=50)] = 0
    aliases: dict[str, str] = {}

    def rules(self) -> SkuRules:
        return SkuRules(
            self.strip_characters, self.case, self.leading_zeros, self.pad_width, dict(self.aliases)
        )


class OrderSettings(_Frozen):
    """When and how sales orders go to the warehouse."""

    release_statuses: frozenset[str] = frozenset({"B"})  # NetSuite: B = Pending Fulfillment
    warehouse: str | None = None  # default: the first location's warehouse
    ship_methods: dict[str, str] = {}  # IMS shipping title -> Clarus service code; unmapped -> hold
    poll_s: Annotated[float, Field(gt=0)] = 30.0
    product_sync_s: Annotated[float, Field(gt=0)] = 300.0
    revalidate_s: Annotated[float, Field(gt=0)] = 30.0
    stall_after_s: Annotated[float, Field(gt=0)] = 900.0
    held_alert_after_s: Annotated[float, Field(gt=0)] = 3600.0


class NotifierSettings(_Frozen):
    """How customers hear their order shipped: `log` (no one), `smtp` (e-mail) or `webhook`."""

    kind: Literal["log", "smtp", "webhook"] = "log"
    smtp_host: str = "127.0.0.1"
    smtp_port: Annotated[int, Field(gt=0, le=65535)] = 25
    sender: str = "orders@example.com"
    webhook_url: str | None = None
    # Longest one notice may take, whole (connect, each reply, the message); below engine.lease_s.
    timeout_s: Annotated[float, Field(gt=0)] = 10.0


class FulfilmentSettings(_Frozen):
    """Despatches back to the IMS as Item Fulfilments, and what may follow them."""

    bill_on_fulfilment: bool = True  # invoice the fulfilled lines once the Item Fulfilment exists
    park_alert_after_s: Annotated[float, Field(gt=0)] = 3600.0  # shipment waiting for its order
    stall_after_s: Annotated[float, Field(gt=0)] = 900.0  # Item Fulfilment not created in time
    checks_s: Annotated[float, Field(gt=0)] = 60.0
    verify_s: Annotated[float, Field(gt=0)] = 900.0  # read tracking numbers back from the IMS
    verify_window_s: Annotated[float, Field(gt=0)] = 86400.0  # fulfilments younger than this are read back
    notifier: NotifierSettings = NotifierSettings()
    # Reviewed table: Clarus order status -> the NetSuite order status it should show once its
    # Item Fulfilments exist (reported by `stockbridge orders list`; a mismatch is status drift).
    status_map: dict[str, str] = {"partially_despatched": "D", "despatched": "F", "cancelled": "C"}


class HubSettings(_Frozen):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    # Largest request body accepted (413 past it, before it is read). Clarus events are a few KB; a
    # shipment of 500 lines is under 100 KB.
    max_body_bytes: Annotated[int, Field(gt=0)] = 1_048_576
    # Where Clarus reaches this hub (a proxy or load balancer in front of it); the hub registers
    # its webhook subscription at {public_url}/webhooks/clarus. Default: http://{host}:{port}.
    public_url: str | None = None
    # false: someone else manages the Clarus subscription (or this hub only polls the events feed).
    register_webhooks: bool = True
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["console", "json"] = "console"

    @field_validator("public_url")
    @classmethod
    def _absolute_http_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError("must be an absolute http:// or https:// URL")
        return None if url is None else url.rstrip("/")

    def webhook_base(self, port: int | None = None) -> str:
        """The hub's URL as Clarus must call it (`port` overrides hub.port, as `serve --port` does)."""
        if self.public_url:
            return self.public_url
        # A bind-all address is not one Clarus can call: behind it, this machine answers on loopback.
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port if port is None else port}"
