"""The client's typed results: ``Tick`` and ``Gap``; instants as UTC epoch ms and datetimes.

Every instant is stored as UTC epoch milliseconds (``int``, the README's field
names) and offered as a timezone-aware UTC ``datetime`` beside it (the same
name with ``_utc``), computed on access so a hot loop that never asks pays nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from ticker_client.errors import BadData
from workers.ticks import TICK_FIELDS


def utc(ms: int | None) -> datetime | None:
    """UTC epoch milliseconds as a timezone-aware datetime (None stays None).

    >>> utc(1767225600000)
    datetime.datetime(2026, 1, 1, 0, 0, tzinfo=datetime.timezone.utc)
    """
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


@dataclass(frozen=True, slots=True)
class Tick:
    """The latest ticker of one (exchange, symbol), as the service stored it.

    The fields are ccxt's unified ticker in snake case (``None`` where the
    exchange gives none) around ours: ``exchange``, ``symbol`` and
    ``received_at`` (when the service got it, UTC epoch ms). ``timestamp`` is the
    exchange's own time (ms). ``stale`` is True when ``received_at`` was older
    than the client's ``stale_after_s`` at the moment it was read.

    Example::

        tick = await client.get("binance", "BTC/USDT")
        print(tick.last, tick.bid, tick.ask, tick.received_at_utc, tick.stale)
    """

    exchange: str
    symbol: str
    timestamp: int | None
    high: float | None
    low: float | None
    bid: float | None
    bid_volume: float | None
    ask: float | None
    ask_volume: float | None
    vwap: float | None
    open: float | None
    close: float | None
    last: float | None
    previous_close: float | None
    change: float | None
    percentage: float | None
    average: float | None
    base_volume: float | None
    quote_volume: float | None
    index_price: float | None
    mark_price: float | None
    received_at: int
    stale: bool = False

    @property
    def timestamp_utc(self) -> datetime | None:
        """``timestamp`` (the exchange's time) as a UTC datetime, None when it gave none."""
        return utc(self.timestamp)

    @property
    def received_at_utc(self) -> datetime:
        """``received_at`` (when the service received the tick) as a UTC datetime."""
        return datetime.fromtimestamp(self.received_at / 1000, UTC)

    def age_s(self, now_ms: int) -> float:
        """Seconds between ``received_at`` and ``now_ms`` (UTC epoch ms)."""
        return (now_ms - self.received_at) / 1000

    def to_dict(self) -> dict[str, Any]:
        """Every field by name, ``stale`` last: the JSON ``ticker-service price --json`` shows."""
        return {name: getattr(self, name) for name in (*TICK_FIELDS, "stale")}

    @classmethod
    def from_stored(cls, data: Mapping[str, Any], *, now_ms: int, stale_after_ms: float) -> Tick:
        """The tick stored as ``data`` (one decoded JSON object); raises BadData.

        Fields an older writer did not store are None; fields a newer one added
        are ignored. Sample: ``{"exchange": "binance", "symbol": "BTC/USDT",
        "timestamp": 1767225600000, "last": 64117.99, ..., "received_at": 1767225600012}``.
        """
        try:
            received_at = int(data["received_at"])
            values = [data.get(name) for name in TICK_FIELDS]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BadData(f"a stored tick without a usable received_at: {data!r:.200}") from exc
        values[-1] = received_at
        return cls(*values, stale=now_ms - received_at > stale_after_ms)  # type: ignore[arg-type, misc]


def decode_json(raw: bytes | str, what: str) -> Any:
    """``raw`` parsed as JSON; raises BadData naming ``what``."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadData(f"{what} is not JSON: {raw!r:.120}") from exc


@dataclass(frozen=True, slots=True)
class Gap:
    """What a subscription yields when it may have missed ticks, before filling the gap.

    ``subscribe`` yields a ``Gap`` when its connection dropped (then it
    reconnected) or a message could not be read; right after it, it yields the
    ticks stored on the boards that are newer than the last it had seen for
    each symbol. ``lost_at``/``resumed_at`` are UTC epoch ms on the client's clock.

    Example::

        async for event in client.subscribe(exchanges=["binance"]):
            if isinstance(event, Gap):
                print("missed ticks for", event.duration_s, "s:", event.reason)
    """

    exchanges: tuple[str, ...] | None  # None: every exchange
    lost_at: int
    resumed_at: int
    reason: str
    attempts: int = 1

    @property
    def lost_at_utc(self) -> datetime:
        return datetime.fromtimestamp(self.lost_at / 1000, UTC)

    @property
    def resumed_at_utc(self) -> datetime:
        return datetime.fromtimestamp(self.resumed_at / 1000, UTC)

    @property
    def duration_s(self) -> float:
        return (self.resumed_at - self.lost_at) / 1000


Event = Tick | Gap
