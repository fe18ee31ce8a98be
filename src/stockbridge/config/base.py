"""Shared pieces of the configuration models: the error that names file and key, the frozen base."""

from __future__ import annotations

from pydantic import (
    BaseModel,
    ConfigDict,
)

DEFAULT_DATABASE_URL = "sqlite:///stockbridge.db"
DATABASE_URL_ENV = "STOCKBRIDGE_DATABASE_URL"


class ConfigError(Exception):
    """A configuration problem, located by file and key."""

    def __init__(self, file: str, key: str, message: str) -> None:
        super().__init__(f"{file}: {key}: {message}")
        self.file = file
        self.key = key
        self.message = message


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
