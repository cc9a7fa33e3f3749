"""Unsubscribing some symbols of a ccxt ticker watch, on the connection that carries them.

ccxt's ``un_watch_tickers(symbols)`` sends the exchange's own unsubscribe and,
on its answer, forgets the subscriptions (so watching a symbol again subscribes
it again) and rejects their pending watches with ``UnsubscribeError``. Most
ccxt exchanges keep one websocket URL per market type, so that works for any
subset of what was watched. ccxt's binance family instead picks the connection
(``/stream/<n>``) by the exact symbol list of the call: a subset gets a new
connection, where its UNSUBSCRIBE unsubscribes nothing (ccxt 4.5.90).
``pin_subsets`` makes the subsets use the connection of the list they came from.

Shown over real sockets for binance and okx (the simulator's protocols); every other
exchange whose ccxt class has the capability gets the same calls. Without it (kraken,
gate, bitget, kucoin's ``watch_tickers``...) nothing is unsubscribed: see ``Feed.remove``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# Read method -> the ccxt method that undoes it and the capability it needs.
UNWATCH_METHODS = {
    "watch_tickers": ("un_watch_tickers", "unWatchTickers"),
    "watch_ticker": ("un_watch_ticker", "unWatchTicker"),
}


def can_unwatch(exchange: Any, method: str) -> bool:
    """Whether ccxt can unsubscribe what ``method`` (a ``read_method`` answer) subscribed."""
    undo = UNWATCH_METHODS.get(method)
    return undo is not None and bool(exchange.has.get(undo[1]))


async def unwatch(
    exchange: Any, method: str, symbols: Sequence[str], params: dict[str, Any]
) -> None:
    """Unsubscribe ``symbols``; returns when the exchange confirmed. ccxt errors propagate."""
    name = UNWATCH_METHODS[method][0]
    if method == "watch_ticker":
        for symbol in symbols:
            await getattr(exchange, name)(symbol, params)
    else:
        await getattr(exchange, name)(list(symbols), params)


def pin_subsets(
    exchange: Any, params: dict[str, Any], watched: Sequence[str], *subsets: Sequence[str]
) -> bool:
    """Route later (un)watches of each of ``subsets`` to the connection of ``watched``.

    Returns False when ccxt routes by list and ``watched`` was never watched (it has no
    connection: nothing to unsubscribe there), else True.

    Only ccxt's binance family routes by symbol list (its ``streamBySubscriptionsHash``
    option, keyed ``<channel>::<symbols>`` as ``watch_multi_ticker_helper`` builds it);
    elsewhere this does nothing. ``watched``'s own key is dropped (that list is not
    watched again); a subset's key stays (a few bytes per removal): watching that list
    again later simply subscribes it on the same connection.
    """
    streams = exchange.options.get("streamBySubscriptionsHash")
    if not isinstance(streams, dict):
        return True
    # The channel as binance's watch_tickers chooses it (its own default: miniTicker).
    channel = exchange.handle_option_string_and_params(
        params, "watchTickers", "name", "miniTicker"
    )[0]
    stream = streams.pop(_key(channel, watched), None)
    if stream is None:
        return False
    for subset in subsets:
        if subset:
            streams[_key(channel, subset)] = stream
    return True


def _key(channel: str, symbols: Sequence[str]) -> str:
    return f"{channel}::{','.join(symbols)}"
