"""Run the Shopify simulator: `python -m stockbridge.simulators.shopify --port 8003`."""

from __future__ import annotations

import argparse
import os

from . import ShopifySettings, WebhookFaults, serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m stockbridge.simulators.shopify", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8003)
    parser.add_argument("--shop-domain", default=ShopifySettings.shop_domain)
    parser.add_argument("--bucket-size", type=int, default=ShopifySettings.bucket_size)
    parser.add_argument("--restore-rate", type=float, default=ShopifySettings.restore_rate)
    parser.add_argument(
        "--max-quantities-per-call", type=int, default=ShopifySettings.max_quantities_per_call
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    settings = ShopifySettings(
        # Secrets come from the environment, as the hub's do; the defaults are the tests' own.
        access_token=os.environ.get("SHOPIFY_ACCESS_TOKEN", ShopifySettings.access_token),
        api_secret=os.environ.get("SHOPIFY_WEBHOOK_SECRET", ShopifySettings.api_secret),
        shop_domain=args.shop_domain,
        bucket_size=args.bucket_size,
        restore_rate=args.restore_rate,
        max_quantities_per_call=args.max_quantities_per_call,
        faults=WebhookFaults(seed=args.seed),
    )
    serve(settings, args.host, args.port)


if __name__ == "__main__":
    main()
