"""Build the connectors a config describes, with secrets read from the environment."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx
from sqlalchemy import Engine

from stockbridge.config import (
    IMS_CHANNEL_NAME,
    ClarusConnector,
    Config,
    ImsAuth,
    ImsConnector,
    MagentoStore,
    ShopifyStore,
    secret,
)
from stockbridge.connectors.clarus.client import ClarusClient
from stockbridge.connectors.clarus.inbound import ClarusInbound
from stockbridge.connectors.clarus.orders import ClarusOrders
from stockbridge.connectors.clarus.stock import ClarusStock
from stockbridge.connectors.clarus.webhooks import ClarusWebhooks
from stockbridge.connectors.http import RateLimiter
from stockbridge.connectors.magento.client import MagentoClient
from stockbridge.connectors.magento.orders import MagentoOrders
from stockbridge.connectors.magento.stock import MagentoStock
from stockbridge.connectors.magento.store_fulfilments import MagentoStoreFulfilments
from stockbridge.connectors.netsuite.auth import BearerAuth, ClientCredentialsAuth, TbaAuth
from stockbridge.connectors.netsuite.client import NetSuiteClient
from stockbridge.connectors.netsuite.finance import ImsFinance
from stockbridge.connectors.netsuite.fulfilment import NetSuiteFulfilments
from stockbridge.connectors.netsuite.ledger import NetSuiteLedger
from stockbridge.connectors.netsuite.products import NetSuiteProducts
from stockbridge.connectors.netsuite.sales_orders import NetSuiteOrders
from stockbridge.connectors.netsuite.stock import ImsStock, ItemDirectory, SuiteQLItems
from stockbridge.connectors.netsuite.storefront_orders import NetSuiteStorefrontOrders
from stockbridge.connectors.rest.calls import CallStats
from stockbridge.connectors.shopify.client import ShopifyClient
from stockbridge.connectors.shopify.inbound import ShopifyInbound
from stockbridge.connectors.shopify.orders import ShopifyOrders
from stockbridge.connectors.shopify.stock import ShopifyStock
from stockbridge.connectors.shopify.store_fulfilments import ShopifyStoreFulfilments
from stockbridge.engine.budgets import (
    SHARED_CLOCK,
    StoredBudget,
    StoredCostBucket,
    budget_key,
    shares_budgets,
)
from stockbridge.flows.edge_ports import StorefrontFulfilments, StorefrontOrderFeed
from stockbridge.flows.ports import StockChannel


@dataclass
class Connections:
    clarus: ClarusClient
    ims: NetSuiteClient
    ims_limiter: RateLimiter  # the one inside `ims`: every IMS request goes through it
    clarus_limiter: RateLimiter  # the one inside `clarus`
    clarus_webhook_secret: str
    # Every stock channel by name: "ims" first, then each storefront under its key in storefronts:.
    stock_channels: dict[str, StockChannel] = field(default_factory=dict)
    # Each Shopify store's Admin API client (its stock channel's and its orders') and webhook secret,
    # by channel name.
    storefronts: dict[str, ShopifyClient] = field(default_factory=dict)
    storefront_secrets: dict[str, str] = field(default_factory=dict)
    # Warehouse SKU -> IMS item, as the IMS stock channel maps them (None: a SuiteQL lookup by SKU).
    ims_items: ItemDirectory | None = None
    # Each connector's calls (answered, failed, throttled), by system: "clarus", "ims" and each
    # storefront's channel name (monitor/connector_health.py).
    call_stats: dict[str, CallStats] = field(default_factory=dict)
    # Each Magento store's REST client (its stock channel's, orders' and shipments'), by channel name.
    magento: dict[str, MagentoClient] = field(default_factory=dict)

    @property
    def storefront_inbound(self) -> dict[str, ShopifyInbound]:
        return {name: ShopifyInbound(name) for name in self.storefront_secrets}

    @property
    def storefront_orders(self) -> dict[str, StorefrontOrderFeed]:
        """Every store's orders feed (the catch-up query; a Magento store's only way in)."""
        feeds: dict[str, StorefrontOrderFeed] = {
            name: ShopifyOrders(client, name) for name, client in self.storefronts.items()
        }
        feeds.update(self._magento_orders())
        return feeds

    @property
    def storefront_fulfilments(self) -> dict[str, StorefrontFulfilments]:
        told: dict[str, StorefrontFulfilments] = {
            name: ShopifyStoreFulfilments(ShopifyOrders(client, name))
            for name, client in self.storefronts.items()
        }
        told.update({name: MagentoStoreFulfilments(o) for name, o in self._magento_orders().items()})
        return told

    def _magento_orders(self) -> dict[str, MagentoOrders]:
        return {name: MagentoOrders(client, name) for name, client in self.magento.items()}

    @property
    def limiters(self) -> dict[str, RateLimiter]:
        """Every adaptive limiter by system: the IMS's, Clarus's and each Magento store's."""
        found = {"ims": self.ims_limiter, "clarus": self.clarus_limiter}
        found.update({n: c.limiter for n, c in self.magento.items() if c.limiter is not None})
        return found

    @property
    def ims_storefront_orders(self) -> NetSuiteStorefrontOrders:
        return NetSuiteStorefrontOrders(self.ims)

    @property
    def clarus_orders(self) -> ClarusOrders:
        return ClarusOrders(self.clarus)

    @property
    def clarus_webhooks(self) -> ClarusWebhooks:
        return ClarusWebhooks(self.clarus)

    @property
    def clarus_stock(self) -> ClarusStock:
        return ClarusStock(self.clarus)

    @property
    def clarus_inbound(self) -> ClarusInbound:
        return ClarusInbound()

    @property
    def ims_orders(self) -> NetSuiteOrders:
        return NetSuiteOrders(self.ims)

    @property
    def ims_products(self) -> NetSuiteProducts:
        return NetSuiteProducts(self.ims)

    @property
    def ims_fulfilments(self) -> NetSuiteFulfilments:
        return NetSuiteFulfilments(self.ims)

    @property
    def ims_finance(self) -> ImsFinance:
        return ImsFinance(self.ims, self.ims_items or SuiteQLItems(self.ims))

    @property
    def ims_ledger(self) -> NetSuiteLedger:
        return NetSuiteLedger(self.ims)

    async def aclose(self) -> None:
        await self.clarus.aclose()
        await self.ims.aclose()
        for client in self.storefronts.values():
            await client.aclose()
        for magento in self.magento.values():
            await magento.aclose()


def ims_auth(auth: ImsAuth, base_url: str, environ: Mapping[str, str]) -> httpx.Auth:
    if auth.kind == "bearer":
        return BearerAuth(secret(auth.token_env, environ))
    if auth.kind == "client_credentials":
        token_url = base_url.rstrip("/") + "/services/rest/auth/oauth2/v1/token"
        return ClientCredentialsAuth(
            token_url, secret(auth.client_id_env, environ), secret(auth.client_secret_env, environ)
        )
    return TbaAuth(
        auth.account_id,
        secret(auth.consumer_key_env, environ),
        secret(auth.consumer_secret_env, environ),
        secret(auth.token_id_env, environ),
        secret(auth.token_secret_env, environ),
    )


def limiter(
    settings: ClarusConnector | ImsConnector | MagentoStore,
    system: str,
    shared: Engine | None = None,
    margin: float = 0.0,
) -> RateLimiter:
    """The connector's limiter; with `shared` (a PostgreSQL engine) it takes its calls from the
    account's budget kept there, which every worker process shares (docs/decisions/0037), at
    `margin` (a share, `engine.shared_budget_margin`) below the account's `calls_per_second`."""
    if shared is None:
        return RateLimiter(
            settings.calls_per_second,
            settings.concurrency,
            min_calls_per_second=settings.min_calls_per_second,
            recovery_step=settings.recovery_step,
            system=system,
        )
    return RateLimiter(
        settings.calls_per_second * (1.0 - margin),
        settings.concurrency,
        SHARED_CLOCK,
        min_calls_per_second=settings.min_calls_per_second,
        recovery_step=settings.recovery_step,
        system=system,
        budget=StoredBudget(shared, budget_key(system, settings.base_url), system),
    )


def shopify_client(
    store: ShopifyStore,
    environ: Mapping[str, str],
    stats: CallStats | None = None,
    shared: Engine | None = None,
    system: str = "shopify",
) -> ShopifyClient:
    """The store's GraphQL client; its picture of the cost bucket starts from the configured plan
    (`bucket_size`, `restore_rate`) until the first answer's throttleStatus says better. With
    `shared` (a PostgreSQL engine) every worker process spends one picture of it, kept there."""
    base_url = store.effective_base_url()
    bucket = None if shared is None else StoredCostBucket(shared, budget_key("shopify", base_url), system)
    return ShopifyClient(
        base_url,
        store.api_version,
        secret(store.access_token_env, environ),
        timeout_s=store.timeout_s,
        bucket_size=float(store.bucket_size),
        restore_rate=store.restore_rate,
        stats=stats,
        clock=time.monotonic if bucket is None else SHARED_CLOCK,
        shared=bucket,
    )


def magento_client(
    name: str, store: MagentoStore, environ: Mapping[str, str], stats: CallStats | None = None
) -> MagentoClient:
    """The store's REST client, named after its channel (every error it raises names the channel),
    paced by its own adaptive limiter (the store's `calls_per_second` and the rest)."""
    return MagentoClient(
        store.base_url,
        secret(store.access_token_env, environ),
        store_code=store.store_code,
        system=name,
        timeout_s=store.timeout_s,
        limiter=limiter(store, name),
        stats=stats,
    )


def connect(
    config: Config,
    environ: Mapping[str, str] | None = None,
    *,
    ims_items: ItemDirectory | None = None,
    engine: Engine | None = None,
) -> Connections:
    """`ims_items` maps warehouse SKUs to IMS items for the IMS stock channel: the hub's stored item
    list in a running hub (`engine/ims_items.StoredImsItems`); by default a SuiteQL lookup by SKU.
    `engine`: the hub's database; on PostgreSQL every far account's budget is kept there, shared by
    every worker process (without it, on SQLite, or with `engine.shared_budgets: false`, each
    limiter keeps its own)."""
    env = environ if environ is not None else os.environ
    clarus = config.connectors.clarus
    ims = config.connectors.ims
    sharing = engine is not None and config.engine.shared_budgets and shares_budgets(engine)
    shared = engine if sharing else None
    margin = config.engine.shared_budget_margin
    clarus_limiter, ims_limiter = (
        limiter(clarus, "clarus", shared, margin),
        limiter(ims, "ims", shared, margin),
    )
    window_s = config.connector_health.window_s
    stats = {name: CallStats(name, window_s) for name in ("clarus", IMS_CHANNEL_NAME, *config.storefronts)}
    ims_client = NetSuiteClient(
        ims.base_url,
        ims_auth(ims.auth, ims.base_url, env),
        timeout_s=ims.timeout_s,
        limiter=ims_limiter,
        stats=stats[IMS_CHANNEL_NAME],
    )
    ims_stock = ImsStock(
        ims_client,
        ims_limiter,
        ims_items or SuiteQLItems(ims_client),
        adjustment_account_id=ims.adjustment_account_id,
        name=IMS_CHANNEL_NAME,
        max_lines_per_call=ims.max_lines_per_call,
    )
    storefronts: dict[str, ShopifyClient] = {}
    magento: dict[str, MagentoClient] = {}
    channels: dict[str, StockChannel] = {IMS_CHANNEL_NAME: ims_stock}
    for name, store in config.storefronts.items():  # in file order: the channels' order
        if isinstance(store, MagentoStore):
            magento[name] = magento_client(name, store, env, stats[name])
            channels[name] = MagentoStock(magento[name], max_lines_per_call=store.max_lines_per_call)
        else:
            storefronts[name] = shopify_client(store, env, stats[name], shared, name)
            channels[name] = ShopifyStock(
                storefronts[name], name=name, max_lines_per_call=store.max_lines_per_call
            )
    return Connections(
        clarus=ClarusClient(
            clarus.base_url,
            secret(clarus.api_key_env, env),
            timeout_s=clarus.timeout_s,
            limiter=clarus_limiter,
            stats=stats["clarus"],
        ),
        ims=ims_client,
        ims_limiter=ims_limiter,
        clarus_limiter=clarus_limiter,
        clarus_webhook_secret=secret(clarus.webhook_secret_env, env),
        stock_channels=channels,
        ims_items=ims_items,
        storefronts=storefronts,
        storefront_secrets={
            name: secret(store.webhook_secret_env, env)
            for name, store in config.storefronts.items()
            if isinstance(store, ShopifyStore)
        },
        magento=magento,
        call_stats=stats,
    )
