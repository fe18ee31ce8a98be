"""The chaos day's configuration with the Shopify store: valid, and the store counts only what is
free to sell (DESIGN §3), with its own buffers."""

from __future__ import annotations

from stockbridge.chaos.run import SHOPIFY_LOCATION, chaos_config
from stockbridge.chaos.shop_day import SHOP_PREFIX
from stockbridge.config import parse_config
from stockbridge.oracle import OracleSettings


def test_the_chaos_configuration_has_the_shopify_store_as_a_stock_channel() -> None:
    data = chaos_config(
        "http://127.0.0.1:1", "http://127.0.0.1:2", "sqlite:///x.db", 25, "http://127.0.0.1:3"
    )
    config = parse_config(data)
    assert config.stock_channels() == ["ims", "shopify"]
    assert config.location_of("shopify", "WH1") == SHOPIFY_LOCATION
    settings = OracleSettings.from_config_data(data)
    assert settings.targets["shopify"].counted_statuses == {"available"}
    assert settings.targets["shopify"].buffer_for("SKU-00011") == 3
    assert settings.targets["shopify"].buffer_for("SKU-00021") == 1
    # The store's orders go straight to the warehouse under the prefix the day's checks read, and its
    # figure has open demand taken off (decision 0022), as the stock check expects.
    store = config.storefronts["shopify"]
    assert (store.orders_route, store.reference_prefix) == ("clarus", SHOP_PREFIX)
    assert config.ats_rule("shopify").subtracts_open_demand


def test_without_a_store_the_day_is_the_two_system_day() -> None:
    data = chaos_config("http://127.0.0.1:1", "http://127.0.0.1:2", "sqlite:///x.db", 25)
    assert parse_config(data).stock_channels() == ["ims"]
