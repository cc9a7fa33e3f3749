"""``ticker-service price SYMBOL [--exchange NAME] [--prefer A,B] [--json]``."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from service.keys import Keys
from service.redis_client import sync_client
from service.settings import Settings
from service.store import TickReader


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("price", help="print the latest stored tick of a symbol")
    parser.add_argument("symbol", help="unified symbol, e.g. BTC/USDT")
    parser.add_argument("--exchange", help="only this exchange (default: the best across all)")
    parser.add_argument("--prefer", default="", help="comma-separated exchange preference")
    parser.add_argument("--json", action="store_true", help="print the tick as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    client = sync_client(settings.redis_url)
    reader = TickReader(client, Keys(settings.key_prefix), stale_after_s=settings.stale_after_s)
    if args.exchange:
        tick = reader.get(args.exchange, args.symbol)
    else:
        prefer = [name for name in args.prefer.split(",") if name]
        tick = reader.get_price(args.symbol, prefer=prefer)
    if tick is None:
        where = f" on {args.exchange}" if args.exchange else ""
        print(f"no tick stored for {args.symbol}{where}")
        return 1
    print(json.dumps(tick) if args.json else format_tick(tick))
    return 0


def format_tick(tick: dict[str, Any]) -> str:
    received_at = datetime.fromtimestamp(tick["received_at"] / 1000, UTC)
    received = received_at.isoformat(timespec="milliseconds")
    stale = "  STALE" if tick.get("stale") else ""
    return (
        f"{tick['exchange']:<12} {tick['symbol']:<12} bid {tick['bid']}  ask {tick['ask']}  "
        f"last {tick['last']}  change {tick['percentage']}%  received {received}{stale}"
    )
