"""``ticker-service simulate``: run the local exchange simulator until SIGTERM/Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
from typing import Any

from service.errors import ConfigError
from service.settings import Settings
from service.simulator import PROTOCOLS, Simulator, ccxt_params
from service.simulator.replay import load_replay

DEFAULT_PORT = 8901
# The options that are Simulator arguments: each option's dest is the keyword it fills.
SIMULATOR_OPTIONS = (
    "protocol", "host", "port", "symbols", "rate", "seed", "drop_every_s", "stall_after_s",
    "replay", "weight_budget", "budget_window_s", "fail_every",
)  # fmt: skip


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="run a local exchange simulator (Binance or OKX protocol) for ccxt",
        description="Serve a simulated exchange that ccxt's real clients can stream from. "
        "Prints one JSON line with the URL and the ccxt params to use, then runs "
        "until SIGTERM or Ctrl-C. The control API is under /_sim/ on the same port.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (0 = any free)")
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), default="binance")
    parser.add_argument(
        "--symbols", type=symbols_option, default=20,
        help="number of spot symbols, or the symbols to list: BTC/USDT,ETH/BTC",
    )  # fmt: skip
    parser.add_argument(
        "--rate", type=float, default=1.0, help="events/s per subscribed symbol (0 = full rate)"
    )
    parser.add_argument(
        "--drop-every", type=float, default=None, metavar="S", dest="drop_every_s",
        help="close every websocket every S s",
    )  # fmt: skip
    parser.add_argument(
        "--stall-after", type=float, default=None, metavar="S", dest="stall_after_s",
        help="stop sending events S seconds after start (the sockets stay open)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=None, help="random seed of the price walk")
    parser.add_argument(
        "--replay", type=replay_option, default=None, metavar="FILE",
        help="JSON {stream: [frames]}: recorded frames each subscriber of a stream gets",
    )  # fmt: skip
    parser.add_argument(
        "--weight-budget", type=int, default=None, metavar="N",
        help="REST request weight allowed per budget window (Binance weights, 1 per OKX "
        "request); over it 429, then 418 bans if ignored (default: unlimited)",
    )  # fmt: skip
    parser.add_argument(
        "--budget-window", type=float, default=60.0, metavar="S", dest="budget_window_s",
        help="length of the weight budget window in seconds (default 60, as Binance's 1M)",
    )  # fmt: skip
    parser.add_argument(
        "--fail-every", type=int, default=None, metavar="N",
        help="answer every N-th history page (klines, trades) with 500/503",
    )  # fmt: skip
    parser.set_defaults(func=run)


def symbols_option(value: str) -> int | list[str]:
    """``--symbols``: a count, or comma-separated unified symbols."""
    return int(value) if value.strip().isdigit() else [s for s in value.split(",") if s]


def replay_option(path: str) -> dict[str, tuple[str, ...]]:
    """``--replay``: the file's frames; argparse reports the ValueError with the option."""
    try:
        return load_replay(path)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_simulator(args: argparse.Namespace) -> Simulator:
    """The simulator the arguments describe; raises ConfigError on bad values."""
    options = {name: getattr(args, name) for name in SIMULATOR_OPTIONS}
    try:
        return Simulator(**options)
    except ValueError as exc:
        raise ConfigError(f"simulate: {exc}") from None


def run(args: argparse.Namespace, settings: Settings) -> int:
    return asyncio.run(serve(build_simulator(args)))


async def serve(sim: Simulator) -> int:
    """Run ``sim`` until SIGTERM/SIGINT; returns 0 after a clean stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await sim.start()
    except OSError as exc:
        raise ConfigError(f"simulate: cannot listen on {sim.host}:{sim.port}: {exc}") from None
    ready = {
        "listening": sim.url,
        "protocol": sim.protocol_name,
        "port": sim.port,
        "symbols": len(sim.symbols),
        "ccxt_params": ccxt_params(sim.protocol_name, sim.host, sim.port),
    }
    # one JSON line on stdout: what a human copies and what service/simulator/testing.py parses
    print(json.dumps(ready), flush=True)
    try:
        await stop.wait()
    finally:
        await sim.stop()
    return 0
