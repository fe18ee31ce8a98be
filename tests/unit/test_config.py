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
