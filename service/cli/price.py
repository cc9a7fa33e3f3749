"""``ticker-service price SYMBOL [--exchange NAME] [--prefer A,B] [--json]``.

Prints every field of the latest stored tick: a compact table, or the tick as JSON.
"""

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
    parser.add_argument("--json", action="store_true", help="print the whole tick as JSON")
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


# The table's lines, by stored field; tests keep it covering every field of a tick.
TABLE = (
    ("last", "bid", "bid_volume", "ask", "ask_volume"),
    ("open", "high", "low", "close", "previous_close"),
    ("change", "percentage", "average", "vwap"),
    ("base_volume", "quote_volume", "index_price", "mark_price"),
    ("timestamp", "received_at"),
)
TIMES = ("timestamp", "received_at")


def format_tick(tick: dict[str, Any]) -> str:
    """A compact table of every field of ``tick``: ``label value`` pairs, ``-`` for none."""
    stale = "  STALE" if tick.get("stale") else ""
    lines = [f"{tick['exchange']} {tick['symbol']}{stale}"]
    for fields in TABLE:
        pairs = (f"{field.replace('_', ' ')} {_value(field, tick.get(field))}" for field in fields)
        lines.append("  " + "  ".join(pairs))
    return "\n".join(lines)


def _value(field: str, value: Any) -> str:
    if value is None:
        return "-"
    if field in TIMES:
        return datetime.fromtimestamp(value / 1000, UTC).isoformat(timespec="milliseconds")
    return f"{value}%" if field == "percentage" else str(value)
