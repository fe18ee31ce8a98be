"""Configuration that follows its file: mapping tables, owners and SKU rules reload without a restart.

A running hub re-reads its file when it changes (checked at most once a second). A new file that does
not validate is refused, the error logged with its file and key, and the last good configuration kept.
Connector and engine settings (URLs, limits, batch sizes) are read once at start: restart for those.
"""

from __future__ import annotations

import time
from pathlib import Path

from stockbridge.config import Config, ConfigError, load_config
from stockbridge.logs import get_logger

log = get_logger(__name__)


class ConfigSource:
    def __init__(self, config: Config, path: Path | None = None, check_every_s: float = 1.0) -> None:
        self._config = config
        self._path = path
        self._every = check_every_s
        self._checked = time.monotonic()
        self._mtime = path.stat().st_mtime_ns if path is not None and path.exists() else None
        self.generation = 0  # bumped on every reload, so loops can react once

    def current(self) -> Config:
        if self._path is None or time.monotonic() - self._checked < self._every:
            return self._config
        self._checked = time.monotonic()
        try:
            mtime = self._path.stat().st_mtime_ns
        except OSError:
            return self._config
        if mtime == self._mtime:
            return self._config
        self._mtime = mtime
        try:
            self._config = load_config(self._path)
        except ConfigError as exc:
            log.warning(
                "configuration refused, keeping the last good one",
                file=exc.file,
                key=exc.key,
                error=exc.message,
            )
            return self._config
        self.generation += 1
        log.info("configuration reloaded", file=str(self._path), generation=self.generation)
        return self._config
