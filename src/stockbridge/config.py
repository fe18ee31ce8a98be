"""Configuration: one YAML file validated by pydantic, secrets read from the environment.

Every model is frozen: configuration is a value, not a place to keep state. A bad file raises
`ConfigError` naming the file, the key (dotted path) and what is wrong.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from datetime import time
from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from stockbridge.connectors.clarus.statuses import INVENTORY_STATUSES
from stockbridge.domain.alerting import AlertPolicy, Channel, Routes, Severity, TypeRule
from stockbridge.domain.allocation import POOL, AllocationRule
from stockbridge.domain.ats import AtsRule, BufferClass
from stockbridge.domain.drift import DriftRule
from stockbridge.domain.finance import REASONS as FINANCE_REASONS
from stockbridge.domain.skus import SkuRules
from stockbridge.domain.velocity import DEFAULT_SALES_MOVEMENTS, VelocityClass
from stockbridge.logs import remember_secret

DEFAULT_DATABASE_URL = "sqlite:///stockbridge.db"
DATABASE_URL_ENV = "STOCKBRIDGE_DATABASE_URL"


class ConfigError(Exception):
    """A configuration problem, located by file and key."""

    def __init__(self, file: str, key: str, message: str) -> None:
        super().__init__(f"{file}: {key}: {message}")
        self.file = file
        self.key = key
        self.message = message


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ClarusConnector(_Frozen):
    base_url: str
    api_key_env: str = "CLARUS_API_KEY"
    webhook_secret_env: str = "CLARUS_WEBHOOK_SECRET"
    snapshot_page_size: Annotated[int, Field(gt=0, le=1000)] = 1000
    timeout_s: Annotated[float, Field(gt=0)] = 30.0
    # A signed webhook whose X-Clarus-Timestamp is further than this from our clock is refused (401):
    # the replay window. Too small, and a sender whose clock is off loses every webhook to the
    # events feed; too large, and a captured delivery can be replayed for longer (docs/security.md).
    webhook_tolerance_s: Annotated[float, Field(gt=0)] = 300.0
    # Every Clarus call goes through an adaptive limiter like the IMS's (docs/decisions/0011).
    calls_per_second: Annotated[float, Field(gt=0)] = 50.0
    concurrency: Annotated[int, Field(gt=0)] = 8
    min_calls_per_second: Annotated[float, Field(gt=0)] = 0.5
    recovery_step: Annotated[float, Field(gt=0)] = 1.0

    @model_validator(mode="after")
    def _floor_below_ceiling(self) -> ClarusConnector:
        _check_floor(self.min_calls_per_second, self.calls_per_second)
        return self


def _check_floor(floor: float, ceiling: float) -> None:
    if floor > ceiling:
        raise ValueError(f"min_calls_per_second ({floor}) is above calls_per_second ({ceiling})")


class ImsAuth(_Frozen):
    """OAuth 2.0 bearer (a token, or client credentials to fetch one) or NetSuite TBA (OAuth 1.0a)."""

    kind: Literal["bearer", "client_credentials", "tba"] = "bearer"
    token_env: str = "IMS_TOKEN"
    client_id_env: str = "IMS_CLIENT_ID"
    client_secret_env: str = "IMS_CLIENT_SECRET"
    account_id: str = ""
    consumer_key_env: str = "IMS_CONSUMER_KEY"
    consumer_secret_env: str = "IMS_CONSUMER_SECRET"
    token_id_env: str = "IMS_TOKEN_ID"
    token_secret_env: str = "IMS_TOKEN_SECRET"

    def env_names(self) -> dict[str, str]:
        """The environment variables this auth kind needs, keyed by their config key."""
        if self.kind == "bearer":
            return {"token_env": self.token_env}
        if self.kind == "client_credentials":
            return {"client_id_env": self.client_id_env, "client_secret_env": self.client_secret_env}
        return {
            "consumer_key_env": self.consumer_key_env,
            "consumer_secret_env": self.consumer_secret_env,
            "token_id_env": self.token_id_env,
            "token_secret_env": self.token_secret_env,
        }


class ImsConnector(_Frozen):
    base_url: str
    auth: ImsAuth = ImsAuth()
    calls_per_second: Annotated[float, Field(gt=0)] = 10.0
    concurrency: Annotated[int, Field(gt=0)] = 4
    max_lines_per_call: Annotated[int, Field(gt=0, le=1000)] = 100
    adjustment_account_id: str = "1"
    timeout_s: Annotated[float, Field(gt=0)] = 30.0
    # Under 429s the rate drops (halved per refusal, not below this) and climbs back by
    # `recovery_step` calls per second each second of answered calls (docs/decisions/0011).
    min_calls_per_second: Annotated[float, Field(gt=0)] = 0.5
    recovery_step: Annotated[float, Field(gt=0)] = 1.0

    @model_validator(mode="after")
    def _floor_below_ceiling(self) -> ImsConnector:
        _check_floor(self.min_calls_per_second, self.calls_per_second)
        return self


class Connectors(_Frozen):
    clarus: ClarusConnector
    ims: ImsConnector


IMS_CHANNEL_NAME = "ims"  # the IMS's key under targets: and in inventory_statuses.<s>.counts_for
MIN_SHOPIFY_API_VERSION = "2026-04"
_API_VERSION = re.compile(r"\d{4}-\d{2}")
_CHANNEL_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")


class ShopifyStore(_Frozen):
    """A Shopify store: a stock channel (its locations' available figures) and a source of orders."""

    kind: Literal["shopify"] = "shopify"
    shop_domain: str
    base_url: str | None = None  # default https://{shop_domain}; tests use http://127.0.0.1:port
    # Pinned: Shopify supports each version for a year; 2026-04 is the oldest with what the hub uses
    # (../shared/reference/shopify.md).
    api_version: str = MIN_SHOPIFY_API_VERSION
    access_token_env: str = "SHOPIFY_ACCESS_TOKEN"
    webhook_secret_env: str = "SHOPIFY_WEBHOOK_SECRET"
    locations: dict[str, str] = {}  # Clarus warehouse -> Shopify location gid
    orders_route: Literal["ims", "clarus"] = "ims"  # IMS sales order first, or straight to the warehouse
    max_lines_per_call: Annotated[int, Field(gt=0, le=250)] = 250
    timeout_s: Annotated[float, Field(gt=0)] = 30.0
    # The GraphQL Admin API's cost bucket: points restored per second and the bucket's size.
    restore_rate: Annotated[float, Field(gt=0)] = 100.0
    bucket_size: Annotated[int, Field(gt=0)] = 1000
    # --- orders in (docs/orders.md, docs/decisions/0021) ---
    # An order goes on (to Clarus, or into the IMS) once its financial status is one of these and it
    # is not cancelled; until then it waits.
    release_financial_statuses: Annotated[frozenset[str], Field(min_length=1)] = frozenset({"paid"})
    # The order's reference at Clarus (route clarus) or its tranId in the IMS (route ims): this prefix
    # plus the store's order number (#1001 -> SHOP-1001). Distinct per storefront, so orders of two
    # stores never share a reference.
    reference_prefix: Annotated[str, Field(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9_-]+$")] = (
        "SHOP-"
    )
    orders_poll_s: Annotated[float, Field(gt=0)] = 300.0  # the catch-up query's schedule
    # The catch-up query re-reads this far behind its cursor: a change stamped just before the
    # newest one seen may become visible to the query only after it (clock skew, slow indexing).
    orders_overlap_s: Annotated[float, Field(ge=0)] = 300.0
    # Two webhook copies of one order stamped in the same second with other content: the hub reads
    # that order again from the store (decision 0024); at most this many such reads per run of the
    # re-read job (one run a second at most), so a burst of ties cannot spend the store's budget.
    tie_rereads_per_run: Annotated[int, Field(gt=0, le=100)] = 10
    # Route ims: the IMS customer record the store's orders are booked to (its internal id; required
    # for that route).
    ims_customer: str | None = None

    @field_validator("api_version")
    @classmethod
    def _supported_version(cls, version: str) -> str:
        if not _API_VERSION.fullmatch(version):
            raise ValueError(f"api_version {version!r} is not of the form YYYY-MM")
        if version < MIN_SHOPIFY_API_VERSION:
            raise ValueError(f"api_version {version!r} is older than {MIN_SHOPIFY_API_VERSION}")
        return version

    @field_validator("release_financial_statuses")
    @classmethod
    def _lower_case(cls, statuses: frozenset[str]) -> frozenset[str]:
        return frozenset(s.lower() for s in statuses)

    @model_validator(mode="after")
    def _customer_for_the_ims_route(self) -> ShopifyStore:
        if self.orders_route == "ims" and not self.ims_customer:
            raise ValueError(
                "orders_route ims needs ims_customer (the IMS customer its orders are booked to)"
            )
        return self

    def effective_base_url(self) -> str:
        return (self.base_url or f"https://{self.shop_domain}").rstrip("/")

    @property
    def releasing_statuses(self) -> frozenset[str]:
        """The order statuses that let an order go on (here its financial status)."""
        return self.release_financial_statuses


class MagentoStore(_Frozen):
    """A Magento 2 store: a stock channel (MSI source items per source) and a source of orders,
    polled by `updated_at` (Magento sends no webhooks here; docs/connectors/magento.md)."""

    kind: Literal["magento"] = "magento"
    base_url: str  # https://shop.example.com (the REST API is under /rest/<store_code>/V1)
    store_code: str = "all"  # all store views; "default" or a store view code
    access_token_env: str = "MAGENTO_ACCESS_TOKEN"  # the integration's access token
    locations: dict[str, str] = {}  # Clarus warehouse -> MSI source code
    orders_route: Literal["ims", "clarus"] = "ims"
    max_lines_per_call: Annotated[int, Field(gt=0, le=1000)] = 200
    timeout_s: Annotated[float, Field(gt=0)] = 30.0
    # Magento has no rate limit of its own; the host in front of it (Fastly, a WAF) may: 429 with
    # Retry-After, met by the adaptive limiter (docs/decisions/0011).
    calls_per_second: Annotated[float, Field(gt=0)] = 10.0
    concurrency: Annotated[int, Field(gt=0)] = 4
    min_calls_per_second: Annotated[float, Field(gt=0)] = 0.5
    recovery_step: Annotated[float, Field(gt=0)] = 1.0
    # An order goes on once its Magento status is one of these (Magento has no financial status).
    release_statuses: Annotated[frozenset[str], Field(min_length=1)] = frozenset({"processing"})
    reference_prefix: Annotated[str, Field(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9_-]+$")] = "MAG-"
    orders_poll_s: Annotated[float, Field(gt=0)] = 60.0  # the orders poll's schedule for this store
    orders_overlap_s: Annotated[float, Field(ge=0)] = 300.0
    # Two same-second versions of an order that differ are told apart by reading it again
    # (decision 0024; Magento keeps times to the second): at most this many reads per run.
    tie_rereads_per_run: Annotated[int, Field(gt=0, le=100)] = 10
    ims_customer: str | None = None

    @field_validator("release_statuses")
    @classmethod
    def _lower_case(cls, statuses: frozenset[str]) -> frozenset[str]:
        return frozenset(s.lower() for s in statuses)

    @model_validator(mode="after")
    def _checked(self) -> MagentoStore:
        _check_floor(self.min_calls_per_second, self.calls_per_second)
        if self.orders_route == "ims" and not self.ims_customer:
            raise ValueError(
                "orders_route ims needs ims_customer (the IMS customer its orders are booked to)"
            )
        return self

    @property
    def releasing_statuses(self) -> frozenset[str]:
        """The order statuses that let an order go on (here its Magento order status)."""
        return self.release_statuses


def _store_kind(value: Any) -> str:
    # `kind` may be left out for a Shopify store (every store was one before Magento).
    if isinstance(value, dict):
        return str(value.get("kind", "shopify"))
    return str(getattr(value, "kind", "shopify"))


STORE_KINDS = ("shopify", "magento")
# One storefront under `storefronts:`, by its `kind` (default shopify). The flows use what both
# share (locations, orders_route, reference_prefix, ims_customer, releasing_statuses, orders_poll_s,
# orders_overlap_s, max_lines_per_call, timeout_s); only engine/connect.py looks at the kind.
Storefront = ShopifyStore | MagentoStore
_TaggedStorefront = Annotated[
    Annotated[ShopifyStore, Tag("shopify")] | Annotated[MagentoStore, Tag("magento")],
    Discriminator(
        _store_kind,
        custom_error_type="store_kind",
        custom_error_message=f"kind must be one of {', '.join(STORE_KINDS)}",
    ),
]


class LocationMapping(_Frozen):
    warehouse: str
    ims_location: str


def _clarus_status(name: str) -> str:
    # A typo (`availabel`) would otherwise be accepted and the stock in the real status would
    # silently count for nothing.
    if name not in INVENTORY_STATUSES:
        close = difflib.get_close_matches(name, INVENTORY_STATUSES, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(
            f"Clarus never sends inventory status {name!r}; {hint}"
            f"its statuses are {', '.join(INVENTORY_STATUSES)}"
        )
    return name


ClarusStatus = Annotated[str, AfterValidator(_clarus_status)]


class StatusMapping(_Frozen):
    counts_for: frozenset[str] = frozenset()
    owner: str = "operations"


class SkuClass(_Frozen):
    """A buffer for every SKU matching one of `skus` (shell-style patterns: `MUG-*`)."""

    buffer: Annotated[int, Field(ge=0)]
    skus: Annotated[list[str], Field(min_length=1)]


class TargetSettings(_Frozen):
    """One channel's buffers: per SKU, else the first class (in file order) matching it, else `buffer`."""

    buffer: Annotated[int, Field(ge=0)] = 0
    sku_buffers: dict[str, Annotated[int, Field(ge=0)]] = {}
    classes: dict[str, SkuClass] = {}
    # Take off the units orders have claimed that the warehouse has not allocated yet
    # (docs/decisions/0022). Default: yes for a storefront; the IMS never (it commits its own orders).
    subtract_open_demand: bool | None = None
    # A SKU's sales-velocity class may raise its buffer (velocity:, docs/decisions/0033).
    velocity_buffers: bool = False


class AllocationSettings(_Frozen):
    """How one warehouse's sellable stock is split among the storefronts selling it (decision 0033)."""

    rule: Literal["pool", "shares", "priority"] = "pool"
    shares: dict[str, Annotated[float, Field(gt=0, le=1)]] = {}  # rule shares: channel -> share
    priority: list[str] = []  # rule priority: channels, first served first
    caps: dict[str, Annotated[int, Field(ge=0)]] = {}  # rule priority: most a channel takes

    @model_validator(mode="after")
    def _fits_the_rule(self) -> AllocationSettings:
        if self.rule == "shares":
            if not self.shares or self.priority or self.caps:
                raise ValueError("rule shares takes shares: {channel: fraction} (and no priority or caps)")
            total = sum((Fraction(str(s)) for s in self.shares.values()), Fraction(0))
            if total > 1:
                raise ValueError(f"shares add up to {float(total)}, more than the whole pool (1)")
        elif self.rule == "priority":
            if not self.priority or self.shares:
                raise ValueError("rule priority takes priority: [channel, ...] (and no shares)")
            if len(set(self.priority)) != len(self.priority):
                raise ValueError("priority names a channel twice")
            unknown = sorted(set(self.caps) - set(self.priority))
            if unknown:
                raise ValueError(f"caps names {unknown}, which priority does not")
        elif self.shares or self.priority or self.caps:
            raise ValueError("rule pool (the default) takes no shares, priority or caps")
        return self

    def named(self) -> list[str]:
        return list(self.shares) if self.rule == "shares" else list(self.priority)

    def domain_rule(self) -> AllocationRule:
        shares = {c: Fraction(str(s)) for c, s in self.shares.items()}
        return AllocationRule(self.rule, shares, tuple(self.priority), dict(self.caps))


class VelocityClassSettings(_Frozen):
    min_per_day: Annotated[float, Field(gt=0)]  # units sold per day, averaged over velocity.window_s
    buffer: Annotated[int, Field(ge=0)]


class VelocitySettings(_Frozen):
    """Sales velocity classes (domain/velocity.py, decision 0033)."""

    window_s: Annotated[float, Field(gt=0)] = 7 * 86400.0
    classes: Annotated[dict[str, VelocityClassSettings], Field(min_length=1)]
    reclassify_s: Annotated[float, Field(gt=0)] = 3600.0
    # Warehouse movement types that are sales (Clarus: despatch).
    sales_movements: Annotated[frozenset[str], Field(min_length=1)] = DEFAULT_SALES_MOVEMENTS

    @field_validator("classes")
    @classmethod
    def _faster_never_smaller(
        cls, classes: dict[str, VelocityClassSettings]
    ) -> dict[str, VelocityClassSettings]:
        ordered = sorted(classes.items(), key=lambda item: item[1].min_per_day)
        for (slow, a), (fast, b) in pairwise(ordered):
            if a.min_per_day == b.min_per_day:
                raise ValueError(f"{slow} and {fast} have the same min_per_day ({a.min_per_day})")
            if b.buffer < a.buffer:
                raise ValueError(
                    f"{fast} (min_per_day {b.min_per_day}) has a smaller buffer ({b.buffer}) than the "
                    f"slower {slow} ({a.buffer}): selling faster would shrink the buffer"
                )
        return classes

    def velocity_classes(self) -> list[VelocityClass]:
        return [VelocityClass(n, c.min_per_day, c.buffer) for n, c in self.classes.items()]


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


class DriftChannel(_Frozen):
    """One channel's drift settings; a key left out takes the `drift:` section's value."""

    tolerance_units: Annotated[int, Field(ge=0)] | None = None
    grace_s: Annotated[float, Field(ge=0)] | None = None
    escalate_after_repairs: Annotated[int, Field(gt=0)] | None = None
    escalate_after_s: Annotated[float, Field(gt=0)] | None = None
    sample_size: Annotated[int, Field(gt=0)] | None = None


class DriftSettings(_Frozen):
    """The drift check (monitor/drift.py, docs/decisions/0025): every `schedules.drift_check_s` each
    channel's figures are read back and compared with the warehouse's and the hub's last push."""

    # Units a channel may differ from the warehouse before it counts as drift.
    tolerance_units: Annotated[int, Field(ge=0)] = 0
    # How long a drift must last (seen by two runs this far apart) before it is an exception and repaired.
    grace_s: Annotated[float, Field(ge=0)] = 0.0
    # Still drifted after this many repairs, or this long after it became an exception: drift_unrepaired.
    escalate_after_repairs: Annotated[int, Field(gt=0)] = 3
    escalate_after_s: Annotated[float, Field(gt=0)] = 3600.0
    # (SKU, location) pairs read back per channel per run, moving on each run (a cursor in the
    # database) so every one is read within ceil(catalogue / sample_size) runs; unset: all every run.
    sample_size: Annotated[int, Field(gt=0)] | None = None
    channels: dict[str, DriftChannel] = {}

    def rule(self, channel: str) -> DriftRule:
        own = self.channels.get(channel, DriftChannel()).model_dump(exclude_none=True)
        base = self.model_dump(exclude={"channels"})
        return DriftRule(**{**base, **own})


class ConnectorHealthSettings(_Frozen):
    """Circuit state, error rate and throttling per connector (monitor/connector_health.py)."""

    # Consecutive failed calls (a push cycle, a scheduled job) that open the circuit: connector_failing.
    open_after_failures: Annotated[int, Field(gt=0)] = 3
    # After it was open, the first success makes it half-open; this long without a failure closes it
    # and resolves connector_failing (a failure meanwhile opens it again).
    close_after_s: Annotated[float, Field(ge=0)] = 15.0
    # The window over which each connector's error rate and throttled share are measured.
    window_s: Annotated[float, Field(gt=0)] = 300.0
    # connector_throttled opens when at least this share of a connector's calls in the window were
    # throttled (429, Retry-After, Shopify THROTTLED) continuously for `throttled_for_s`...
    throttled_share: Annotated[float, Field(gt=0, le=1)] = 0.5
    throttled_for_s: Annotated[float, Field(ge=0)] = 300.0
    # ...and the window holds at least this many calls (a few calls say nothing).
    min_calls: Annotated[int, Field(ge=1)] = 10


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


class FinanceReason(_Frozen):
    """Where adjustments of one reason are booked: the IMS account (internal id) of the adjustment."""

    account: Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_]+$")]


class FinanceSettings(_Frozen):
    """The daily batch of adjustments with financial effect (docs/decisions/0030). No reasons: no
    batch, and every movement reaches the IMS through the stock sync as before."""

    reasons: dict[str, FinanceReason] = {}
    post_at: time = time(23, 30)  # each day's batch is made and posted once this time has passed
    timezone: str = "UTC"  # the finance team's day: a movement's business date, and post_at

    @field_validator("reasons")
    @classmethod
    def _known_reasons(cls, reasons: dict[str, FinanceReason]) -> dict[str, FinanceReason]:
        for name in reasons:
            if name not in FINANCE_REASONS:
                raise ValueError(
                    f"reasons.{name}: not a financial reason; the reasons are {', '.join(FINANCE_REASONS)}"
                )
        return reasons

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {name!r} (an IANA name such as Europe/London)") from None
        return name

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def accounts(self) -> dict[str, str]:
        """Reason -> IMS account."""
        return {reason: r.account for reason, r in self.reasons.items()}


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_WEEKDAYS: tuple[str, ...] = get_args(Weekday)


class ReportSettings(_Frozen):
    """Reports written on schedule (docs/operating.md "Reports"): the daily report every day at
    `daily_at` (UTC), the weekly reconciliation on `weekly_on` at the same time, into `dir`."""

    dir: Annotated[str, Field(min_length=1)]
    daily_at: Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")] = "06:00"
    weekly_on: Weekday = "monday"
    # The weekly reconciliation also reads the IMS (on hand and its adjustments); false leaves it out.
    weekly: bool = True

    def weekday(self) -> int:
        return _WEEKDAYS.index(self.weekly_on)

    def at(self) -> tuple[int, int]:
        hours, minutes = self.daily_at.split(":")
        return int(hours), int(minutes)


class LatencyTarget(_Frozen):
    """Movement → acknowledged by the channel, in milliseconds, at two percentiles."""

    p95: Annotated[float, Field(gt=0)] = 5_000.0
    p99: Annotated[float, Field(gt=0)] = 30_000.0

    @model_validator(mode="after")
    def _p99_not_below_p95(self) -> LatencyTarget:
        if self.p99 < self.p95:
            raise ValueError(f"p99 ({self.p99}) is below p95 ({self.p95})")
        return self


# Flows whose backlog the hub measures (monitor/backlog.py); a flow's name is its family, or its
# family, a dot and what it is split by (an inbox kind, a channel, a fulfilment command).
BACKLOG_FAMILIES = frozenset(
    {
        "inbox",
        "targets",
        "stock_batches",
        "order_commands",
        "storefront_order_commands",
        "storefront_order_rereads",
        "fulfilment_commands",
        "notifications",
        "held_orders",
        "parked_shipments",
        "alerts",
        "finance_batches",
    }
)
# Work that waits for a person or for another system's order, not for the hub: it has its own
# exceptions (order_held_too_long, fulfilment_waiting_for_order), so `backlog_age_s.default` does not
# apply to it; name it (or one of its flows) under backlog_age_s to check it too.
WAITING_FAMILIES = frozenset({"held_orders", "parked_shipments"})


class SloSettings(_Frozen):
    """Service-level targets checked every `schedules.slo_check_s` (monitor/slo.py, decision 0026)."""

    window_s: Annotated[float, Field(gt=0)] = 900.0  # latency percentiles over acks this recent
    # Per stock channel, else `default`.
    latency_ms: dict[str, LatencyTarget] = {"default": LatencyTarget()}
    # Oldest item a flow may hold, in seconds: per flow (`targets.shopify`), else per family
    # (`targets`), else `default`; null turns the check off for that flow or family.
    backlog_age_s: dict[str, Annotated[float, Field(gt=0)] | None] = {"default": 600.0}
    # Owner team per channel or flow (then family) for latency_slo and backlog_stalled; else `owners:`.
    owners: dict[str, str] = {}
    # Latency samples older than this are deleted (the weekly report reads a week of them).
    latency_retention_s: Annotated[float, Field(gt=0)] = 8 * 86400.0

    @field_validator("latency_ms")
    @classmethod
    def _latency_default(cls, targets: dict[str, LatencyTarget]) -> dict[str, LatencyTarget]:
        return {"default": LatencyTarget(), **targets}

    @field_validator("backlog_age_s")
    @classmethod
    def _known_flows(cls, ages: dict[str, float | None]) -> dict[str, float | None]:
        for name in ages:
            if name != "default" and name.split(".", 1)[0] not in BACKLOG_FAMILIES:
                raise ValueError(
                    f"backlog_age_s.{name}: no such flow; a flow is one of {sorted(BACKLOG_FAMILIES)}, "
                    "optionally followed by a dot and its part (targets.ims, inbox.inventory.movement)"
                )
        return {"default": 600.0, **ages}

    def latency_target(self, channel: str) -> LatencyTarget:
        return self.latency_ms.get(channel) or self.latency_ms["default"]

    def backlog_age_target(self, flow: str) -> float | None:
        """Seconds the oldest item of `flow` may wait, or None when the flow is not checked."""
        family = flow.split(".", 1)[0]
        for key in (flow, family):
            if key in self.backlog_age_s:
                return self.backlog_age_s[key]
        return None if family in WAITING_FAMILIES else self.backlog_age_s["default"]

    def owner_of(self, name: str, exception_type: str, owners: Owners) -> str:
        """The team for `exception_type` about a channel or flow `name`."""
        for key in (name, name.split(".", 1)[0]):
            if key in self.owners:
                return self.owners[key]
        return owners.owner_of(exception_type)


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


class AlertChannel(_Frozen):
    """One channel of a route: `slack` (a Slack-compatible incoming webhook whose URL is read from
    the environment variable `url_env`: the URL is the secret), `email` (to `to`, over `alerts.smtp`)
    or `log`."""

    kind: Literal["slack", "email", "log"]
    url_env: str | None = None
    to: list[str] = []

    @model_validator(mode="after")
    def _complete(self) -> AlertChannel:
        if self.kind == "slack" and not self.url_env:
            raise ValueError("a slack channel needs url_env (the environment variable holding its URL)")
        if self.kind == "email" and not self.to:
            raise ValueError("an email channel needs to: (one or more addresses)")
        return self

    def channel(self) -> Channel:
        return Channel(self.kind, self.url_env, tuple(self.to))


AlertRoute = list[AlertChannel]


class AlertRule(_Frozen):
    """Per exception type (docs/decisions/0027)."""

    min_count: Annotated[int, Field(ge=1)] = 1  # raises in this episode before the first alert
    min_age_s: Annotated[float, Field(ge=0)] = 0.0  # open this long before the first alert
    severity: Severity = Severity.WARNING
    mute: bool = False  # never alert (nor escalate) this type
    escalate_after_s: Annotated[float | None, Field(gt=0)] = None  # overrides owner and default


class AlertSmtp(_Frozen):
    """The mail server alerts are sent through (plain SMTP, as the customer notices)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    host: str = "127.0.0.1"
    port: Annotated[int, Field(gt=0, le=65535)] = 25
    sender: str = Field("stockbridge@example.com", alias="from")
    # Longest one e-mail may take, whole; below engine.lease_s.
    timeout_s: Annotated[float, Field(gt=0)] = 10.0


class EscalationSettings(_Frozen):
    # Owner -> channels for escalations ("default" for the rest); an owner with neither escalates
    # to its own alert route.
    routes: dict[str, AlertRoute] = {}
    levels: Annotated[int, Field(ge=1, le=10)] = 1  # level n is due n x escalate_after_s after the alert


class AlertSettings(_Frozen):
    """Alerts over open exceptions: routed by owner, de-duplicated, escalated (docs/decisions/0027)."""

    # Owner (team) -> channels; "default" for owners without a route of their own.
    routes: dict[str, AlertRoute] = {"default": [AlertChannel(kind="log")]}
    escalate_after_s: Annotated[float | None, Field(gt=0)] = 3600.0  # null: never escalate
    owner_escalate_after_s: dict[str, Annotated[float, Field(gt=0)]] = {}
    escalation: EscalationSettings = EscalationSettings()
    rules: dict[str, AlertRule] = {}  # exception type -> rule
    digest_over: Annotated[int, Field(ge=1)] = 5
    max_messages_per_owner: Annotated[int, Field(ge=1)] = 10
    digest_lines: Annotated[int, Field(ge=1, le=200)] = 20
    webhook_timeout_s: Annotated[float, Field(gt=0)] = 10.0  # longest one Slack post may take, whole
    smtp: AlertSmtp = AlertSmtp()

    def policy(self) -> AlertPolicy:
        rules = {
            name: TypeRule(r.min_count, r.min_age_s, r.severity, r.mute, r.escalate_after_s)
            for name, r in self.rules.items()
        }
        return AlertPolicy(
            rules=rules,
            escalate_after_s=self.escalate_after_s,
            owner_escalate_after_s=dict(self.owner_escalate_after_s),
            escalation_levels=self.escalation.levels,
            digest_over=self.digest_over,
            max_messages_per_owner=self.max_messages_per_owner,
            digest_lines=self.digest_lines,
        )

    def routes_of(self) -> Routes:
        return Routes(
            {o: tuple(c.channel() for c in cs) for o, cs in self.routes.items()},
            {o: tuple(c.channel() for c in cs) for o, cs in self.escalation.routes.items()},
        )

    def secret_envs(self) -> dict[str, str]:
        """Config key -> environment variable of each Slack webhook URL."""
        found: dict[str, str] = {}
        for prefix, routes in (
            ("alerts.routes", self.routes),
            ("alerts.escalation.routes", self.escalation.routes),
        ):
            for owner, channels in routes.items():
                for i, c in enumerate(channels):
                    if c.url_env:
                        found[f"{prefix}.{owner}.{i}.url_env"] = c.url_env
        return found


class Config(_Frozen):
    database_url: str = DEFAULT_DATABASE_URL
    hub: HubSettings = HubSettings()
    connectors: Connectors
    locations: Annotated[list[LocationMapping], Field(min_length=1)]
    inventory_statuses: dict[ClarusStatus, StatusMapping]
    storefronts: dict[str, _TaggedStorefront] = {}
    # Every channel has one (filled in with defaults); a key that is no channel is refused.
    targets: Annotated[dict[str, TargetSettings], Field(validate_default=True)] = {}
    owners: Owners = Owners()
    sku_rules: SkuRulesSettings = SkuRulesSettings()
    orders: OrderSettings = OrderSettings()
    fulfilment: FulfilmentSettings = FulfilmentSettings()
    finance: FinanceSettings = FinanceSettings()
    schedules: Schedules = Schedules()
    engine: EngineSettings = EngineSettings()
    drift: DriftSettings = DriftSettings()
    connector_health: ConnectorHealthSettings = ConnectorHealthSettings()
    slo: SloSettings = SloSettings()
    alerts: AlertSettings = AlertSettings()
    # Per Clarus warehouse; a warehouse left out offers the whole pool to every channel.
    allocation: dict[str, AllocationSettings] = {}
    velocity: VelocitySettings | None = None
    reports: ReportSettings | None = None  # None: reports only on demand (`stockbridge report`)

    @field_validator("locations")
    @classmethod
    def _one_location_per_warehouse(cls, locations: list[LocationMapping]) -> list[LocationMapping]:
        seen: set[str] = set()
        for mapping in locations:
            if mapping.warehouse in seen:
                raise ValueError(f"warehouse {mapping.warehouse!r} is mapped twice")
            seen.add(mapping.warehouse)
        return locations

    @field_validator("storefronts")
    @classmethod
    def _storefront_names(cls, storefronts: dict[str, Storefront]) -> dict[str, Storefront]:
        for name in storefronts:
            if name == IMS_CHANNEL_NAME or not _CHANNEL_NAME.fullmatch(name):
                raise ValueError(
                    f"storefront name {name!r} must be 1-32 lower-case letters, digits or _, "
                    f"start with a letter, and not be {IMS_CHANNEL_NAME!r}"
                )
        prefixes: dict[str, str] = {}
        for name, store in storefronts.items():
            other = prefixes.setdefault(store.reference_prefix.upper(), name)
            if other != name:
                raise ValueError(
                    f"storefronts.{name}.reference_prefix {store.reference_prefix!r} is also {other}'s: "
                    "two stores' orders would share references"
                )
        return storefronts

    @field_validator("targets")
    @classmethod
    def _targets_are_channels(
        cls, targets: dict[str, TargetSettings], info: ValidationInfo
    ) -> dict[str, TargetSettings]:
        storefronts = info.data.get("storefronts")
        if storefronts is None:  # storefronts: itself failed; that error is the one to report
            return targets
        channels = [IMS_CHANNEL_NAME, *storefronts]
        for name in targets:
            if name not in channels:
                raise ValueError(
                    f"targets.{name}: {name!r} is neither {IMS_CHANNEL_NAME!r} nor a storefront "
                    f"under storefronts: (channels: {channels})"
                )
        if targets.get(IMS_CHANNEL_NAME, TargetSettings()).subtract_open_demand:
            raise ValueError(
                f"targets.{IMS_CHANNEL_NAME}.subtract_open_demand: the IMS commits its own sales orders; "
                "taking the hub's open orders off its figure would count them twice (DESIGN.md §3)"
            )
        return {name: targets.get(name, TargetSettings()) for name in channels}

    @field_validator("drift")
    @classmethod
    def _drift_channels_are_channels(cls, drift: DriftSettings, info: ValidationInfo) -> DriftSettings:
        storefronts = info.data.get("storefronts")
        if storefronts is None:  # storefronts: itself failed; that error is the one to report
            return drift
        channels = [IMS_CHANNEL_NAME, *storefronts]
        for name in drift.channels:
            if name not in channels:
                raise ValueError(
                    f"drift.channels.{name}: {name!r} is not a stock channel (channels: {channels})"
                )
        return drift

    @model_validator(mode="after")
    def _calls_end_before_their_lease(self) -> Config:
        # A call still running when its lease ends lets another worker send the same command again.
        timeouts = {f"connectors.{n}": getattr(self.connectors, n).timeout_s for n in ("clarus", "ims")}
        timeouts.update({f"storefronts.{n}": s.timeout_s for n, s in self.storefronts.items()})
        for name, timeout in timeouts.items():
            if timeout >= self.engine.lease_s:
                raise ValueError(
                    f"{name}.timeout_s ({timeout}) must be shorter than "
                    f"engine.lease_s ({self.engine.lease_s})"
                )
        notifier = self.fulfilment.notifier
        if notifier.kind != "log" and notifier.timeout_s >= self.engine.lease_s:
            raise ValueError(
                f"fulfilment.notifier.timeout_s ({notifier.timeout_s}) must be shorter than "
                f"engine.lease_s ({self.engine.lease_s})"
            )
        alerting = {
            "webhook_timeout_s": self.alerts.webhook_timeout_s,
            "smtp.timeout_s": self.alerts.smtp.timeout_s,
        }
        for key, timeout in alerting.items():
            if timeout >= self.engine.lease_s:
                raise ValueError(
                    f"alerts.{key} ({timeout}) must be shorter than engine.lease_s ({self.engine.lease_s})"
                )
        return self

    @model_validator(mode="after")
    def _targets_are_known(self) -> Config:
        for status, mapping in self.inventory_statuses.items():
            unknown = mapping.counts_for - set(self.targets)
            if unknown:
                raise ValueError(
                    f"inventory_statuses.{status}.counts_for names {sorted(unknown)}, "
                    f"which is not a target (targets: {sorted(self.targets)})"
                )
        return self

    @model_validator(mode="after")
    def _slo_channels_are_known(self) -> Config:
        channels = self.stock_channels()
        for name in self.slo.latency_ms:
            if name != "default" and name not in channels:
                raise ValueError(
                    f"slo.latency_ms.{name}: {name!r} is no stock channel (channels: {channels})"
                )
        return self

    @model_validator(mode="after")
    def _storefront_warehouses_are_known(self) -> Config:
        warehouses = {m.warehouse for m in self.locations}
        for name, store in self.storefronts.items():
            unknown = sorted(set(store.locations) - warehouses)
            if unknown:
                raise ValueError(
                    f"storefronts.{name}.locations names warehouse(s) {unknown} that locations: does not map"
                )
        return self

    @model_validator(mode="after")
    def _allocation_names_the_stores_there(self) -> Config:
        warehouses = {m.warehouse for m in self.locations}
        for warehouse, settings in self.allocation.items():
            if warehouse not in warehouses:
                raise ValueError(f"allocation.{warehouse}: warehouse {warehouse!r} is not under locations:")
            if settings.rule == "pool":
                continue
            there = [n for n, s in self.storefronts.items() if warehouse in s.locations]
            named = settings.named()
            if IMS_CHANNEL_NAME in named:
                raise ValueError(
                    f"allocation.{warehouse}: {IMS_CHANNEL_NAME!r} keeps its book figure and takes no "
                    "part in a split (docs/decisions/0033)"
                )
            if sorted(named) != sorted(there):
                raise ValueError(
                    f"allocation.{warehouse}: rule {settings.rule} must name every storefront selling "
                    f"from {warehouse} and no other: it names {sorted(named)}, the storefronts there "
                    f"are {sorted(there)}"
                )
        return self

    @model_validator(mode="after")
    def _velocity_buffers_need_classes(self) -> Config:
        if self.velocity is None:
            for name, settings in self.targets.items():
                if settings.velocity_buffers:
                    raise ValueError(f"targets.{name}.velocity_buffers: there is no velocity: section")
        return self

    def allocation_rule(self, warehouse_id: str) -> AllocationRule:
        settings = self.allocation.get(warehouse_id)
        return POOL if settings is None else settings.domain_rule()

    def stock_channels(self) -> list[str]:
        """Every channel the hub tells stock figures: the IMS, then the storefronts in file order."""
        return [IMS_CHANNEL_NAME, *self.storefronts]

    def ats_rule(self, channel: str) -> AtsRule:
        settings = self.targets[channel]
        counted = frozenset(s for s, m in self.inventory_statuses.items() if channel in m.counts_for)
        classes = tuple(BufferClass(c.buffer, tuple(c.skus), n) for n, c in settings.classes.items())
        subtracts = settings.subtract_open_demand
        if subtracts is None:
            subtracts = channel != IMS_CHANNEL_NAME
        return AtsRule(
            counted,
            settings.buffer,
            dict(settings.sku_buffers),
            classes,
            subtracts,
            settings.velocity_buffers,
        )

    def location_of(self, channel: str, warehouse_id: str) -> str | None:
        """The channel's location fed by a Clarus warehouse, or None when the channel has none there."""
        if channel == IMS_CHANNEL_NAME:
            return self.ims_location_of(warehouse_id)
        store = self.storefronts.get(channel)
        return None if store is None else store.locations.get(warehouse_id)

    def order_warehouse(self) -> str:
        return self.orders.warehouse or self.locations[0].warehouse

    def ims_location_of(self, warehouse_id: str) -> str | None:
        return next((m.ims_location for m in self.locations if m.warehouse == warehouse_id), None)

    def warehouse_of_ims_location(self, location: str) -> str | None:
        return next((m.warehouse for m in self.locations if m.ims_location == location), None)

    def effective_database_url(self) -> str:
        return os.environ.get(DATABASE_URL_ENV) or self.database_url

    def required_env(self) -> dict[str, str]:
        """Config key → environment variable for every secret the connectors need."""
        needed = {
            "connectors.clarus.api_key_env": self.connectors.clarus.api_key_env,
            "connectors.clarus.webhook_secret_env": self.connectors.clarus.webhook_secret_env,
        }
        for key, env in self.connectors.ims.auth.env_names().items():
            needed[f"connectors.ims.auth.{key}"] = env
        for name, store in self.storefronts.items():
            needed[f"storefronts.{name}.access_token_env"] = store.access_token_env
            if isinstance(store, ShopifyStore):
                needed[f"storefronts.{name}.webhook_secret_env"] = store.webhook_secret_env
        needed.update(self.alerts.secret_envs())
        return needed


def secret(env_name: str, environ: Mapping[str, str] | None = None) -> str:
    value = (environ if environ is not None else os.environ).get(env_name)
    if not value:
        raise KeyError(env_name)
    remember_secret(value)  # the log pipeline's safety net masks it wherever it might appear
    return value


def parse_config(data: Any, file: str = "<config>") -> Config:
    if not isinstance(data, dict):
        raise ConfigError(file, "(top level)", "expected a mapping of keys to values")
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        # A bad mapping key is located at the key itself: `inventory_statuses.availabel`.
        loc = [str(part) for part in first["loc"] if part != "[key]"]
        if loc[:1] == ["storefronts"] and len(loc) >= 3 and loc[2] in STORE_KINDS:
            del loc[2]  # the union's tag: storefronts.<name>.<key>, as for any other section
        elif loc[:1] == ["storefronts"] and first["type"] == "store_kind":
            loc.append("kind")
        key = ".".join(loc) or "(top level)"
        raise ConfigError(file, key, first["msg"]) from None


def load_config(path: str | Path) -> Config:
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(file, "(file)", f"cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        raise ConfigError(file, where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return parse_config(data, file)


def check_environment(config: Config, file: str, environ: Mapping[str, str] | None = None) -> None:
    """Raise `ConfigError` for the first secret whose environment variable is unset."""
    env = environ if environ is not None else os.environ
    for key, name in config.required_env().items():
        if not env.get(name):
            raise ConfigError(file, key, f"environment variable {name} is not set")


EXAMPLE_CONFIG = Path(__file__).with_name("example-config.yaml")
