"""Prometheus metrics of market history, read from Redis on every scrape.

Per stream (labels exchange, symbol, stream): the lag of its gap-free history
behind now, its open gap minutes and gaps, the rows the backfill wrote, and
whether its last page failed; per exchange, the seconds left of a 429/418
backoff. A Redis that does not answer yields ``ticker_history_up 0``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from service.errors import StoreError
from service.history.health import HistoryHealth
from service.logs import get_logger

log = get_logger(__name__)

STREAM_LABELS = ["exchange", "symbol", "stream"]


class HistoryCollector(Collector):
    """Yields the history metrics of one freshly loaded ``HistoryHealth`` per scrape."""

    def __init__(self, load: Callable[[], HistoryHealth]) -> None:
        self._load = load

    def describe(self) -> list[Metric]:
        return []  # registering must not read Redis

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("ticker_history_up", "1 when the history state could be read")
        try:
            health = self._load()
        except StoreError as exc:
            log.warning("metrics: history state unreadable", error=str(exc))
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from history_metrics(health)


def history_metrics(health: HistoryHealth) -> Iterator[Metric]:
    """Every history metric of ``health``."""
    lag = _gauge("ticker_history_lag_seconds", "gap-free history's distance behind now")
    gap = _gauge("ticker_history_gap_minutes", "minutes of the wanted range not complete")
    gaps = _gauge("ticker_history_gaps", "separate gaps in the wanted range")
    written = CounterMetricFamily(
        "ticker_history_rows_written", "rows the backfill newly wrote", labels=STREAM_LABELS
    )
    failing = _gauge("ticker_history_failed_attempts", "failed pages in a row (0: last one ok)")
    attempts = {r.stream: r.attempts for r in health.failing}
    for s in health.streams:
        labels = [s.exchange, s.symbol, s.kind]
        lag.add_metric(labels, s.lag_s(health.at_ms))
        gap.add_metric(labels, s.gap_minutes)
        gaps.add_metric(labels, s.gaps)
        written.add_metric(labels, health.written.get(s.stream, 0))
        failing.add_metric(labels, attempts.get(s.stream, 0))
    yield from (lag, gap, gaps, written, failing)
    backoff = GaugeMetricFamily(
        "ticker_history_backoff_seconds",
        "seconds left of an exchange's backoff after a 429/418 answer",
        labels=["exchange", "status"],
    )
    for b in health.backoffs:
        left = max(0.0, (b.until_ms - health.at_ms) / 1000)
        backoff.add_metric([b.exchange, str(b.status)], left)
    yield backoff


def _gauge(name: str, documentation: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=STREAM_LABELS)
