"""Run an ASGI app on a real socket for the length of a test (the product's own helper)."""

from __future__ import annotations

from stockbridge.servers import serve_in_thread as run_app

__all__ = ["run_app"]
