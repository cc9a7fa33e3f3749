"""``ticker-service trades EXCHANGE SYMBOL [--from T] [--to T] [--format table|csv|json]``.

Stored public trades, by time then id, streamed (csv columns
``id,timestamp,price,amount,side``).
"""

from __future__ import annotations

import argparse
from typing import Any

from service.cli.history_output import Layout, add_read_options, number, print_history, time_cell
from service.history.records import Stream, StreamKey
from service.history.store import HistoryStore
from service.settings import Settings

LAYOUT = Layout(
    fields=("id", "timestamp", "price", "amount", "side"),
    values=lambda t: (t.id, t.timestamp, t.price, t.amount, t.side),
    table_headers=("TIME (UTC)", "ID", "PRICE", "AMOUNT", "SIDE"),
    table_widths=(-24, -20, 14, 16, -4),
    cells=lambda t: (time_cell(t.timestamp), t.id, number(t.price), number(t.amount), t.side or ""),
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("trades", help="print stored public trades of one symbol")
    add_read_options(parser, "trade")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    key = StreamKey(args.exchange, args.symbol, Stream.TRADES)
    return print_history(args, settings.database_url, key, HistoryStore.iter_trades, LAYOUT)
