"""A small HTTP/1.1 keep-alive load generator on raw asyncio streams (uvloop when available).

It sends pre-built requests, so its own cost per request is a write and a parse of the status line
and headers; the ingest benchmark shows it is not the bottleneck by driving a bare endpoint with it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass
class LoadResult:
    ok: int
    failed: int
    seconds: float

    @property
    def per_s(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


def build_request(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _connection(
    host: str, port: int, requests: Sequence[bytes], start: int, step: int, stop_at: float, counts: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    index = start
    try:
        while time.perf_counter() < stop_at and index < len(requests):
            writer.write(requests[index])
            index += step
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            counts[0 if 200 <= status < 300 else 1] += 1
    finally:
        writer.close()


async def _run(
    host: str, port: int, requests: Sequence[bytes], connections: int, seconds: float
) -> LoadResult:
    counts = [0, 0]
    began = time.perf_counter()
    stop_at = began + seconds
    await asyncio.gather(
        *(_connection(host, port, requests, i, connections, stop_at, counts) for i in range(connections))
    )
    return LoadResult(counts[0], counts[1], time.perf_counter() - began)


def drive(
    host: str, port: int, requests: Sequence[bytes], connections: int = 32, seconds: float = 5.0
) -> LoadResult:
    """Send `requests` (each at most once) over `connections` for up to `seconds`."""
    try:
        import uvloop

        return uvloop.run(_run(host, port, requests, connections, seconds))
    except ImportError:
        return asyncio.run(_run(host, port, requests, connections, seconds))
