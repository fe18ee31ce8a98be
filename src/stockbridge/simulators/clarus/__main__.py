"""python -m stockbridge.simulators.clarus --port 8081 [--webhook-url U --webhook-secret S --api-key K]
[--ship-method STD --ship-method NDAY ...] [fault rates]"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from . import ClarusSettings, FaultSettings, serve


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m stockbridge.simulators.clarus", description="Run the Clarus WMS simulator."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--api-key", default=ClarusSettings.api_key)
    parser.add_argument(
        "--warehouse",
        action="append",
        dest="warehouses",
        metavar="ID",
        help="warehouse id (repeatable; default WH1)",
    )
    parser.add_argument(
        "--ship-method",
        action="append",
        dest="ship_methods",
        metavar="CODE",
        help="service code orders may use (repeatable; default STD, NDAY, EXP, INTL)",
    )
    parser.add_argument("--webhook-url")
    parser.add_argument("--webhook-secret")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=16)
    for rate in ("duplicate", "reorder", "failure", "drop", "create-timeout"):
        parser.add_argument(f"--{rate}-rate", type=float, default=0.0)
    parser.add_argument("--delay-ms", type=int, nargs=2, default=(0, 0), metavar=("MIN", "MAX"))
    args = parser.parse_args(argv)
    try:
        settings = ClarusSettings(
            api_key=args.api_key,
            warehouses=tuple(args.warehouses or ("WH1",)),
            webhook_url=args.webhook_url,
            webhook_secret=args.webhook_secret,
            seed=args.seed,
            concurrency=args.concurrency,
            ship_methods=tuple(args.ship_methods or ClarusSettings.ship_methods),
            faults=FaultSettings(
                duplicate_rate=args.duplicate_rate,
                reorder_rate=args.reorder_rate,
                failure_rate=args.failure_rate,
                drop_rate=args.drop_rate,
                create_timeout_rate=args.create_timeout_rate,
                delay_ms=tuple(args.delay_ms),
            ),
        )
    except ValueError as exc:
        parser.error(str(exc))
    serve(settings, args.host, args.port)


if __name__ == "__main__":
    main()
