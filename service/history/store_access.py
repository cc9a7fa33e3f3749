"""The history store and ``load_wanted`` as the backfill side opens them."""

from __future__ import annotations

from service.history.records import Wanted
from service.history.store import HistoryStore
from service.history.wanted import load_wanted as _load_wanted


def history_store(database_url: str) -> HistoryStore:
    """``HistoryStore(database_url)``: its own engine (pool); ``close()`` when done."""
    return HistoryStore(database_url)


def load_wanted(database_url: str, now_ms: int) -> list[Wanted]:
    """Every (exchange, symbol, stream) the enabled rows collect, with its since."""
    return _load_wanted(database_url, now_ms)
