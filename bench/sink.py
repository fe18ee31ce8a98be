"""The far API of the peer benchmark: a tiny HTTP/1.1 server that answers 200 and counts the calls.

It stands for the API a naive forwarder calls once per event. Raw asyncio (uvloop when available),
keep-alive, Content-Length bodies only, so it costs the forwarder's machine as little as it can.
`GET /count` answers the number of calls taken so far (not counted itself).

    python bench/sink.py --port P
"""

from __future__ import annotations

import argparse
import asyncio

_OK = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 14\r\n\r\n{"accepted":1}'


class Sink:
    def __init__(self) -> None:
        self.calls = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
                if head.startswith(b"GET /count"):
                    body = str(self.calls).encode()
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
                else:
                    self.calls += 1
                    writer.write(_OK)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _main(port: int) -> None:
    sink = Sink()
    server = await asyncio.start_server(sink.serve, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    try:
        import uvloop

        uvloop.run(_main(port))
    except ImportError:
        asyncio.run(_main(port))


if __name__ == "__main__":
    main()
