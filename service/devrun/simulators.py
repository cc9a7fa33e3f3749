"""Exchange simulators for the demo exchanges, on ports chosen before they start.

The ports (and the symbols a simulator of N symbols serves) are known before
any simulator runs, so the demo rows are written first and the beat starts
alongside the simulators instead of after them: its first reconcile, at its
start, already finds the rows. A port taken in between makes that simulator
fail to listen, which stops the run with a clear message.
"""

from __future__ import annotations

import json

from service.devrun.children import Child
from service.devrun.console import Console
from service.devrun.ports import LOOPBACK, free_port
from service.devrun.seed import DemoExchange, SimulatedExchange
from service.errors import ConfigError
from service.simulator import Simulator

READY_TIMEOUT_S = 15.0


def plan_simulator(demo: DemoExchange, symbols: int) -> SimulatedExchange:
    """Where the demo's simulator will listen and the unified symbols it will serve."""
    served = Simulator(demo.protocol, symbols=symbols).symbols  # built, never started
    return SimulatedExchange(demo, LOOPBACK, free_port(), tuple(served))


def is_ready_line(line: str) -> bool:
    """The simulator's ready line: a JSON object with its port."""
    try:
        data = json.loads(line)
    except ValueError:
        return False
    return isinstance(data, dict) and "port" in data


def start_simulator(
    sim: SimulatedExchange, *, rate: float, cli: list[str], env: dict[str, str], console: Console
) -> Child:
    argv = [*cli, "simulate", "--protocol", sim.demo.protocol, "--host", sim.host]
    argv += ["--port", str(sim.port), "--symbols", str(len(sim.symbols)), "--rate", f"{rate:g}"]
    return Child(f"sim-{sim.demo.protocol}", argv, env, console, ready=is_ready_line)


def wait_listening(child: Child, sim: SimulatedExchange) -> None:
    """Block until the simulator listens; raises ConfigError when it exited or took too long."""
    if child.wait_ready(READY_TIMEOUT_S) is not None:
        return
    code = child.exit_code()
    why = f"exited with {code}" if code is not None else f"not ready in {READY_TIMEOUT_S:g} s"
    raise ConfigError(f"the {sim.demo.protocol} simulator for port {sim.port} {why}")
