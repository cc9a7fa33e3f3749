"""The web process: ``ticker-service serve`` as a real process on a real socket, real Redis."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
import redis
from aiohttp import web
from aiohttp.test_utils import TestServer

from service.health import record_heartbeat
from service.health.web import create_app
from service.keys import Keys
from service.settings import Settings
from workers.spec import JobSpec

NOW_TICK = {"bid": 100.0, "ask": 101.0, "last": 100.5, "base_volume": 5.0, "quote_volume": 500.0}


@dataclass
class Server:
    url: str
    keys: Keys
    client: redis.Redis
    proc: subprocess.Popen[bytes]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(redis_url: str, prefix: str) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    env = {**os.environ, "REDIS_URL": redis_url, "TICKER_KEY_PREFIX": prefix, "LOG_LEVEL": "INFO"}
    command = [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1"]
    proc = subprocess.Popen(
        [*command, "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            urllib.request.urlopen(f"{url}/tickers", timeout=2).close()
            return url, proc
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    stop(proc)
    log = proc.stderr.read().decode() if proc.stderr else ""
    pytest.fail(f"ticker-service serve did not start: {log}")


def stop(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return int(proc.returncode)


@pytest.fixture(scope="module")
def server(redis_url: str) -> Iterator[Server]:
    """One server for the module, on a key prefix of its own."""
    prefix = f"test:{uuid.uuid4().hex[:12]}"
    client = redis.Redis.from_url(redis_url)
    url, proc = start_server(redis_url, prefix)
    try:
        yield Server(url=url, keys=Keys(prefix), client=client, proc=proc)
    finally:
        stop(proc)
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
        client.close()


def get(url: str) -> tuple[int, str, str]:
    """(status, content type, body) of a GET; HTTP errors are answers too."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers["Content-Type"], response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def get_json(url: str) -> tuple[int, Any]:
    status, content_type, body = get(url)
    assert content_type.startswith("application/json")
    return status, json.loads(body)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def heartbeat(job_key: str, **changes: Any) -> dict[str, Any]:
    now = now_ms()
    return {
        "job_key": job_key,
        "exchange": job_key,
        "worker_id": "w-http",
        "host": "box",
        "pid": 7,
        "state": "streaming",
        "sent_at": now,
        "symbols": ["BTC/USDT", "ETH/USDT"],
        "ticks_total": 4321,
        "ticks_per_s": 3.5,
        "last_tick_at": now,
        "symbol_last_tick_at": {"BTC/USDT": now, "ETH/USDT": now},
        "latency_p50_ms": 2.0,
        "latency_p99_ms": 30.0,
        **changes,
    }


def store_tick(server: Server, exchange: str, symbol: str, received_at: int) -> None:
    tick = {"exchange": exchange, "symbol": symbol, **NOW_TICK, "percentage": 1.0}
    tick |= {"timestamp": received_at, "received_at": received_at}
    server.client.hset(server.keys.board(exchange), symbol, json.dumps(tick))
    server.client.sadd(server.keys.exchanges(), exchange)


def test_healthz_is_503_while_a_desired_job_is_down_and_200_once_it_streams(
    server: Server,
) -> None:
    spec = JobSpec(job_key="binance", exchange="binance", ccxt_id="binance", symbols=("BTC/USDT",))
    server.client.hset(server.keys.desired(), "binance", spec.to_json())
    status, body = get_json(f"{server.url}/healthz")
    assert status == 503
    assert (body["healthy"], body["jobs"][0]["state"]) == (False, "down")
    record_heartbeat(server.client, server.keys, heartbeat("binance"), settings=Settings())
    status, body = get_json(f"{server.url}/healthz")
    assert status == 200
    assert body["healthy"] is True and body["counts"]["up"] == 1


def test_metrics_serve_tick_counters_and_job_states_from_the_registry(server: Server) -> None:
    record_heartbeat(server.client, server.keys, heartbeat("metrics-ex"), settings=Settings())
    spec = JobSpec(job_key="metrics-ex", exchange="metrics-ex", ccxt_id="x", symbols=("BTC/USDT",))
    server.client.hset(server.keys.desired(), "metrics-ex", spec.to_json())
    status, content_type, body = get(f"{server.url}/metrics")
    assert status == 200 and content_type.startswith("text/plain")
    labels = 'exchange="metrics-ex",job="metrics-ex"'
    assert f"ticker_job_ticks_total{{{labels}}} 4321.0" in body
    assert f"ticker_job_symbols{{{labels}}} 2.0" in body
    assert f'ticker_job_state{{{labels},state="up"}} 1.0' in body
    assert f'ticker_job_latency_seconds{{{labels},quantile="0.99"}} 0.03' in body
    assert "ticker_registry_up 1.0" in body
    assert 'ticker_beat_pass_ok{kind="reconcile"} 0.0' in body


def test_tickers_of_an_exchange_come_back_as_json_with_the_stale_flag(server: Server) -> None:
    store_tick(server, "kraken", "BTC/USDT", now_ms())
    store_tick(server, "kraken", "ETH/USDT", now_ms() - 3_600_000)
    status, body = get_json(f"{server.url}/tickers/kraken")
    assert status == 200
    assert body["exchange"] == "kraken"
    assert {s: t["stale"] for s, t in body["ticks"].items()} == {
        "BTC/USDT": False,
        "ETH/USDT": True,
    }
    assert "kraken" in get_json(f"{server.url}/tickers")[1]["exchanges"]


@pytest.mark.parametrize("spelling", ["BTC%2FUSDT", "BTC-USDT", "BTC/USDT"])
def test_one_ticker_is_found_however_the_slash_is_spelled(server: Server, spelling: str) -> None:
    store_tick(server, "okx", "BTC/USDT", now_ms())
    status, body = get_json(f"{server.url}/tickers/okx/{spelling}")
    assert status == 200
    assert (body["symbol"], body["last"], body["stale"]) == ("BTC/USDT", 100.5, False)


@pytest.mark.parametrize(
    "path",
    ["/tickers/okx/NOPE-USDT", "/tickers/no-such-exchange", "/nothing/here", "/healthz/extra"],
)
def test_absent_tickers_and_bad_paths_are_404_json(server: Server, path: str) -> None:
    status, body = get_json(f"{server.url}{path}")
    assert status == 404
    assert body["status"] == 404 and body["error"]


def test_sigterm_stops_the_server_cleanly(redis_url: str, key_prefix: str) -> None:
    url, proc = start_server(redis_url, key_prefix)
    assert get(f"{url}/tickers")[0] == 200
    assert stop(proc) == 0
    assert proc.stderr is not None
    log = proc.stderr.read().decode()
    assert "web stopped" in log and "Traceback" not in log


async def _fetch(app: web.Application, path: str) -> tuple[int, str]:
    """(status, body) of a GET to ``app`` served on a real local socket."""
    async with TestServer(app) as test_server, aiohttp.ClientSession() as session:
        response = await session.get(test_server.make_url(path))
        async with response:
            return response.status, await response.text()


def test_an_internal_error_is_a_500_json_without_a_traceback(redis_client: redis.Redis) -> None:
    async def broken(_request: web.Request) -> web.Response:
        raise RuntimeError("secret internals")

    app = create_app(Settings(), client=redis_client, check_transitions_every=False)
    app.router.add_get("/broken", broken)
    status, body = asyncio.run(_fetch(app, "/broken"))
    assert (status, json.loads(body)) == (500, {"error": "internal error", "status": 500})


def test_a_redis_that_does_not_answer_makes_healthz_503_and_metrics_say_so() -> None:
    settings = Settings(redis_url="redis://127.0.0.1:1/0")
    app = create_app(settings, check_transitions_every=False)
    status, body = asyncio.run(_fetch(app, "/healthz"))
    assert (status, json.loads(body)["error"]) == (503, "the Redis store does not answer")
    app = create_app(settings, check_transitions_every=False)
    status, body = asyncio.run(_fetch(app, "/metrics"))
    assert status == 200 and "ticker_registry_up 0.0" in body
