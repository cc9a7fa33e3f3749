"""``ticker-service serve [--host 0.0.0.0] [--port $PORT]``: the Procfile's web process."""

from __future__ import annotations

import argparse
from typing import Any

from service.health.web import serve
from service.settings import Settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve", help="HTTP: /healthz, /metrics and /tickers (stops cleanly on SIGTERM)"
    )
    parser.add_argument("--host", default="0.0.0.0", help="address to bind (default 0.0.0.0)")
    parser.add_argument("--port", type=int, help="port to bind (default $PORT, else 8000)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    serve(settings, host=args.host, port=args.port or settings.port)
    return 0
