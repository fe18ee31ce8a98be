"""Structured logs: one line per significant event, as JSON or as `key=value` text, secrets masked.

Call sites stay one line: `log = get_logger(__name__)` then `log.info("order held", reference=ref)`.
The event is a short fixed phrase (easy to grep and to count); what varies goes into fields.
Levels: `debug` for per-item detail (each push acknowledged, each retry's timing), `info` for what an
operator follows (reloads, holds, orders sent, subscriptions), `warning` for what a person must see
(exceptions raised, dead letters, refused reloads), `error` for the hub's own failures.

Secrets are kept out of log calls by construction (no call site logs a header, a config secret or a
credentialed URL). As a safety net every formatted line, tracebacks included, is searched for the
secret values the hub has read (`remember_secret`, called where secrets are read) and each is masked.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO, Any, Literal

LogLevel = Literal["debug", "info", "warning", "error"]
LogFormat = Literal["console", "json"]
MASK = "[redacted]"
_HANDLER_NAME = "stockbridge"
_MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words; no real credential is this short

_secrets: set[str] = set()
_secrets_lock = threading.Lock()


def remember_secret(value: str) -> None:
    """A value that must never appear in a log line."""
    if len(value) >= _MIN_SECRET_LENGTH:
        with _secrets_lock:
            _secrets.add(value)


def redact(text: str) -> str:
    with _secrets_lock:
        known = sorted(_secrets, key=len, reverse=True)  # longest first: one secret may contain another
    for value in known:
        if value in text:
            text = text.replace(value, MASK)
    return text


class EventLogger:
    """A logger whose calls take an event phrase and keyword fields."""

    def __init__(self, name: str) -> None:
        self._logger = logging.getLogger(name)

    def debug(self, event: str, **fields: object) -> None:
        self._log(logging.DEBUG, event, fields)

    def info(self, event: str, **fields: object) -> None:
        self._log(logging.INFO, event, fields)

    def warning(self, event: str, **fields: object) -> None:
        self._log(logging.WARNING, event, fields)

    def error(self, event: str, **fields: object) -> None:
        self._log(logging.ERROR, event, fields)

    def exception(self, event: str, **fields: object) -> None:
        """An error with the traceback of the exception being handled."""
        self._log(logging.ERROR, event, fields, exc_info=True)

    def _log(self, level: int, event: str, fields: dict[str, object], exc_info: bool = False) -> None:
        if self._logger.isEnabledFor(level):
            # stacklevel 3: the caller of info()/warning(), not this helper.
            self._logger.log(level, event, extra={"fields": fields}, exc_info=exc_info, stacklevel=3)


def get_logger(name: str) -> EventLogger:
    return EventLogger(name)


def attempt_failed(
    logger: EventLogger, *, work: str, entity: str, attempt: int, error: str, retry_at: datetime | None
) -> None:
    """A failed attempt of outbound work: a retry scheduled (info), or dead-lettered (warning)."""
    if retry_at is None:
        logger.warning("dead-lettered", work=work, entity=entity, attempts=attempt, error=error)
    else:
        logger.info(
            "retry scheduled", work=work, entity=entity, attempt=attempt, at=retry_at.isoformat(), error=error
        )


class StructuredFormatter(logging.Formatter):
    """Every record (the hub's and its libraries') as one line; masked before it is written."""

    def __init__(self, fmt: LogFormat = "console", *, mask_secrets: bool = True) -> None:
        super().__init__()
        self._json = fmt == "json"
        self._mask = mask_secrets  # off only in the test that proves no call site logs a secret

    def format(self, record: logging.LogRecord) -> str:
        # Masked part by part, before JSON or quoting escapes a secret into another spelling.
        mask = redact if self._mask else _unchanged
        fields = {k: _plain(v, mask) for k, v in (getattr(record, "fields", None) or {}).items()}
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        level = record.levelname.lower()
        event = mask(record.getMessage())
        trace = mask(self.formatException(record.exc_info)) if record.exc_info else None
        if self._json:
            payload: dict[str, Any] = {"ts": stamp, "level": level, "logger": record.name, "event": event}
            payload.update({k: v for k, v in fields.items() if k not in payload})
            if trace:
                payload["exc"] = trace
            return json.dumps(payload, default=str, ensure_ascii=False)
        pairs = " ".join(f"{key}={_quoted(value)}" for key, value in fields.items())
        line = f"{stamp} {level:<7} {record.name}: {event}" + (f" {pairs}" if pairs else "")
        return line + "\n" + trace if trace else line


def _unchanged(text: str) -> str:
    return text


def _plain(value: object, mask: Callable[[str], str]) -> object:
    """A field as JSON can hold it: numbers, booleans and None as they are, the rest as (masked) text."""
    if isinstance(value, int | float | bool) or value is None:
        return value
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v, mask) for v in value]
    return mask(str(value))


def _quoted(value: object) -> str:
    if isinstance(value, list | tuple | set | frozenset):
        value = ",".join(str(v) for v in value)
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if (not text or any(c in text for c in ' ="\n')) else text


def configure_logging(
    level: LogLevel = "info", fmt: LogFormat = "console", stream: IO[str] | None = None
) -> None:
    """Send every log record to `stream` (stderr) as structured lines.

    The hub's loggers (`stockbridge.*`) log at `level`; libraries only from `warning` (httpx would
    write a line per request, uvicorn one per connection), except at `debug`, where they show too,
    but for the floors in `_LIBRARY_FLOORS` (too many lines, or credentials in them).
    Calling it again replaces the handler (tests, the demo).
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == _HANDLER_NAME:
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(StructuredFormatter(fmt))
    root.addHandler(handler)
    numeric = logging.getLevelName(level.upper())
    root.setLevel(numeric if level == "debug" else logging.WARNING)
    logging.getLogger("stockbridge").setLevel(numeric)
    for library, floor in _LIBRARY_FLOORS.items():
        logging.getLogger(library).setLevel(floor)


_LIBRARY_FLOORS = {
    "sqlalchemy": logging.WARNING,  # every statement
    "httpcore": logging.INFO,  # six lines per request
    "hpack": logging.INFO,
    # Its debug lines print the TBA consumer key and token id and the signature base string.
    "oauthlib": logging.WARNING,
}


def known_secrets() -> frozenset[str]:
    """Every secret value the hub has read in this process (for the test that searches the logs)."""
    with _secrets_lock:
        return frozenset(_secrets)
