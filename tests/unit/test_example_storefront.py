"""The storefront example in example-config.yaml, uncommented as its comments say, is a valid
configuration and wires a Shopify stock channel."""

from __future__ import annotations

import asyncio
from pathlib import Path

import yaml

from stockbridge.config import EXAMPLE_CONFIG, parse_config
from stockbridge.connectors.shopify import ShopifyStock
from stockbridge.engine.connect import connect


def _uncommented() -> str:
    """The example with `# storefronts:` and `# shopify:` under targets: taken out of comments, and
    `shopify` added to counts_for of `available` (as the example's note says)."""
    out: list[str] = []
    mode = None
    for line in Path(EXAMPLE_CONFIG).read_text().splitlines():
        if line.startswith("# storefronts:"):
            mode = "storefronts"
        elif line.startswith("  # shopify:"):
            mode = "target"
        if mode == "storefronts" and line.startswith("# ") and not line.startswith("# ("):
            out.append(line[2:])
            continue
        if mode == "target" and line.startswith("  # "):
            out.append("  " + line[4:])
            continue
        mode = None if not line.startswith("#") else mode
        out.append(line)
    text = "\n".join(out)
    return text.replace("available:   {counts_for: [ims],", "available:   {counts_for: [ims, shopify],")


def test_the_storefront_example_is_valid_and_wires_a_channel() -> None:
    config = parse_config(yaml.safe_load(_uncommented()))
    store = config.storefronts["shopify"]
    assert store.locations == {"WH1": "gid://shopify/Location/1"}
    assert config.stock_channels() == ["ims", "shopify"]
    assert config.ats_rule("shopify").counted_statuses == frozenset({"available"})
    env = dict.fromkeys(config.required_env().values(), "example-value-4d0fd86")

    async def go() -> None:
        connections = connect(config, env)
        try:
            channel = connections.stock_channels["shopify"]
            assert isinstance(channel, ShopifyStock)
            assert connections.storefronts["shopify"].url.startswith(
                "https://example.myshopify.com/admin/api/"
            )
        finally:
            await connections.aclose()

    asyncio.run(go())
