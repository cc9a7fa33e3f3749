"""``HISTORY_RETENTION_DAYS`` as the beat applies it: old trades dropped, never fetched again.

The beat's history pass drops the trades partitions older than the cutoff
(``HistoryStore.apply_retention``: whole months, Postgres only) at most once an
hour, and plans trades from ``max(history_since, now - retention)`` on, so the
months just dropped (which the ledger forgets with them) are not backfilled
again. Candles are not dropped (one row a minute), so their ``since`` stands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from service.history.records import Stream, Wanted
from service.logs import get_logger

log = get_logger(__name__)

DAY_MS = 24 * 60 * 60 * 1000
# Partitions are whole months: once an hour is soon enough, and cheap.
RETENTION_EVERY_MS = 60 * 60 * 1000

DropOld = Callable[[int | None, int], list[str]]  # HistoryStore.apply_retention(days, now)


@dataclass
class Retention:
    """Keep ``days`` of trades: what the planner asks for, and when to drop the rest."""

    days: int
    drop: DropOld
    every_ms: int = RETENTION_EVERY_MS
    due_ms: int = 0

    def cutoff_ms(self, now_ms: int) -> int:
        """Trades before this are not kept (nor fetched)."""
        return now_ms - self.days * DAY_MS

    def since_ms(self, wanted: Wanted, now_ms: int) -> int:
        """Where ``wanted`` is backfilled from: never before the cutoff for trades."""
        if wanted.key.stream != Stream.TRADES:
            return wanted.since_ms
        return max(wanted.since_ms, self.cutoff_ms(now_ms))

    def apply(self, now_ms: int) -> list[str]:
        """Drop what is older than the cutoff, at most once every ``every_ms``; the partitions
        dropped. Raises DatabaseError (and tries again at the next call)."""
        if now_ms < self.due_ms:
            return []
        dropped = self.drop(self.days, now_ms)
        self.due_ms = now_ms + self.every_ms
        if dropped:
            log.info("history retention dropped trades", partitions=dropped, days=self.days)
        return dropped
