"""Run the Magento simulator: `python -m stockbridge.simulators.magento --port 8004`."""

from __future__ import annotations

import argparse
import os

from . import MagentoSettings, serve


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m stockbridge.simulators.magento", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8004)
    parser.add_argument("--store-code", action="append", help="a store view code (repeatable)")
    parser.add_argument("--source", action="append", help="an MSI source code (repeatable)")
    parser.add_argument("--calls-per-second", type=float, default=None, help="the host's rate limit")
    parser.add_argument("--fail-rate", type=float, default=0.0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    settings = MagentoSettings(
        calls_per_second=args.calls_per_second,
        fail_rate=args.fail_rate,
        latency_ms=args.latency_ms,
        seed=args.seed,
    )
    # Secrets come from the environment, as the hub's do; the default is the tests' own.
    token = os.environ.get("MAGENTO_ACCESS_TOKEN")
    if token:
        settings.tokens = [token]
    if args.store_code:
        settings.store_codes = list(args.store_code)
    if args.source:
        settings.sources = list(args.source)
    serve(settings, args.host, args.port)


if __name__ == "__main__":
    main()
