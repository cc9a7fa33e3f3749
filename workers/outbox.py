"""Observed ticker changes waiting for the writer: every update, in order, bounded.

Readers call ``observe`` after each ccxt await for the symbols of their own
subscription; it compares ccxt's ticker cache with what was last observed, so a
frame that arrived while the job was busy (ccxt conflates) is still seen, and
stamps our receipt time right there. The writer ``take``s everything pending
in one batch. If Redis falls behind, the outbox keeps only the latest tick per
symbol once it holds ``limit`` ticks: memory stays bounded, the last value of
every symbol is never lost.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from workers.clock import now_ms
from workers.ticks import to_tick

DEFAULT_LIMIT = 50_000


class Outbox:
    def __init__(self, exchange: str, limit: int = DEFAULT_LIMIT) -> None:
        self.exchange = exchange
        self.limit = limit
        self.ready = asyncio.Event()
        self.removed: set[str] = set()
        self._seen: dict[str, Any] = {}
        self._ticks: list[dict[str, Any]] = []
        # When a change last arrived: the watchdog's measure (writes may lag under load).
        self.last_change_monotonic = time.monotonic()

    def observe(
        self, symbols: Iterable[str], latest: Mapping[str, Any], active: Collection[str]
    ) -> None:
        """Queue a tick for each active symbol whose ccxt ticker changed since last seen."""
        received_at = now_ms()
        seen, before = self._seen, len(self._ticks)
        for symbol in symbols:
            ticker = latest.get(symbol)
            # ccxt.pro replaces exchange.tickers[symbol] with a new dict per frame.
            if ticker is not None and ticker is not seen.get(symbol) and symbol in active:
                seen[symbol] = ticker
                self._ticks.append(to_tick(self.exchange, symbol, ticker, received_at))
        if len(self._ticks) > before:
            self.last_change_monotonic = time.monotonic()
            if len(self._ticks) > self.limit:
                self._ticks = _latest_per_symbol(self._ticks)
            self.ready.set()

    def take(self) -> list[dict[str, Any]]:
        """Everything pending, oldest first; the outbox is empty afterwards."""
        batch, self._ticks = self._ticks, []
        return batch

    def put_back(self, batch: list[dict[str, Any]]) -> None:
        """Return a batch that could not be written, ahead of newer ticks (latest per symbol)."""
        self._ticks = _latest_per_symbol(batch + self._ticks)
        self.ready.set()

    def forget(self, symbols: Iterable[str]) -> None:
        """Drop removed symbols' pending ticks; the writer deletes them from the store."""
        gone = set(symbols)
        self._ticks = [tick for tick in self._ticks if tick["symbol"] not in gone]
        for symbol in gone:
            self._seen.pop(symbol, None)
        self.removed |= gone
        self.ready.set()

    def take_removed(self) -> list[str]:
        removed, self.removed = sorted(self.removed), set()
        return removed

    def new_feed(self) -> None:
        """A rebuilt client has new ticker objects: compare against nothing."""
        self._seen = {}


def _latest_per_symbol(ticks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return list({tick["symbol"]: tick for tick in ticks}.values())
