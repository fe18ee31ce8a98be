"""Clarus WMS simulator: a real HTTP server faking the Clarus warehouse management system.

It shares no code with the hub's Clarus connector; see docs/simulators/clarus.md for the API it serves.
"""

from __future__ import annotations

from .app import create_app
from .settings import ClarusSettings, FaultSettings, SettingsError

__all__ = ["ClarusSettings", "FaultSettings", "SettingsError", "create_app", "serve"]


def serve(settings: ClarusSettings | None = None, host: str = "127.0.0.1", port: int = 8081) -> None:
    """Run the simulator in the foreground until interrupted."""
    import uvicorn

    config = uvicorn.Config(
        create_app(settings or ClarusSettings()), host=host, port=port, log_level="info", access_log=False
    )
    uvicorn.Server(config).run()
