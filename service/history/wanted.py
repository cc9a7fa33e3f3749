"""What history the database asks for: one ``Wanted`` per (exchange, symbol, stream).

Read with the beat's own lenient loader (``service.db.load``) and its checks
(``check_snapshot``): a row the beat skips (a bad cell, text in
``history_since``, a malformed symbol) is skipped here too, and the beat's
reconcile names it in its log and in ``ticker-service status``.
"""

from __future__ import annotations

from service.db.load import load_rows
from service.db.session import migrated_session
from service.db.snapshot import LoadedRows, SymbolHistory, check_snapshot
from service.history.records import Stream, StreamKey, Timeframe, Wanted

# A row without history_since backfills this far back from now.
DEFAULT_HISTORY_MS = 24 * 60 * 60 * 1000


def load_wanted(database_url: str, now_ms: int) -> list[Wanted]:
    """Every enabled symbol of every enabled exchange that collects trades and/or candles.

    One Wanted per (exchange, symbol, stream), sorted; ``since_ms`` is the row's
    ``history_since``, or ``now_ms - DEFAULT_HISTORY_MS`` when NULL, never
    later than ``now_ms``. Raises DatabaseError (unmigrated or unreachable database).
    """
    with migrated_session(database_url, action="loading the wanted history") as session:
        loaded = load_rows(session)
    return wanted_from(loaded, now_ms)


def wanted_from(loaded: LoadedRows, now_ms: int) -> list[Wanted]:
    """``loaded``'s history rows whose exchange and symbol pass the beat's checks, as Wanted."""
    usable = {
        (checked.snapshot.name, symbol)
        for checked in map(check_snapshot, loaded)
        if checked.snapshot is not None
        for symbol in checked.snapshot.symbols
    }
    wanted = [
        item
        for row in loaded.history
        if (row.exchange, row.symbol) in usable
        for item in _streams(row, now_ms)
    ]
    return sorted(wanted, key=lambda item: item.key)


def _streams(row: SymbolHistory, now_ms: int) -> list[Wanted]:
    since = now_ms - DEFAULT_HISTORY_MS if row.since_ms is None else min(row.since_ms, now_ms)
    keys = []
    if row.trades:
        keys.append(StreamKey(row.exchange, row.symbol, Stream.TRADES))
    if row.candles:
        keys.append(StreamKey(row.exchange, row.symbol, Stream.CANDLES, Timeframe.M1))
    return [Wanted(key, since) for key in keys]
