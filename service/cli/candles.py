"""``ticker-service candles EXCHANGE SYMBOL [--from T] [--to T] [--format table|csv|json]``.

Stored 1m candles, oldest first, streamed (csv columns
``open_time,open,high,low,close,volume,closed``).
"""

from __future__ import annotations

import argparse
from typing import Any

from service.cli.history_output import Layout, add_read_options, number, print_history, time_cell
from service.history.records import Stream, StreamKey, Timeframe
from service.history.store import HistoryStore
from service.settings import Settings

LAYOUT = Layout(
    fields=("open_time", "open", "high", "low", "close", "volume", "closed"),
    values=lambda c: (c.open_time, c.open, c.high, c.low, c.close, c.volume, c.closed),
    table_headers=("OPEN TIME (UTC)", "OPEN", "HIGH", "LOW", "CLOSE", "VOLUME", "CLOSED"),
    table_widths=(-24, 14, 14, 14, 14, 16, -6),
    cells=lambda c: (
        time_cell(c.open_time), *map(number, (c.open, c.high, c.low, c.close, c.volume)),
        "yes" if c.closed else "no",
    ),
)  # fmt: skip


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("candles", help="print stored 1m candles of one symbol")
    add_read_options(parser, "candle's open")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    key = StreamKey(args.exchange, args.symbol, Stream.CANDLES, Timeframe.M1)
    return print_history(args, settings.database_url, key, HistoryStore.iter_candles, LAYOUT)
