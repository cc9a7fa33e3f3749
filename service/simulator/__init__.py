"""A local exchange simulator that ccxt's real clients run against unmodified.

It speaks one real exchange protocol per process/port (Binance spot or OKX
spot: REST market and ticker endpoints, websocket ticker streams) over a
simulated market of N spot symbols (``BTC/USDT``, ``ETH/USDT``, ... then
``C0001/USDT``...) or of the symbols named, each with a random-walk ticker sent
at ``rate`` events/s per subscribed symbol (0 = as fast as possible). A replayed
stream sends recorded frames instead (e.g. ccxt's own test recordings), as they
are, to each subscriber. ccxt is pointed at it only through constructor config:
``ccxt_params(protocol, host, port)``.

Python API::

    async with Simulator("binance", symbols=50, rate=10, seed=1) as sim:
        exchange = ccxt.pro.binance(ccxt_params("binance", sim.host, sim.port))
        ...
        sim.pause(); sim.last_sent["BTC/USDT"]["bid"]

    replay = {"btcusdt@miniTicker": [{"e": "24hrMiniTicker", "E": 1786539510015, ...}]}
    async with Simulator("binance", symbols=["BTC/USDT"], replay=replay) as sim:
        ...

Control API (HTTP on the same port, JSON answers)::

    GET  /_sim/state                 counts and switches: connections, connections_total,
                                     subscriptions, events_sent, events_sent_by_symbol
                                     (per unified symbol), rate, paused, stalled, drops,
                                     drop_every_s, symbols, protocol, replayed_streams,
                                     budget {weight, window_s, ban_after, ban_s,
                                     banned_until_ms, bans, max_window_weight, windows:
                                     [{start_ms, weight, endpoints: {NAME: {requests,
                                     weight, limited, banned, failed}}}] (last 120)},
                                     faults {every, next, statuses, history_requests,
                                     failed}
    GET  /_sim/last[?symbols=A,B]    per unified symbol, the ticker last sent: symbol,
                                     timestamp (event time, ms), bid, ask, last, open,
                                     high, low, bidVolume, askVolume, baseVolume,
                                     quoteVolume, change, percentage, count
    GET  /_sim/symbols               the unified symbols served
    POST /_sim/stall                 stop sending events; sockets stay open, pings and
                                     subscriptions are still answered
    POST /_sim/pause                 stop sending events so the last values stay final
    POST /_sim/resume                undo stall and pause
    POST /_sim/drop                  close every websocket now (close code 1001)
    POST /_sim/rate?value=R          events/s per subscribed symbol (0 = full rate)
    POST /_sim/drop-every?value=S    close every websocket every S seconds (0 = off)
    POST /_sim/budget?weight=N[&window=S][&ban_after=K][&ban=S]
                                     REST request weight allowed per window (default 60 s;
                                     Binance weights: klines 2, aggTrades 2,
                                     historicalTrades 25, exchangeInfo 20; OKX: 1 a
                                     request). Over it: 429 with Retry-After (Binance -1003,
                                     OKX 50011); after K more requests ignoring it (default
                                     5) a ban: 418 with Retry-After for S s (default 120),
                                     doubling per ban up to 3 days. weight=0: unlimited.
                                     Clears a ban. Binance answers carry
                                     X-MBX-USED-WEIGHT-1M
    POST /_sim/faults?every=N[&next=K][&status=500,503]
                                     fail every N-th history request (klines, aggTrades,
                                     historicalTrades; OKX candles and trades) and the next
                                     K ones with these statuses in turn; counting restarts
                                     here, so a page asked again after a failure succeeds
                                     (N >= 2) with the same answer. every=0: off
    POST /_sim/replay                body {"stream": NAME, "frames": [...]}: send these frames,
                                     as they are and in order, to the stream's subscribers
                                     now and to each later one, instead of generated ones.
                                     NAME: Binance ``btcusdt@ticker`` / ``btcusdt@miniTicker``
                                     (raw events; wrapped on ``/stream`` connections), OKX
                                     ``tickers:BTC-USDT``. Answers {"stream", "subscribers"}

History (``history.py``, a pure function of symbol and time; ``pages.py`` cuts it
at now): REST Binance ``/api/v3/klines``, ``/aggTrades``, ``/historicalTrades``
(``binance_history.py``), OKX ``/api/v5/market/history-candles``, ``/candles``,
``/history-trades``, ``/trades`` (``okx_history.py``)::

    history.trades_between("BTC/USDT", start_ms, end_ms)   # [Trade], ids sequential
    history.trades_from_id("BTC/USDT", 14452551, 1000)
    history.klines_between("BTC/USDT", start_ms, end_ms)   # [Candle], no empty minutes

Run it: ``ticker-service simulate --port 8901 --symbols 100 --rate 5`` (or
``--symbols BTC/USDT,ETH/BTC``, ``--replay frames.json``, ``--weight-budget 6000``,
``--fail-every 7``) or
``python -m service.simulator ...`` (same options).
"""

from __future__ import annotations

from service.simulator.params import ccxt_params
from service.simulator.server import PROTOCOLS, Simulator

__all__ = ["PROTOCOLS", "Simulator", "ccxt_params"]
