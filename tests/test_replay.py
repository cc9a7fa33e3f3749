"""The simulator replays recorded frames as they are, over each protocol, to ccxt's real client."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import ccxt.pro
import pytest

from service.cli import build_parser
from service.cli.simulate import build_simulator
from service.simulator import Simulator, ccxt_params
from tests.recorded_frames import TickerCase, ticker_cases

CASES = list(ticker_cases())


async def watch_until(exchange: Any, case: TickerCase, symbol: str) -> dict[str, Any]:
    """ccxt's ticker once it holds the last recorded frame's time (or after 5 s)."""
    expected = case.expected[symbol]
    for _ in range(100):
        ticker = await asyncio.wait_for(exchange.watch_ticker(symbol, case.watch_params), timeout=5)
        if ticker["timestamp"] == expected["timestamp"]:
            break
    return dict(ticker)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_a_new_subscriber_gets_the_recorded_frames_and_ccxt_parses_them_as_recorded(
    case: TickerCase,
) -> None:
    async with Simulator(case.exchange, symbols=case.markets, replay=case.streams) as sim:
        exchange = getattr(ccxt.pro, case.exchange)(ccxt_params(case.exchange, sim.host, sim.port))
        try:
            for symbol in case.symbols:
                # the whole parse, info (the raw frame) and datetime included
                assert await watch_until(exchange, case, symbol) == case.expected[symbol]
        finally:
            await exchange.close()
        assert sim.state()["replayed_streams"] == sorted(case.streams)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_a_replay_posted_to_the_control_api_replaces_what_a_subscriber_gets(
    case: TickerCase,
) -> None:
    # The default market (a count of symbols) lists BTC/USDT with the exchange's real tick.
    (stream, frames), symbol = next(iter(case.streams.items())), case.symbols[0]

    async with Simulator(case.exchange, symbols=3, rate=20) as sim:
        params = ccxt_params(case.exchange, sim.host, sim.port)
        exchange = getattr(ccxt.pro, case.exchange)(params)
        try:
            generated = await exchange.watch_ticker(symbol, case.watch_params)
            assert generated["timestamp"] != case.expected[symbol]["timestamp"]
            async with aiohttp.ClientSession() as session:
                body = {"stream": stream, "frames": frames}
                async with session.post(f"{sim.url}/_sim/replay", json=body) as response:
                    assert await response.json() == {"stream": stream, "subscribers": 1}
            assert await watch_until(exchange, case, symbol) == case.expected[symbol]
            sent = sim.feed.events_sent
            await asyncio.sleep(0.3)  # a replayed stream sends nothing else
            assert sim.feed.events_sent == sent
        finally:
            await exchange.close()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "replay: Expecting value"),
        (b'["btcusdt@ticker"]', "expected a JSON object"),
        (b'{"frames": []}', "replay stream '': expected a stream name"),
        (b'{"stream": "btcusdt@ticker", "frames": "{}"}', "expected a list of frames"),
        (b'{"stream": "btcusdt@ticker", "frames": [{}, 5]}', "frame 1: expected an object"),
    ],
)
async def test_a_bad_replay_is_refused_with_its_reason_and_changes_nothing(
    body: bytes, reason: str
) -> None:
    async with Simulator("binance", symbols=1) as sim, aiohttp.ClientSession() as session:
        async with session.post(f"{sim.url}/_sim/replay", data=body) as response:
            assert response.status == 400
            assert reason in (await response.json())["error"]
        assert sim.state()["replayed_streams"] == []


@pytest.mark.parametrize(("protocol", "tick"), [("binance", 0.01), ("okx", 0.1)])
async def test_named_symbols_are_listed_with_their_price_tick(protocol: str, tick: float) -> None:
    symbols = [f"BTC/USDT={tick}", "ETH/BTC"]
    async with Simulator(protocol, symbols=symbols) as sim:
        exchange = getattr(ccxt.pro, protocol)(ccxt_params(protocol, sim.host, sim.port))
        try:
            markets = await exchange.load_markets()
        finally:
            await exchange.close()
        assert sorted(markets) == ["BTC/USDT", "ETH/BTC"]
        assert markets["BTC/USDT"]["precision"]["price"] == tick


@pytest.mark.parametrize("symbols", [["btc/usdt"], ["BTC/USDT:USDT"], ["BTC/USDT=0.5"], []])
def test_malformed_symbol_names_are_refused_by_name(symbols: list[str]) -> None:
    with pytest.raises(ValueError, match="symbol"):
        Simulator("okx", symbols=symbols)


def simulate_args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["simulate", *argv])


def test_the_simulate_command_takes_symbol_names_and_a_replay_file(tmp_path: Path) -> None:
    replay = tmp_path / "frames.json"
    replay.write_text(json.dumps({"tickers:BTC-USDT": [{"arg": {}, "data": []}, "raw"]}))
    args = simulate_args("--protocol", "okx", "--symbols", "BTC/USDT=0.1,ETH/USDT")
    args.replay = simulate_args("--replay", str(replay)).replay
    sim = build_simulator(args)
    assert sim.symbols == ["BTC/USDT", "ETH/USDT"] and sim.market.tickers[0].decimals == 1
    assert sim.replays == {"tickers:BTC-USDT": ('{"arg":{},"data":[]}', "raw")}


@pytest.mark.parametrize(("content", "reason"), [(None, "No such file"), ("{", "Expecting")])
def test_a_bad_replay_file_stops_the_simulate_command_naming_the_file(
    tmp_path: Path, content: str | None, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "frames.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SystemExit):
        simulate_args("--replay", str(path))
    error = capsys.readouterr().err
    assert f"replay file {path}" in error and reason in error
