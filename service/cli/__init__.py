"""``ticker-service``: the operator CLI.

Each sub-command lives in its own module of this package with a
``register(subparsers)`` function that adds its parser and sets ``func``
(called with the parsed args and the settings; it returns the exit code).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from service.errors import TickerServiceError
from service.logs import configure_logging
from service.settings import Settings

COMMAND_MODULES = (
    "db",
    "exchanges",
    "symbols",
    "candles",
    "trades",
    "price",
    "coverage",
    "status",
    "serve",
    "simulate",
    "dev",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ticker-service", description="Operate ticker-service: live exchange tickers in Redis."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        configure_logging(settings.log_format, settings.log_level)
        return int(args.func(args, settings) or 0)
    except TickerServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
