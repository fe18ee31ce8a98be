"""The alert channels' edge (connectors/alerting.py): what a Slack-compatible webhook's answers mean,
the message's shape within Slack's limits, the e-mail's headers, the log line."""

from __future__ import annotations

import asyncio
import json
import logging

import httpx
import pytest

from stockbridge.config import AlertSettings
from stockbridge.connectors.alerting import AlertDispatcher, email_message, slack_body
from stockbridge.connectors.errors import RateLimitedError, RejectedError, RetriableError
from stockbridge.domain.alerting import AlertKind, AlertMessage, Channel, Severity

MESSAGE = AlertMessage(
    AlertKind.ALERT,
    "operations",
    0,
    Severity.WARNING,
    "[warning] drift: sku:MUG@ims",
    ("off by 3",),
    (7,),
    "drift",
)
SLACK = Channel("slack", "OPS_SLACK_URL")
ENV = {"OPS_SLACK_URL": "https://hooks.example.test/services/T0/B0/secret"}


def _deliver(answer: httpx.Response, channel: Channel = SLACK) -> list[httpx.Request]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer

    dispatcher = AlertDispatcher(AlertSettings(), httpx.MockTransport(handler), ENV)
    asyncio.run(dispatcher.deliver(channel, MESSAGE, "alert-r1-1-9"))
    return seen


def test_a_post_carries_text_and_blocks_naming_its_reference() -> None:
    (request,) = _deliver(httpx.Response(200, text="ok"))
    assert str(request.url) == ENV["OPS_SLACK_URL"]
    body = json.loads(request.content)
    assert body["text"] == "[warning] drift: sku:MUG@ims (alert-r1-1-9)\noff by 3"
    assert [b["type"] for b in body["blocks"]] == ["header", "section", "context"]


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (httpx.Response(429, headers={"Retry-After": "30"}), RateLimitedError),
        (httpx.Response(503), RetriableError),
        (httpx.Response(404, text="no_service"), RejectedError),
        (httpx.Response(400, text="invalid_payload"), RejectedError),
    ],
)
def test_answers_are_retried_or_refused_by_what_they_mean(
    answer: httpx.Response, error: type[Exception]
) -> None:
    with pytest.raises(error) as info:
        _deliver(answer)
    assert "secret" not in str(info.value)  # the URL is never in an error
    if isinstance(info.value, RateLimitedError):
        assert info.value.retry_after == 30


def test_slack_limits_are_kept() -> None:
    long = AlertMessage(
        AlertKind.DIGEST, "ops", 0, Severity.INFO, "t" * 400, tuple("x" * 100 for _ in range(100)), (), None
    )
    body = slack_body(long, "alert-r")
    assert len(body["blocks"][0]["text"]["text"]) == 150
    assert len(body["blocks"][1]["text"]["text"]) == 3000


def test_an_email_names_its_reference_as_message_id() -> None:
    mail = email_message(MESSAGE, "alert-r1-1-9", "hub@example.com", ("a@example.com", "b@example.com"))
    assert mail["Message-ID"] == "<alert-r1-1-9@stockbridge>"
    assert mail["To"] == "a@example.com, b@example.com"
    assert mail["Subject"] == MESSAGE.title


def test_the_log_channel_writes_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    dispatcher = AlertDispatcher(AlertSettings(), httpx.MockTransport(lambda r: httpx.Response(500)), {})
    asyncio.run(dispatcher.deliver(Channel("log"), MESSAGE, "alert-r1-1-9"))
    (record,) = [r for r in caplog.records if r.name == "stockbridge.alerts"]
    assert record.levelno == logging.WARNING
    assert "alert-r1-1-9" in str(record.__dict__)
