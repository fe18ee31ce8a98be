"""The `alerts:` section: routes, rules, escalation, SMTP; a bad entry names its key and file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from stockbridge.config import EXAMPLE_CONFIG, ConfigError, check_environment, load_config
from stockbridge.domain.alerting import Channel, Severity


def _load(tmp_path: Path, alerts: dict[str, Any], **more: Any) -> Any:
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["alerts"] = alerts
    data.update(more)
    path = tmp_path / "hub.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_config(path)


def test_routes_rules_and_escalation_become_the_policy(tmp_path: Path) -> None:
    cfg = _load(
        tmp_path,
        {
            "routes": {
                "operations": [
                    {"kind": "slack", "url_env": "OPS_SLACK_URL"},
                    {"kind": "email", "to": ["o@x"]},
                ],
                "default": [{"kind": "log"}],
            },
            "escalate_after_s": 1800,
            "owner_escalate_after_s": {"finance": 7200},
            "escalation": {"routes": {"default": [{"kind": "email", "to": ["duty@x"]}]}, "levels": 2},
            "rules": {"unknown_sku": {"min_count": 3, "severity": "info", "mute": False}},
            "smtp": {"host": "mail.internal", "port": 587, "from": "hub@x"},
        },
    )
    policy = cfg.alerts.policy()
    assert policy.escalate_after("drift", "operations") == 1800
    assert policy.escalate_after("drift", "finance") == 7200
    assert policy.escalation_levels == 2
    assert policy.rule("unknown_sku").min_count == 3
    assert policy.rule("unknown_sku").severity == Severity.INFO
    routes = cfg.alerts.routes_of()
    assert routes.for_owner("operations") == (
        Channel("slack", "OPS_SLACK_URL"),
        Channel("email", to=("o@x",)),
    )
    assert routes.for_owner("finance") == (Channel("log"),)
    assert cfg.alerts.smtp.sender == "hub@x"


def test_defaults_alert_to_the_log_only() -> None:
    cfg = load_config(EXAMPLE_CONFIG)
    assert cfg.alerts.routes_of().for_owner("operations") == (Channel("log"),)
    assert cfg.schedules.alerts_check_s == 60


@pytest.mark.parametrize(
    ("alerts", "key", "message"),
    [
        ({"routes": {"operations": [{"kind": "slack"}]}}, "alerts.routes.operations.0", "url_env"),
        ({"routes": {"operations": [{"kind": "email"}]}}, "alerts.routes.operations.0", "to:"),
        ({"routes": {"operations": [{"kind": "pager"}]}}, "alerts.routes.operations.0.kind", "slack"),
        ({"rules": {"drift": {"min_count": 0}}}, "alerts.rules.drift.min_count", "greater than or equal"),
        ({"rules": {"drift": {"severity": "loud"}}}, "alerts.rules.drift.severity", "info"),
        ({"escalate_after_s": 0}, "alerts.escalate_after_s", "greater than"),
        ({"smtp": {"timeout_s": 90}}, "(top level)", "alerts.smtp.timeout_s (90.0) must be shorter"),
    ],
)
def test_a_bad_alert_entry_names_its_key_and_file(
    tmp_path: Path, alerts: dict[str, Any], key: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, alerts)
    assert info.value.file.endswith("hub.yaml")
    assert info.value.key == key
    assert message in info.value.message


def test_a_slack_url_variable_is_a_required_secret(tmp_path: Path) -> None:
    cfg = _load(tmp_path, {"routes": {"operations": [{"kind": "slack", "url_env": "OPS_SLACK_URL"}]}})
    environ = {"CLARUS_API_KEY": "k", "CLARUS_WEBHOOK_SECRET": "s", "IMS_TOKEN": "t"}
    with pytest.raises(ConfigError) as info:
        check_environment(cfg, "hub.yaml", environ)
    assert info.value.key == "alerts.routes.operations.0.url_env"
    check_environment(cfg, "hub.yaml", environ | {"OPS_SLACK_URL": "https://hooks.example/T/B/x"})
