"""The far systems the hub talks to: Clarus, the IMS and each storefront (Shopify, Magento)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from stockbridge.config.base import _Frozen


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
