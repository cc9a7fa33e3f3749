"""ccxt's own recorded ticker frames, replayed over the wire, stored whole.

The simulator replays each recorded spot ticker case (tests/recorded_frames.py)
to whoever subscribes to its stream; a real StreamJob (tests/stream_harness.py)
streams it with ccxt's real client into a real Redis; the stored tick, read back
through TickReader and ``/tickers``, must equal ccxt's expected parse in every
unified field. The e2e case does the same with real processes: a simulator
started with ``--replay``, a Dramatiq worker, and ``ticker-service price --json``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis
from aiohttp.test_utils import TestServer

from bench.procs import BIN, enqueue_stream, service_env, started, worker_args
from service.health.web import create_app
from service.keys import Keys
from service.settings import Settings
from service.simulator import Simulator, ccxt_params
from service.simulator.testing import SimulatorProcess
from service.store import TickReader
from tests.recorded_frames import TickerCase, ticker_cases
from tests.stream_harness import FAST, Harness, running, wait_for
from workers.spec import JobSpec
from workers.ticks import FROM_CCXT, TICK_FIELDS

CASES = list(ticker_cases())
# Not ticker values: our own symbol is stored, datetime is timestamp as text, info the frame.
NOT_STORED = {"symbol", "datetime", "info"}
# The replay is silent once sent: no reconnect for staleness while the test reads.
CONFIG = dataclasses.replace(FAST, stale_after_s=30)


def test_the_recordings_hold_a_spot_ticker_case_of_each_simulated_exchange() -> None:
    assert {case.exchange for case in CASES} >= {"binance", "okx"}


def differences(stored: dict[str, Any] | None, expected: dict[str, Any]) -> dict[str, Any]:
    """Every unified field whose stored value differs from ccxt's: {camelName: (stored, ccxt)}.

    Numbers compare as floats (JSON has no int/float distinction), so 64500 == 64500.0.
    """
    if stored is None:
        return {"(tick)": (None, "stored")}
    unstored = sorted(set(expected) - NOT_STORED - set(FROM_CCXT.values()))
    diff: dict[str, Any] = {name: ("not a stored field", expected[name]) for name in unstored}
    for field, name in FROM_CCXT.items():
        ours, theirs = stored.get(field, "missing"), expected.get(name)
        if not _same(ours, theirs):
            diff[name] = (ours, theirs)
    return diff


def _same(ours: Any, theirs: Any) -> bool:
    if isinstance(ours, bool) or isinstance(theirs, bool) or ours is None or theirs is None:
        return ours is theirs
    if isinstance(ours, int | float) and isinstance(theirs, int | float):
        return float(ours) == float(theirs)
    return bool(ours == theirs)


def spec_for(case: TickerCase, sim: Simulator | SimulatorProcess) -> JobSpec:
    # A row name that is not the ccxt id: nothing may depend on the exchange's name.
    return JobSpec(
        job_key=f"recorded-{case.exchange}",
        exchange=f"recorded-{case.exchange}",
        ccxt_id=case.exchange,
        symbols=tuple(case.symbols),
        ccxt_params=ccxt_params(case.exchange, sim.host, sim.port),
        watch_params=case.watch_params,
        generation=1,
    )


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_every_unified_field_of_a_recorded_frame_is_stored_as_ccxt_parses_it(
    case: TickerCase, redis_url: str, keys: Keys, redis_client: redis.Redis
) -> None:
    reader = TickReader(redis_client, keys, stale_after_s=60)
    spec: JobSpec

    async def stored_as_expected() -> bool:
        return not any(
            differences(reader.get(spec.exchange, symbol), case.expected[symbol])
            for symbol in case.symbols
        )

    async with (
        Simulator(case.exchange, symbols=case.markets, replay=case.streams) as sim,
        Harness(redis_url, keys, config=CONFIG) as h,
    ):
        spec = spec_for(case, sim)
        await h.put_spec(spec)
        async with running(h.job(spec.job_key)):
            # on a timeout, the comparison below says which fields differ
            with contextlib.suppress(AssertionError):
                await wait_for(stored_as_expected, 5, "the last recorded frame stored")
            served = await read_over_http(redis_url, keys, spec.exchange, case.symbols)

    for symbol in case.symbols:
        stored = reader.get(spec.exchange, symbol)
        assert differences(stored, case.expected[symbol]) == {}, symbol
        assert stored is not None and list(stored) == [*TICK_FIELDS, "stale"]
        assert reader.get_exchange(spec.exchange)[symbol] == stored
        assert reader.get_price(symbol, prefer=[spec.exchange]) == stored
        assert served[symbol] == stored


async def read_over_http(
    redis_url: str, keys: Keys, exchange: str, symbols: list[str]
) -> dict[str, Any]:
    """Each symbol's tick as ``GET /tickers/{exchange}/{symbol}`` serves it."""
    settings = Settings(key_prefix=keys.prefix, stale_after_s=60)
    client = redis.Redis.from_url(redis_url)  # the app closes it on cleanup
    app = create_app(settings, client=client, check_transitions_every=False)
    served = {}
    async with TestServer(app) as server, aiohttp.ClientSession() as session:
        for symbol in symbols:
            url = server.make_url(f"/tickers/{exchange}/{symbol.replace('/', '-')}")
            async with session.get(url) as response:
                assert response.status == 200, await response.text()
                served[symbol] = await response.json()
    return served


@pytest.mark.e2e
def test_real_processes_store_every_recorded_field_and_the_price_command_prints_it(
    redis_url: str, keys: Keys, redis_client: redis.Redis, tmp_path: Path
) -> None:
    env = service_env(redis_url, keys.prefix)
    with contextlib.ExitStack() as stack:
        for case in CASES:
            replay = tmp_path / f"{case.exchange}.json"
            replay.write_text(json.dumps(case.streams))
            sim = stack.enter_context(
                SimulatorProcess(case.exchange, symbols=",".join(case.markets), replay=replay)
            )
            spec = spec_for(case, sim)
            redis_client.hset(keys.desired(), spec.job_key, spec.to_json())
        stack.enter_context(started(worker_args(2), env, tmp_path / "worker.log"))
        for case in CASES:
            enqueue_stream(redis_url, env["DRAMATIQ_NAMESPACE"], f"recorded-{case.exchange}")
        for case in CASES:
            for symbol in case.symbols:
                printed = price_json_until(case, symbol, env)
                assert differences(printed, case.expected[symbol]) == {}, case.id


def price_json_until(case: TickerCase, symbol: str, env: dict[str, str]) -> dict[str, Any] | None:
    """``ticker-service price --json`` once it prints the recorded parse (or after 20 s)."""
    command = [str(BIN / "ticker-service"), "price", symbol, "--json"]
    command += ["--exchange", f"recorded-{case.exchange}"]
    deadline, printed = time.monotonic() + 20, None
    while time.monotonic() < deadline:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=20)
        printed = json.loads(done.stdout) if done.returncode == 0 else None
        if printed is not None and not differences(printed, case.expected[symbol]):
            break
        time.sleep(0.2)
    return printed
