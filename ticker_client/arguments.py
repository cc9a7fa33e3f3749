"""Checking what callers pass (names, preferences, time windows); InvalidArgument names it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from service.history.records import Range
from service.settings import Settings
from ticker_client.errors import InvalidArgument
from ticker_client.history_records import Instant, instant_ms
from workers.clock import now_ms


def preference(prefer: Sequence[str]) -> list[str]:
    if isinstance(prefer, str):
        raise InvalidArgument(f"prefer={prefer!r}: expected a list of exchange names")
    for name in prefer:
        check_names(exchange=name)
    return list(dict.fromkeys(prefer))


def names_of(what: str, names: Iterable[str] | None) -> tuple[str, ...] | None:
    if names is None:
        return None
    if isinstance(names, str):
        raise InvalidArgument(f"{what}={names!r}: expected a list of names")
    chosen = tuple(dict.fromkeys(names))
    if not chosen:
        raise InvalidArgument(f"{what}=[]: name at least one, or pass None for all")
    for name in chosen:
        check_names(**{what[:-1]: name})
    return chosen


def check_names(**names: str) -> None:
    for what, value in names.items():
        if not isinstance(value, str) or not value.strip():
            raise InvalidArgument(f"{what}={value!r}: expected a non-empty name")


def check_config(settings: Settings, name: str) -> None:
    if not settings.key_prefix:
        raise InvalidArgument("prefix='': expected the service's TICKER_KEY_PREFIX")
    if not settings.stale_after_s > 0:
        raise InvalidArgument(f"stale_after_s={settings.stale_after_s!r}: expected seconds > 0")
    check_names(name=name)


def history_window(start: Instant | None, end: Instant | None) -> Range:
    """``[start, end)`` in epoch ms: from the first stored row, up to now, by default."""
    start_ms, end_ms = optional_window(start, end)
    return Range(0 if start_ms is None else start_ms, now_ms() + 1 if end_ms is None else end_ms)


def optional_window(start: Instant | None, end: Instant | None) -> tuple[int | None, int | None]:
    """``start``/``end`` in epoch ms where given (None where not), in order."""
    start_ms = None if start is None else instant_ms(start, "start")
    end_ms = None if end is None else instant_ms(end, "end")
    if start_ms is not None and end_ms is not None and end_ms < start_ms:
        raise InvalidArgument(f"end={end!r} is before start={start!r}")
    return start_ms, end_ms


def history_args(
    exchange: str, symbol: str, start: Instant | None, end: Instant | None
) -> tuple[str, str, Range]:
    """The arguments of a candles or trades read, checked: (exchange, symbol, window)."""
    check_names(exchange=exchange, symbol=symbol)
    return exchange, symbol, history_window(start, end)


def check_batch_rows(batch_rows: int) -> None:
    if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
        raise InvalidArgument(f"batch_rows={batch_rows!r}: expected a whole number >= 1")
