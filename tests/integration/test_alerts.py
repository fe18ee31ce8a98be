"""Alerts end to end: exceptions in the store → the alerts check → a Slack-compatible webhook receiver
and an SMTP server, both real, on loopback. A fake clock decides what time it is. SQLite and
PostgreSQL.

Exception types here are ones the health checks raise (any type works: the rules are generic).
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, select
from tests.alerting_support import Mailbox, Receiver, far_ends
from tests.factories import T0, config
from tests.servers import run_app
from typer.testing import CliRunner

from stockbridge.cli import app
from stockbridge.config import EXAMPLE_CONFIG, Config
from stockbridge.connectors.alerting import alert_channels
from stockbridge.domain.alerting import Channel
from stockbridge.engine.clock import FakeClock
from stockbridge.engine.connect import connect
from stockbridge.engine.worker import Worker
from stockbridge.flows.alerts import AlertSender, Queued, check_alerts, queue_due_alerts, send_test_alert
from stockbridge.monitor.backlog import read_backlog
from stockbridge.servers import free_port
from stockbridge.store import alerts_repo, dead_letters
from stockbridge.store.bookkeeping import (
    list_exceptions,
    raise_exception,
    resolve_exceptions,
    set_exception_state,
)
from stockbridge.store.schema import alerts
from stockbridge.store.sql import utc
from stockbridge.store.states import BatchState, ExceptionState

DRIFT = "drift"


@dataclass
class Hub:
    """The alerting side of the hub against the far ends, with its own fake clock."""

    engine: Engine
    cfg: Config
    hook_port: int
    clock: FakeClock = field(default_factory=lambda: FakeClock(T0))
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def environ(self) -> dict[str, str]:
        base = f"http://127.0.0.1:{self.hook_port}/hooks"
        return {"OPS_SLACK_URL": f"{base}/ops", "DUTY_SLACK_URL": f"{base}/duty", **self.extra_env}

    def raise_(self, type: str = DRIFT, entity: str = "sku:MUG@ims", owner: str = "operations") -> None:
        with self.engine.begin() as c:
            raise_exception(c, type=type, entity=entity, owner=owner, detail="off by 3", now=self.clock.now())

    def check(self) -> Queued:
        async def run() -> Queued:
            async with alert_channels(self.cfg.alerts, self.environ) as channels:
                return await check_alerts(self.engine, self.cfg, self._sender(channels), self.clock)

        return asyncio.run(run())

    def send(self) -> int:
        async def run() -> int:
            async with alert_channels(self.cfg.alerts, self.environ) as channels:
                return await self._sender(channels).send_due()

        return asyncio.run(run())

    def _sender(self, channels: Any) -> AlertSender:
        return AlertSender(
            engine=self.engine, config=lambda: self.cfg, channels=channels, clock=self.clock, worker_id="w1"
        )

    def rows(self) -> list[Any]:
        with self.engine.connect() as c:
            return list(c.execute(select(alerts).order_by(alerts.c.id)))

    def exception_id(self, type: str = DRIFT) -> int:
        with self.engine.connect() as c:
            (record,) = [e for e in list_exceptions(c) if e.type == type]
        return record.id


def _config(smtp_port: int, **alerts: Any) -> Config:
    settings: dict[str, Any] = {
        "routes": {
            "operations": [
                {"kind": "slack", "url_env": "OPS_SLACK_URL"},
                {"kind": "email", "to": ["ops@example.com"]},
            ],
            "default": [{"kind": "log"}],
        },
        "escalate_after_s": 3600,
        "escalation": {"routes": {"default": [{"kind": "slack", "url_env": "DUTY_SLACK_URL"}]}},
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "from": "stockbridge@example.com", "timeout_s": 5},
        "webhook_timeout_s": 5,
    }
    settings.update(alerts)
    return config(alerts=settings)


@pytest.fixture
def far() -> Iterator[tuple[Receiver, Mailbox, int, int]]:
    with far_ends() as ends:
        yield ends


@pytest.fixture
def hub(engine: Engine, far: tuple[Receiver, Mailbox, int, int]) -> Hub:
    return Hub(engine, _config(far[3]), far[2])


def test_an_exception_reaches_its_owner_once_on_each_channel_however_often_it_is_raised(
    hub: Hub, far: tuple[Receiver, Mailbox, int, int]
) -> None:
    receiver, mailbox, _, _ = far
    hub.raise_()
    assert hub.check() == Queued(alerts=1, rows=2, exceptions=1)
    for _ in range(10):
        hub.clock.advance(60)
        hub.raise_()
        hub.check()
    (text,) = receiver.texts("ops")
    (mail,) = mailbox.to("ops@example.com")
    assert text.startswith(f"[warning] {DRIFT}: sku:MUG@ims (alert-")
    assert mail["Subject"] == f"[warning] {DRIFT}: sku:MUG@ims"
    # The e-mail's Message-ID is the reference its text names; the Slack post names its own.
    slack_row, mail_row = hub.rows()
    assert mail["Message-ID"] == f"<alert-{mail_row.alert}-{mail_row.id}@stockbridge>"
    assert f"(alert-{slack_row.alert}-{slack_row.id})" in text
    assert slack_row.alert == mail_row.alert
    assert {r.state for r in hub.rows()} == {BatchState.SENT.value}
    with hub.engine.connect() as c:
        (record,) = list_exceptions(c)
    assert (record.count, record.episode_count, record.episode) == (11, 11, 1)


def test_an_exception_still_open_past_its_time_escalates_once(
    hub: Hub, far: tuple[Receiver, Mailbox, int, int]
) -> None:
    receiver, mailbox, _, _ = far
    hub.raise_()
    hub.check()
    hub.clock.advance(3599)
    hub.check()
    assert receiver.texts("duty") == []
    hub.clock.advance(1)
    hub.check()
    for _ in range(5):
        hub.clock.advance(3600)
        hub.raise_()
        hub.check()
    (escalation,) = receiver.texts("duty")
    assert escalation.startswith(f"[critical] escalated (level 1): {DRIFT}: sku:MUG@ims")
    assert len(receiver.texts("ops")) == 1  # the owner's route had its one alert only
    assert len(mailbox.messages) == 1


def test_an_acknowledged_exception_does_not_escalate(
    hub: Hub, far: tuple[Receiver, Mailbox, int, int]
) -> None:
    receiver, _, _, _ = far
    hub.raise_()
    hub.check()
    exception_id = hub.exception_id()
    with hub.engine.begin() as c:
        set_exception_state(c, exception_id, ExceptionState.ACKNOWLEDGED)
    hub.clock.advance(1800)
    hub.raise_()  # seen again while someone is on it: stays acknowledged
    hub.clock.advance(7200)
    hub.check()
    assert receiver.texts("duty") == []
    with hub.engine.connect() as c:
        (record,) = list_exceptions(c)
    assert record.state == ExceptionState.ACKNOWLEDGED


def test_resolved_then_raised_again_is_a_new_alert(hub: Hub, far: tuple[Receiver, Mailbox, int, int]) -> None:
    receiver, mailbox, _, _ = far
    hub.raise_()
    hub.check()
    with hub.engine.begin() as c:
        resolve_exceptions(c, DRIFT, ["sku:MUG@ims"])
    hub.clock.advance(60)
    hub.check()
    assert len(receiver.texts("ops")) == 1
    hub.raise_()
    hub.check()
    assert len(receiver.texts("ops")) == 2
    assert len(mailbox.to("ops@example.com")) == 2
    with hub.engine.connect() as c:
        (record,) = list_exceptions(c)
    assert (record.episode, record.episode_count, record.opened_at) == (2, 1, hub.clock.now())


def test_a_receiver_that_is_down_gets_the_alert_later_once_and_the_email_goes_at_once(
    engine: Engine, far: tuple[Receiver, Mailbox, int, int]
) -> None:
    _, mailbox, _, smtp_port = far
    down_port = free_port()  # nothing listens here yet
    hub = Hub(engine, _config(smtp_port), down_port)
    hub.raise_()
    hub.check()
    assert len(mailbox.to("ops@example.com")) == 1  # the failing channel held nothing back
    (failed,) = [r for r in hub.rows() if r.state == BatchState.PENDING.value]
    assert failed.attempts == 1
    assert "unreachable" in failed.last_error
    assert "127.0.0.1" not in failed.last_error  # the URL is the secret: the error names its variable
    with hub.engine.connect() as c:  # waiting alerts are a flow's backlog (slo.backlog_age_s.alerts)
        (backlog,) = [b for b in read_backlog(c, hub.cfg, hub.clock.now()) if b.flow == "alerts"]
    assert (backlog.size, backlog.oldest_age_s) == (1, 0.0)
    later = Receiver()
    with run_app(later.app, port=down_port):
        hub.send()  # not due yet: nothing is tried
        assert later.texts("ops") == []
        hub.clock.advance((utc(failed.next_attempt_at) - hub.clock.now()).total_seconds())
        hub.check()
        hub.clock.advance(3599)
        hub.check()
    assert len(later.texts("ops")) == 1
    assert {r.state for r in hub.rows()} == {BatchState.SENT.value}
    assert len(mailbox.to("ops@example.com")) == 1


def test_a_crash_between_send_and_acknowledgement_sends_the_same_reference_once_more(
    hub: Hub, far: tuple[Receiver, Mailbox, int, int]
) -> None:
    receiver, mailbox, _, _ = far
    hub.raise_()
    with hub.engine.begin() as c:
        queue_due_alerts(c, hub.cfg, hub.clock.now())
        crashed = alerts_repo.claim(c, "dead-worker", hub.clock.now(), hub.clock.now(), 10)
    assert len(crashed) == 2

    async def deliver_without_ack() -> None:  # the worker dies before it records the answers
        async with alert_channels(hub.cfg.alerts, hub.environ) as channels:
            for delivery in crashed:
                await channels.deliver(delivery.channel, delivery.message, delivery.reference)

    asyncio.run(deliver_without_ack())
    hub.clock.advance(1)  # the dead worker's lease has passed
    hub.check()
    hub.check()
    first, again = receiver.texts("ops")
    assert first == again  # the same reference: a person can tell the resend
    assert mailbox.messages[0]["Message-ID"] == mailbox.messages[1]["Message-ID"]
    assert len(mailbox.messages) == 2


def test_two_hundred_exceptions_of_one_type_are_one_digest_not_two_hundred_messages(
    hub: Hub, far: tuple[Receiver, Mailbox, int, int]
) -> None:
    receiver, mailbox, _, _ = far
    for n in range(200):
        hub.raise_(type="unknown_sku", entity=f"sku:NEW{n:03}@ims")
    assert hub.check() == Queued(alerts=1, rows=2, exceptions=200)
    (text,) = receiver.texts("ops")
    (mail,) = mailbox.messages
    assert text.startswith("[warning] 200 new unknown_sku for operations")
    assert "... and 180 more" in text
    assert mail["Subject"] == "[warning] 200 new unknown_sku for operations"
    hub.raise_(type="unknown_sku", entity="sku:NEW000@ims")  # raised again: counted, no alert
    hub.check()
    assert len(receiver.texts("ops")) == 1


def test_a_channel_that_refuses_is_dead_lettered_with_an_owner_and_replayed_once_fixed(
    hub: Hub, far: tuple[Receiver, Mailbox, int, int]
) -> None:
    receiver, _, _, _ = far
    hub.cfg = _config(far[3], routes={"operations": [{"kind": "slack", "url_env": "TEAM_SLACK_URL"}]})
    hub.extra_env["TEAM_SLACK_URL"] = f"http://127.0.0.1:{hub.hook_port}/nowhere"  # answers 404
    hub.raise_()
    hub.check()
    (row,) = hub.rows()
    assert row.state == BatchState.DEAD.value  # refused: retrying the same post cannot help
    with hub.engine.connect() as c:
        (exception,) = [e for e in list_exceptions(c) if e.type == "alert_failed"]
        assert dead_letters.count_dead(c)["alerts"] == 1
    assert exception.entity == "channel:slack:TEAM_SLACK_URL"
    assert exception.owner == "integration"
    assert exception.retry_action == f"stockbridge replay --outbox alerts --id {row.id}"
    # Someone fixes the variable and replays the channel's dead letters.
    hub.extra_env["TEAM_SLACK_URL"] = f"http://127.0.0.1:{hub.hook_port}/hooks/team"
    with hub.engine.begin() as c:
        assert dead_letters.replay_for_exception(c, exception.type, exception.entity, hub.clock.now()) == 1
    hub.send()
    (text,) = receiver.texts("team")
    assert f"alert-{row.alert}-{row.id}" in text
    with hub.engine.connect() as c:
        (again,) = [e for e in list_exceptions(c) if e.type == "alert_failed"]
    assert again.state == ExceptionState.RESOLVED


def test_a_test_alert_reaches_every_channel_of_the_owner_and_names_one_that_fails(
    hub: Hub, far: tuple[Receiver, Mailbox, int, int]
) -> None:
    receiver, mailbox, _, _ = far

    async def run(environ: dict[str, str]) -> list[tuple[Channel, str | None]]:
        async with alert_channels(hub.cfg.alerts, environ) as channels:
            return await send_test_alert(channels, hub.cfg, "operations")

    results = asyncio.run(run(hub.environ))
    assert [(c.kind, error) for c, error in results] == [("slack", None), ("email", None)]
    (text,) = receiver.texts("ops")
    assert text.startswith("[info] test alert for operations (alert-test-")
    assert mailbox.messages[0]["Message-ID"].startswith("<alert-test-")
    assert [b["type"] for b in receiver.posts[0][1]["blocks"]] == ["header", "section", "context"]
    slack, mail = asyncio.run(run({}))  # OPS_SLACK_URL unset: named, and the e-mail still goes
    assert slack[1] == "alerts: environment variable OPS_SLACK_URL (a Slack webhook URL) is not set"
    assert mail[1] is None
    assert hub.rows() == []  # a test goes straight out, not through the outbox


def test_the_worker_runs_the_alerts_check_on_its_schedule(
    hub: Hub, far: tuple[Receiver, Mailbox, int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver, mailbox, _, _ = far
    for name, value in hub.environ.items():
        monkeypatch.setenv(name, value)
    environ = {"CLARUS_API_KEY": "k", "CLARUS_WEBHOOK_SECRET": "s", "IMS_TOKEN": "t"}
    hub.raise_()

    async def job() -> None:
        connections = connect(hub.cfg, environ)
        try:
            worker = Worker(engine=hub.engine, config=hub.cfg, connections=connections, clock=hub.clock)
            assert ("alerts_check", hub.cfg.schedules.alerts_check_s) in worker._jobs()
            await worker.run_job("alerts_check")
        finally:
            await connections.aclose()

    asyncio.run(job())
    assert len(receiver.texts("ops")) == 1
    assert len(mailbox.to("ops@example.com")) == 1


def test_the_cli_lists_alerts_and_tests_a_route(
    hub: Hub, far: tuple[Receiver, Mailbox, int, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver, _, _, smtp_port = far
    for name, value in hub.environ.items():
        monkeypatch.setenv(name, value)
    hub.raise_()
    hub.check()
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["database_url"] = hub.engine.url.render_as_string(hide_password=False)
    data["alerts"] = {
        "routes": {"operations": [{"kind": "slack", "url_env": "OPS_SLACK_URL"}]},
        "smtp": {"port": smtp_port},
    }
    path = tmp_path / "stockbridge.yaml"
    path.write_text(yaml.safe_dump(data))

    listed = CliRunner().invoke(app, ["alerts", "list", "--json", "--config", str(path)])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert sorted(r["channel"] for r in rows) == ["email:ops@example.com", "slack:OPS_SLACK_URL"]
    assert {r["state"] for r in rows} == {"sent"}

    tested = CliRunner().invoke(app, ["alerts", "test", "--owner", "operations", "--config", str(path)])
    assert tested.exit_code == 0, tested.output
    assert "slack:OPS_SLACK_URL: sent" in tested.output
    assert receiver.texts("ops")[-1].startswith("[info] test alert for operations")
    monkeypatch.delenv("OPS_SLACK_URL")
    refused = CliRunner().invoke(app, ["alerts", "test", "--owner", "operations", "--config", str(path)])
    assert refused.exit_code == 1


def test_no_log_line_carries_a_webhook_url(
    hub: Hub, far: tuple[Receiver, Mailbox, int, int], caplog: pytest.LogCaptureFixture
) -> None:
    """The URL is the secret. The records are taken as logged, before the masking safety net."""
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore"):
        caplog.set_level(logging.DEBUG, logger=name)
    hub.raise_()
    hub.extra_env["TEAM_SLACK_URL"] = f"http://127.0.0.1:{hub.hook_port}/hooks/secret-path-team"
    hub.cfg = _config(
        far[3],
        routes={
            "operations": [{"kind": "slack", "url_env": "OPS_SLACK_URL"}],
            "default": [{"kind": "slack", "url_env": "TEAM_SLACK_URL"}],
        },
    )
    hub.raise_(type="unknown_sku", entity="sku:X@ims", owner="merchandising")
    hub.check()
    assert len(far[0].posts) == 2
    logged = [f"{r.getMessage()} {r.__dict__}" for r in caplog.records]
    assert logged, "nothing was logged: the test would pass for the wrong reason"
    assert not [line for line in logged if "/hooks/" in line]
