"""``ticker-service coverage``: the ledger as a table and as JSON (pure rendering of Coverage).

The command itself reads the STORE helper's ledger; its run against a real
database is in tests/test_history_backfill_e2e.py.
"""

from __future__ import annotations

import json

from service.cli import build_parser
from service.cli.coverage import iso, render_json, render_table
from service.history.records import MINUTE_MS, Coverage, Gap, GapReason, Range
from tests.history_keys import CANDLES, T0, TRADES

WANTED = Range(T0, T0 + 60 * MINUTE_MS)


def ledger() -> list[Coverage]:
    failed = Gap(Range(T0 + 10 * MINUTE_MS, T0 + 12 * MINUTE_MS), GapReason.FETCH_FAILED,
                 "ExchangeNotAvailable: 503\nService Unavailable")  # fmt: skip
    never = Gap(Range(T0 + 50 * MINUTE_MS, WANTED.end_ms), GapReason.NOT_FETCHED)
    complete = (Range(T0, T0 + 10 * MINUTE_MS), Range(T0 + 12 * MINUTE_MS, T0 + 50 * MINUTE_MS))
    return [
        Coverage(CANDLES, WANTED, (WANTED,), (), WANTED.end_ms - MINUTE_MS),
        Coverage(TRADES, WANTED, complete, (failed, never), T0 + 49 * MINUTE_MS),
    ]


def test_the_table_shows_each_stream_and_every_gap_with_its_reason_and_error():
    out = render_table(ledger()).splitlines()
    assert out[0].split()[:4] == ["EXCHANGE", "SYMBOL", "STREAM", "SINCE"]
    assert "candles:1m" in out[1] and "complete" in out[1] and out[1].endswith("0")
    assert "trades" in out[2] and "2025-12-01T00:10:00Z" in out[2] and out[2].endswith("12")
    assert out[3] == (
        "    gap 2025-12-01T00:10:00Z .. 2025-12-01T00:12:00Z fetch-failed: "
        "ExchangeNotAvailable: 503 Service Unavailable"
    )
    assert out[4] == "    gap 2025-12-01T00:50:00Z .. 2025-12-01T01:00:00Z not-fetched"


def test_json_has_every_range_in_epoch_ms():
    data = json.loads(render_json(ledger(), now=WANTED.end_ms))
    trades = data["streams"][1]
    assert trades["gap_minutes"] == 12 and trades["complete_until_ms"] == T0 + 10 * MINUTE_MS
    assert trades["gap_list"][0] == {
        "start_ms": T0 + 10 * MINUTE_MS,
        "end_ms": T0 + 12 * MINUTE_MS,
        "reason": "fetch-failed",
        "error": "ExchangeNotAvailable: 503\nService Unavailable",
    }
    assert data["streams"][0]["timeframe"] == "1m" and data["streams"][0]["gap_list"] == []


def test_nothing_collected_says_how_to_collect():
    assert "--trades/--candles" in render_table([])


def test_times_are_utc_with_z_and_none_is_a_dash():
    assert (iso(T0), iso(None)) == ("2025-12-01T00:00:00Z", "-")


def test_the_command_takes_an_optional_exchange_and_symbol():
    args = build_parser().parse_args(["coverage", "binance", "BTC/USDT", "--json"])
    assert (args.exchange, args.symbol, args.json) == ("binance", "BTC/USDT", True)
    assert build_parser().parse_args(["coverage"]).exchange is None
