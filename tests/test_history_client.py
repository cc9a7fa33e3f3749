"""The history ccxt client: ccxt's real sync client, every HTTP request through the shared budget.

Against the project's simulator (markets, tickers) and a bare HTTP server that
answers 429, both over real sockets, with a real Redis.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator

import ccxt
import pytest

from service.errors import ConfigError
from service.history.budget import RequestBudget, budget_spec
from service.history.client import (
    ExchangeConfig,
    gated_client,
    requests_per_minute,
    rest_client,
    retry_after_s,
)
from service.simulator.params import ccxt_params
from service.simulator.testing import SimulatorThread


@pytest.fixture
def budgets(redis_client, keys):
    made: list[RequestBudget] = []

    def budget_for(exchange: str, spec) -> RequestBudget:  # type: ignore[no-untyped-def]
        made.append(RequestBudget(redis_client, keys, exchange, spec))
        return made[-1]

    budget_for.made = made  # type: ignore[attr-defined]
    return budget_for


def test_every_request_waits_for_a_token_from_the_shared_bucket(budgets):
    with SimulatorThread("binance", symbols=3, rate=1) as sim:
        config = ExchangeConfig("sim", "binance", ccxt_params("binance", sim.host, sim.port), 120)
        client = gated_client(config, budgets, token_wait_s=10)
        assert client.enableRateLimit is False  # the shared bucket paces, not ccxt's own
        started = time.monotonic()
        client.load_markets()  # 1 request (exchangeInfo)
        symbol = client.symbols[0]
        for _ in range(3):
            client.fetch_ticker(symbol)  # 3 more
        took = time.monotonic() - started
    # 120 a minute: a burst of 2, then one every ~0.51 s: 4 requests take at least ~1 s.
    assert took >= 0.9
    assert budgets.made[0].spec == budget_spec(120)


class TooMany(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(429)
        self.send_header("Retry-After", "3")
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"code":-1003,"msg":"Too many requests."}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def too_many() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), TooMany)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_a_429_backs_the_whole_exchange_off_for_retry_after(too_many, budgets, redis_client, keys):
    params = ccxt_params("binance", "127.0.0.1", 1)
    params["urls"]["api"]["public"] = f"{too_many}/api/v3"
    client = gated_client(ExchangeConfig("sim", "binance", params, 600), budgets, token_wait_s=10)
    with pytest.raises(ccxt.DDoSProtection):  # ccxt: binance 429 and 418 alike
        client.load_markets()
    left_ms = redis_client.pttl(keys.request_backoff("sim"))
    assert 2500 < left_ms <= 3000
    # Another worker's bucket of the same exchange grants nothing meanwhile.
    other = RequestBudget(redis_client, keys, "sim", budget_spec(600))
    assert other.try_take()[0] is False


def test_the_default_budget_is_ccxts_rate_limit_and_the_row_overrides_it():
    client = rest_client(ExchangeConfig("b", "binance"))
    assert requests_per_minute(ExchangeConfig("b", "binance"), client) == 1200
    assert requests_per_minute(ExchangeConfig("b", "binance", {}, 300), client) == 300
    slow = ExchangeConfig("b", "binance", {"rateLimit": 500})
    assert requests_per_minute(slow, rest_client(slow)) == 120


def test_an_unknown_ccxt_id_is_a_clear_error_naming_the_exchange():
    with pytest.raises(ConfigError, match="exchange sim: unknown ccxt id 'nope'"):
        rest_client(ExchangeConfig("sim", "nope"))


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [({"Retry-After": "120"}, 120.0), ({}, None), ({"Retry-After": "soon"}, None), (None, None)],
)
def test_retry_after_is_read_in_seconds(headers, seconds):
    assert retry_after_s(headers) == seconds
