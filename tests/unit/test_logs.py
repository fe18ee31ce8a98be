"""Structured log lines: one per event, JSON or key=value, levels, secrets masked, reloads logged."""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from stockbridge.config import EXAMPLE_CONFIG, load_config
from stockbridge.engine.config_source import ConfigSource
from stockbridge.logs import MASK, configure_logging, get_logger, remember_secret


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """Where the hub's log lines go during the test; logging is put back afterwards."""
    root = logging.getLogger()
    saved = (root.level, list(root.handlers), logging.getLogger("stockbridge").level)
    stream = io.StringIO()
    yield stream
    root.handlers[:] = saved[1]
    root.setLevel(saved[0])
    logging.getLogger("stockbridge").setLevel(saved[2])


def _json_lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_lines_carry_the_event_and_its_fields(lines: io.StringIO) -> None:
    configure_logging("info", "json", stream=lines)
    log = get_logger("stockbridge.test")
    log.info("order held", reference="SO1", reasons=["unknown_item", "incomplete_address"])
    log.debug("push acknowledged", batch="b1")  # below the level: not written
    logging.getLogger("httpx").info("HTTP Request: GET http://x")  # libraries only from warning
    (line,) = _json_lines(lines)
    assert line["event"] == "order held"
    assert line["level"] == "info"
    assert line["logger"] == "stockbridge.test"
    assert line["reference"] == "SO1"
    assert line["reasons"] == ["unknown_item", "incomplete_address"]


def test_console_lines_are_key_value_with_quoting(lines: io.StringIO) -> None:
    configure_logging("debug", "console", stream=lines)
    get_logger("stockbridge.test").debug("retry scheduled", entity="SO 1", attempt=2)
    (line,) = lines.getvalue().splitlines()
    assert line.endswith('debug   stockbridge.test: retry scheduled entity="SO 1" attempt=2')


def test_known_secrets_are_masked_even_in_tracebacks(lines: io.StringIO) -> None:
    configure_logging("info", "json", stream=lines)
    remember_secret("sk-live-0123456789")
    log = get_logger("stockbridge.test")
    log.warning("connector failed", error="401 for key sk-live-0123456789")
    try:
        raise RuntimeError("Authorization: Bearer sk-live-0123456789")
    except RuntimeError:
        log.exception("step crashed")
    text = lines.getvalue()
    assert "sk-live-0123456789" not in text
    assert text.count(MASK) == 3  # the field; the raising line and the message in the traceback


def test_a_secret_is_masked_before_json_or_quoting_escapes_it(lines: io.StringIO) -> None:
    remember_secret('pa"ss\\word-42')
    for fmt in ("json", "console"):
        configure_logging("info", fmt, stream=lines)  # type: ignore[arg-type]
        get_logger("stockbridge.test").info(
            "login", detail='token pa"ss\\word-42 refused', names=['pa"ss\\word-42']
        )
    assert "word-42" not in lines.getvalue()


def test_reload_and_refused_reload_are_one_line_each(lines: io.StringIO, tmp_path: Path) -> None:
    configure_logging("info", "json", stream=lines)
    path = tmp_path / "stockbridge.yaml"
    shutil.copyfile(EXAMPLE_CONFIG, path)
    source = ConfigSource(load_config(path), path, check_every_s=0)
    data = yaml.safe_load(path.read_text())
    data["orders"] = {"ship_methods": {"UPS Ground": "STD"}}
    path.write_text(yaml.safe_dump(data))
    os.utime(path, ns=(1, 1))  # a distinct mtime, whatever the file system's resolution
    source.current()
    path.write_text("locations: [")
    os.utime(path, ns=(2, 2))
    source.current()
    reloaded, refused = _json_lines(lines)
    assert (reloaded["event"], reloaded["level"], reloaded["generation"]) == (
        "configuration reloaded",
        "info",
        1,
    )
    assert refused["event"] == "configuration refused, keeping the last good one"
    assert refused["level"] == "warning"
    assert refused["file"] == str(path)
