from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from stockbridge.config import EXAMPLE_CONFIG, ConfigError, check_environment, load_config
from stockbridge.connectors.clarus.statuses import INVENTORY_STATUSES


def _write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _example() -> dict[str, object]:
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    assert isinstance(data, dict)
    return data


def test_example_config_is_valid() -> None:
    config = load_config(EXAMPLE_CONFIG)
    assert config.ats_rule("ims").counted_statuses == {"available", "allocated", "picked"}
    assert config.ims_location_of("WH1") == "6"


def test_bad_value_names_file_and_key(tmp_path: Path) -> None:
    data = _example()
    data["connectors"]["ims"]["calls_per_second"] = -1  # type: ignore[index]
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.file == str(path)
    assert info.value.key == "connectors.ims.calls_per_second"


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    data = _example()
    data["connectors"]["clarus"]["api_key"] = "secret-in-file"  # type: ignore[index]
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, data))
    assert info.value.key == "connectors.clarus.api_key"


def test_status_counting_for_unknown_target_is_refused(tmp_path: Path) -> None:
    data = _example()
    data["inventory_statuses"]["available"]["counts_for"] = ["ims", "shopify"]  # type: ignore[index]
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, data))
    assert "shopify" in info.value.message


def test_status_clarus_never_sends_is_refused_naming_the_key(tmp_path: Path) -> None:
    data = _example()
    statuses = data["inventory_statuses"]
    statuses["availabel"] = statuses.pop("available")  # type: ignore[attr-defined]
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, data))
    assert info.value.key == "inventory_statuses.availabel"
    assert "did you mean 'available'" in info.value.message


def test_every_status_clarus_sends_may_be_mapped(tmp_path: Path) -> None:
    data = _example()
    data["inventory_statuses"] = {status: {} for status in INVENTORY_STATUSES}
    assert set(load_config(_write(tmp_path, data)).inventory_statuses) == set(INVENTORY_STATUSES)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("connectors:\n  clarus: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key.startswith("line ")


def test_missing_secret_names_the_key() -> None:
    config = load_config(EXAMPLE_CONFIG)
    with pytest.raises(ConfigError) as info:
        check_environment(config, "x.yaml", environ={"CLARUS_API_KEY": "k"})
    assert info.value.key == "connectors.clarus.webhook_secret_env"
    assert "CLARUS_WEBHOOK_SECRET" in info.value.message


@pytest.mark.parametrize("connector", ["ims", "clarus"])
def test_rate_floor_above_the_configured_rate_is_refused(tmp_path: Path, connector: str) -> None:
    data = _example()
    data["connectors"][connector]["min_calls_per_second"] = 500  # type: ignore[index]
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, data))
    assert info.value.key == f"connectors.{connector}"
    assert "min_calls_per_second" in info.value.message


def test_a_call_timeout_not_shorter_than_the_lease_is_refused(tmp_path: Path) -> None:
    data = _example()
    data["engine"]["lease_s"] = 20  # type: ignore[index]  # below the 30 s default call timeout
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, data))
    assert "connectors.clarus.timeout_s" in info.value.message
    assert "engine.lease_s" in info.value.message


def test_a_notice_timeout_not_shorter_than_the_lease_is_refused(tmp_path: Path) -> None:
    data = _example()
    data["engine"]["lease_s"] = 40  # type: ignore[index]  # above the connectors' 30 s
    data["fulfilment"] = {"notifier": {"kind": "smtp", "timeout_s": 40}}
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, data))
    assert "fulfilment.notifier.timeout_s" in info.value.message
    data["fulfilment"] = {"notifier": {"kind": "smtp", "timeout_s": 39}}
    assert load_config(_write(tmp_path, data)).fulfilment.notifier.timeout_s == 39


def _with_shopify(data: dict[str, object], **store: object) -> dict[str, object]:
    data["storefronts"] = {
        "shopify": {
            "shop_domain": "example.myshopify.com",
            "locations": {"WH1": "gid://shopify/Location/1"},
            "orders_route": "clarus",
        }
        | store
    }
    return data


def test_a_target_that_is_no_channel_is_refused_naming_it(tmp_path: Path) -> None:
    data = _example()
    data["targets"] = {"ims": {}, "shopify": {"buffer": 2}}
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, data))
    assert info.value.key == "targets"
    assert "targets.shopify" in info.value.message


def test_a_storefront_is_a_channel_with_a_default_target(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, _with_shopify(_example())))
    assert config.stock_channels() == ["ims", "shopify"]
    assert config.ats_rule("shopify").default_buffer == 0
    assert config.ats_rule("shopify").counted_statuses == frozenset()
    assert config.location_of("shopify", "WH1") == "gid://shopify/Location/1"
    assert config.location_of("ims", "WH1") == "6"
    assert config.location_of("shopify", "WH9") is None
    store = config.storefronts["shopify"]
    assert (store.max_lines_per_call, store.restore_rate, store.bucket_size) == (250, 100.0, 1000)
    assert store.effective_base_url() == "https://example.myshopify.com"
    env = config.required_env()
    assert env["storefronts.shopify.access_token_env"] == "SHOPIFY_ACCESS_TOKEN"
    assert env["storefronts.shopify.webhook_secret_env"] == "SHOPIFY_WEBHOOK_SECRET"


def test_storefront_counts_only_what_its_statuses_say(tmp_path: Path) -> None:
    data = _with_shopify(_example())
    data["inventory_statuses"]["available"]["counts_for"] = ["ims", "shopify"]  # type: ignore[index]
    data["targets"] = {"shopify": {"buffer": 2, "classes": {"mugs": {"buffer": 5, "skus": ["MUG-*"]}}}}
    config = load_config(_write(tmp_path, data))
    rule = config.ats_rule("shopify")
    assert rule.counted_statuses == {"available"}
    assert (rule.buffer_for("MUG-1"), rule.buffer_for("TEA-2")) == (5, 2)
    assert config.ats_rule("ims").default_buffer == 0  # ims left out of targets: still a channel


@pytest.mark.parametrize(
    ("store", "key", "words"),
    [
        ({"api_version": "2025-10"}, "storefronts.shopify.api_version", "older than 2026-04"),
        ({"api_version": "latest"}, "storefronts.shopify.api_version", "YYYY-MM"),
        ({"locations": {"WH9": "gid://shopify/Location/1"}}, "(top level)", "WH9"),
        ({"timeout_s": 60}, "(top level)", "storefronts.shopify.timeout_s"),
        ({"orders_route": "magento"}, "storefronts.shopify.orders_route", "ims"),
    ],
)
def test_bad_storefront_settings_are_refused(
    tmp_path: Path, store: dict[str, object], key: str, words: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, _with_shopify(_example(), **store)))
    assert info.value.key == key
    assert words in info.value.message


def test_a_storefront_may_not_be_called_ims(tmp_path: Path) -> None:
    data = _example()
    data["storefronts"] = {"ims": {"shop_domain": "x.myshopify.com", "orders_route": "clarus"}}
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, data))
    assert info.value.key == "storefronts"


def test_drift_settings_for_a_channel_that_does_not_exist_are_refused(tmp_path: Path) -> None:
    data = _example()
    data["drift"] = {"channels": {"shopfy": {"grace_s": 60}}}
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, data))
    assert info.value.key == "drift"
    assert "drift.channels.shopfy" in info.value.message
    data["drift"] = {"channels": {"ims": {"grace_s": -1}}}
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, data))
    assert info.value.key == "drift.channels.ims.grace_s"
