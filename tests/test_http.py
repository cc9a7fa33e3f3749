"""The web process: ``ticker-service serve`` as a real process on a real socket, real Redis."""

from __future__ import annotations

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


def start_server(
    redis_url: str, prefix: str, **more_env: str
) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    env = {**os.environ, "REDIS_URL": redis_url, "TICKER_KEY_PREFIX": prefix, "LOG_LEVEL": "INFO"}
    env.update(more_env)
    command = [sys.executable, "-m", "service.cli", "serve", "--host", "127.0.0.1"]
    proc = subprocess.Popen(
        [*command, "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=2).close()
            return url, proc
        except urllib.error.HTTPError:
            return url, proc  # any HTTP answer (503: nothing desired yet) means it listens
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


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, str]:
    """(status, content type, body) of a GET; HTTP errors are answers too."""
    try:
        request = urllib.request.Request(url, headers=headers or {})
        with urllib.request.urlopen(request, timeout=10) as response:
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
    load = {"worker_jobs": 1, "worker_capacity": 16}
    record_heartbeat(
        server.client, server.keys, heartbeat("metrics-ex", **load), settings=Settings()
    )
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
    assert 'ticker_worker_jobs{worker="w-http"} 1.0' in body
    assert 'ticker_worker_capacity{worker="w-http"} 16.0' in body


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


async def test_an_internal_error_is_a_500_json_without_a_traceback(
    redis_client: redis.Redis,
) -> None:
    async def broken(_request: web.Request) -> web.Response:
        raise RuntimeError("secret internals")

    app = create_app(Settings(), client=redis_client, check_transitions_every=False)
    app.router.add_get("/broken", broken)
    status, body = await _fetch(app, "/broken")
    assert (status, json.loads(body)) == (500, {"error": "internal error", "status": 500})


async def test_a_redis_that_does_not_answer_makes_healthz_503_and_metrics_say_so() -> None:
    settings = Settings(redis_url="redis://127.0.0.1:1/0")
    app = create_app(settings, check_transitions_every=False)
    status, body = await _fetch(app, "/healthz")
    assert (status, json.loads(body)["error"]) == (503, "the Redis store does not answer")
    app = create_app(settings, check_transitions_every=False)
    status, body = await _fetch(app, "/metrics")
    assert status == 200 and "ticker_registry_up 0.0" in body


# ---------------------------------------------------------------- WEB_TOKEN

# Fixed, not random: parametrize ids carry it and every xdist worker must collect the same.
WEB_TOKEN = "tok-6f1c0e5b9d2a47e3a8c4"


@pytest.fixture(scope="module")
def private_server(redis_url: str) -> Iterator[Server]:
    """A server started with WEB_TOKEN set; its stderr is read after it stops."""
    prefix = f"test:{uuid.uuid4().hex[:12]}"
    client = redis.Redis.from_url(redis_url)
    url, proc = start_server(redis_url, prefix, WEB_TOKEN=WEB_TOKEN, LOG_LEVEL="DEBUG")
    try:
        yield Server(url=url, keys=Keys(prefix), client=client, proc=proc)
    finally:
        stop(proc)
        client.close()


@pytest.mark.parametrize("path", ["/metrics", "/tickers", "/tickers/binance", "/tickers/a/B-C"])
@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong", f"Basic {WEB_TOKEN}", f"Bearer {WEB_TOKEN}x"]
)
def test_with_web_token_private_routes_answer_401_without_the_right_bearer_token(
    private_server: Server, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    try:
        urllib.request.urlopen(
            urllib.request.Request(private_server.url + path, headers=headers), timeout=10
        )
        pytest.fail(f"{path} answered without the right token")
    except urllib.error.HTTPError as exc:
        assert exc.code == 401
        assert exc.headers["WWW-Authenticate"].startswith("Bearer")
        assert json.loads(exc.read()) == {
            "error": "a bearer token is required (WEB_TOKEN)",
            "status": 401,
        }


def test_with_web_token_the_right_token_opens_metrics_and_tickers(private_server: Server) -> None:
    bearer = {"Authorization": f"Bearer {WEB_TOKEN}"}
    status, content_type, body = get(private_server.url + "/metrics", bearer)
    assert (status, content_type.split(";")[0]) == (200, "text/plain")
    assert "ticker_jobs" in body
    status, _, body = get(private_server.url + "/tickers", bearer)
    assert (status, json.loads(body)) == (200, {"exchanges": []})
    status, _, _ = get(private_server.url + "/tickers/nowhere", bearer)
    assert status == 404  # past the token check: the usual answer


def test_with_web_token_healthz_stays_open_for_the_platform_probe(private_server: Server) -> None:
    status, body = get_json(private_server.url + "/healthz")
    assert status == 503  # nothing desired: unhealthy, but answered, not 401
    assert body["healthy"] is False


def test_the_web_token_never_reaches_the_log(redis_url: str) -> None:
    prefix = f"test:{uuid.uuid4().hex[:12]}"
    url, proc = start_server(redis_url, prefix, WEB_TOKEN=WEB_TOKEN, LOG_LEVEL="DEBUG")
    for authorization in (f"Bearer {WEB_TOKEN}", f"Bearer {WEB_TOKEN}-guess"):
        get(url + "/metrics", {"Authorization": authorization})
    stop(proc)
    log = proc.stderr.read().decode() if proc.stderr else ""
    assert "web listening" in log  # the log was captured at all
    assert WEB_TOKEN not in log
    assert WEB_TOKEN not in repr(Settings.from_env({"WEB_TOKEN": WEB_TOKEN}))
