"""The CLI as a contract: init, check (exit 2 naming file and key), exceptions on an empty store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine
from typer.testing import CliRunner

from stockbridge.cli import app
from stockbridge.store import tokens_repo

runner = CliRunner()
SECRETS = {"CLARUS_API_KEY": "k", "CLARUS_WEBHOOK_SECRET": "s", "IMS_TOKEN": "t"}


def test_init_writes_a_config_that_checks(tmp_path: Path) -> None:
    path = tmp_path / "stockbridge.yaml"
    assert runner.invoke(app, ["init", str(path)]).exit_code == 0
    result = runner.invoke(app, ["check", "--config", str(path)], env=SECRETS)
    assert result.exit_code == 0, result.output
    assert "ok" in result.output


def test_init_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "stockbridge.yaml"
    path.write_text("keep me")
    assert runner.invoke(app, ["init", str(path)]).exit_code == 1
    assert path.read_text() == "keep me"


@pytest.mark.parametrize(
    ("mutate", "key"),
    [
        (lambda d: d["connectors"]["ims"].update(concurrency=0), "connectors.ims.concurrency"),
        (lambda d: d.update(locations=[]), "locations"),
        (lambda d: d["engine"].update(max_attempts="many"), "engine.max_attempts"),
        (
            lambda d: d["inventory_statuses"].update(availabel=d["inventory_statuses"].pop("available")),
            "inventory_statuses.availabel",
        ),
        (lambda d: d["hub"].update(log_level="verbose"), "hub.log_level"),
        (lambda d: d["hub"].update(public_url="hub.example.com"), "hub.public_url"),
    ],
)
def test_check_exits_2_naming_file_and_key(tmp_path: Path, mutate: object, key: str) -> None:
    path = tmp_path / "stockbridge.yaml"
    runner.invoke(app, ["init", str(path)])
    data = yaml.safe_load(path.read_text())
    mutate(data)  # type: ignore[operator]
    path.write_text(yaml.safe_dump(data))
    result = runner.invoke(app, ["check", "--config", str(path)], env=SECRETS)
    assert result.exit_code == 2
    assert str(path) in result.output
    assert key in result.output


def test_check_names_the_missing_secret(tmp_path: Path) -> None:
    path = tmp_path / "stockbridge.yaml"
    runner.invoke(app, ["init", str(path)])
    result = runner.invoke(
        app, ["check", "--config", str(path)], env={"CLARUS_API_KEY": "k", "IMS_TOKEN": "t"}
    )
    assert result.exit_code == 2
    assert "connectors.clarus.webhook_secret_env" in result.output


def test_missing_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["check", "--config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "nope.yaml" in result.output


def test_status_and_exceptions_on_a_fresh_database(tmp_path: Path) -> None:
    path = tmp_path / "stockbridge.yaml"
    runner.invoke(app, ["init", str(path)])
    env = {**SECRETS, "STOCKBRIDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'sb.db'}"}
    status = runner.invoke(app, ["status", "--config", str(path), "--json"], env=env)
    assert status.exit_code == 0, status.output
    assert json.loads(status.output)["inbox_pending"] == 0
    listed = runner.invoke(app, ["exceptions", "list", "--config", str(path), "--json"], env=env)
    assert json.loads(listed.output) == []
    assert runner.invoke(app, ["exceptions", "show", "99", "--config", str(path)], env=env).exit_code == 1


def test_replay_says_it_is_idempotent_and_offers_every_outbox() -> None:
    result = runner.invoke(app, ["replay", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "idempotent at the far end" in result.output
    for outbox in ("pushes", "orders", "fulfilment"):
        assert outbox in result.output


def test_token_create_prints_it_once_list_never_shows_it_revoke_ends_it(tmp_path: Path) -> None:
    path = tmp_path / "stockbridge.yaml"
    runner.invoke(app, ["init", str(path)])
    url = f"sqlite:///{tmp_path / 'sb.db'}"
    env = {"STOCKBRIDGE_DATABASE_URL": url}
    create = ["token", "create", "--role", "operator", "--name", "ops-laptop", "--config", str(path)]
    created = runner.invoke(app, create, env=env)
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("sbt_")
    assert runner.invoke(app, create, env=env).exit_code == 1  # the name is taken while active
    listed = runner.invoke(app, ["token", "list", "--json", "--config", str(path)], env=env)
    assert token not in listed.output
    assert [(t["name"], t["role"], t["revoked_at"]) for t in json.loads(listed.output)] == [
        ("ops-laptop", "operator", None)
    ]
    engine = create_engine(url)
    with engine.connect() as c:
        found = tokens_repo.authenticate(c, token)
    assert found is not None
    assert found.role is tokens_repo.Role.OPERATOR
    revoke = ["token", "revoke", "ops-laptop", "--config", str(path)]
    assert runner.invoke(app, revoke, env=env).exit_code == 0
    assert runner.invoke(app, revoke, env=env).exit_code == 1
    with engine.connect() as c:
        assert tokens_repo.authenticate(c, token) is None
    engine.dispose()
    bad_role = runner.invoke(app, ["token", "create", "--role", "root", "--name", "x", "--config", str(path)])
    assert bad_role.exit_code == 2


def test_serve_refuses_an_unknown_log_level(tmp_path: Path) -> None:
    path = tmp_path / "stockbridge.yaml"
    runner.invoke(app, ["init", str(path)])
    result = runner.invoke(app, ["serve", "--config", str(path), "--log-level", "loud"], env=SECRETS)
    assert result.exit_code == 2
    assert "--log-level" in result.output
