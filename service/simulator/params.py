"""The ccxt constructor config that points ccxt's real clients at a simulator."""

from __future__ import annotations

from typing import Any


def ccxt_params(protocol: str, host: str, port: int) -> dict[str, Any]:
    """The config dict for ``ccxt.pro.<protocol>(...)`` (or ``ccxt.async_support``).

    ccxt deep-merges it into the exchange's description, so only the URLs and
    the spot-only market load change. JSON-serialisable, so it can be stored as
    an exchange row's ccxt parameters. Raises ValueError for an unknown protocol.
    """
    http, ws = f"http://{host}:{port}", f"ws://{host}:{port}"
    if protocol == "binance":
        return {
            "urls": {
                "api": {
                    "public": f"{http}/api/v3",
                    "private": f"{http}/api/v3",
                    # ccxt appends /<n>; the path must contain /stream for spot
                    "ws": {"spot": f"{ws}/stream"},
                }
            },
            # one REST call (exchangeInfo) instead of spot + futures endpoints;
            # no sapi currency or margin-pair calls even when credentials are present
            "options": {
                "fetchMarkets": {"types": ["spot"]},
                "fetchCurrencies": False,
                "fetchMargins": False,
            },
        }
    if protocol == "okx":
        return {
            # ccxt appends /public (tickers) or /business to the ws URL
            "urls": {"api": {"rest": http, "ws": f"{ws}/ws/v5"}},
            "options": {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False},
        }
    raise ValueError(f"protocol={protocol!r}: expected binance or okx")
