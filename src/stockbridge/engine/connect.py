"""Build the connectors a config describes, with secrets read from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from stockbridge.config import Config, ImsAuth, secret
from stockbridge.connectors.clarus.client import ClarusClient
from stockbridge.connectors.clarus.inbound import ClarusInbound
from stockbridge.connectors.clarus.orders import ClarusOrders
from stockbridge.connectors.clarus.stock import ClarusStock
from stockbridge.connectors.clarus.webhooks import ClarusWebhooks
from stockbridge.connectors.http import RateLimiter
from stockbridge.connectors.netsuite.auth import BearerAuth, ClientCredentialsAuth, TbaAuth
from stockbridge.connectors.netsuite.client import NetSuiteClient
from stockbridge.connectors.netsuite.fulfilment import NetSuiteFulfilments
from stockbridge.connectors.netsuite.limited import LimitedNetSuiteClient
from stockbridge.connectors.netsuite.products import NetSuiteProducts
from stockbridge.connectors.netsuite.sales_orders import NetSuiteOrders
from stockbridge.connectors.netsuite.storefront_orders import NetSuiteStorefrontOrders
from stockbridge.connectors.shopify.client import ShopifyClient
from stockbridge.connectors.shopify.inbound import ShopifyInbound
from stockbridge.connectors.shopify.orders import ShopifyOrders


@dataclass
class Connections:
    clarus: ClarusClient
    ims: NetSuiteClient  # plain: the stock push side wraps its calls in `ims_limiter` itself
    ims_limiter: RateLimiter
    clarus_webhook_secret: str
    # The same IMS account with `ims_limiter` inside: what the order, product and fulfilment ports use.
    ims_limited: NetSuiteClient
    # Each storefront's Admin API client and webhook secret, by channel name.
    storefronts: dict[str, ShopifyClient] = field(default_factory=dict)
    storefront_secrets: dict[str, str] = field(default_factory=dict)

    @property
    def storefront_inbound(self) -> dict[str, ShopifyInbound]:
        return {name: ShopifyInbound(name) for name in self.storefront_secrets}

    @property
    def storefront_orders(self) -> dict[str, ShopifyOrders]:
        return {name: ShopifyOrders(client, name) for name, client in self.storefronts.items()}

    @property
    def ims_storefront_orders(self) -> NetSuiteStorefrontOrders:
        return NetSuiteStorefrontOrders(self.ims_limited)

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
        return NetSuiteOrders(self.ims_limited)

    @property
    def ims_products(self) -> NetSuiteProducts:
        return NetSuiteProducts(self.ims_limited)

    @property
    def ims_fulfilments(self) -> NetSuiteFulfilments:
        return NetSuiteFulfilments(self.ims_limited)

    async def aclose(self) -> None:
        await self.clarus.aclose()
        await self.ims.aclose()
        await self.ims_limited.aclose()
        for client in self.storefronts.values():
            await client.aclose()


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


def connect(config: Config, environ: Mapping[str, str] | None = None) -> Connections:
    env = environ if environ is not None else os.environ
    clarus = config.connectors.clarus
    ims = config.connectors.ims
    auth = ims_auth(ims.auth, ims.base_url, env)
    limiter = RateLimiter(
        ims.calls_per_second,
        ims.concurrency,
        min_calls_per_second=ims.min_calls_per_second,
        recovery_step=ims.recovery_step,
        system="ims",
    )
    return Connections(
        clarus=ClarusClient(clarus.base_url, secret(clarus.api_key_env, env), timeout_s=clarus.timeout_s),
        ims=NetSuiteClient(ims.base_url, auth, timeout_s=ims.timeout_s),
        ims_limiter=limiter,
        clarus_webhook_secret=secret(clarus.webhook_secret_env, env),
        ims_limited=LimitedNetSuiteClient(ims.base_url, auth, limiter=limiter, timeout_s=ims.timeout_s),
        storefronts={
            name: ShopifyClient(
                store.effective_base_url(),
                store.api_version,
                secret(store.access_token_env, env),
                timeout_s=store.timeout_s,
            )
            for name, store in config.storefronts.items()
        },
        storefront_secrets={
            name: secret(store.webhook_secret_env, env) for name, store in config.storefronts.items()
        },
    )
