"""The demo exchanges of a dev run: which to simulate, and their rows in the database.

Rows named ``demo-*`` belong to the runner. An empty database gets both demo
exchanges; a database that already has demo rows gets them pointed at this
run's simulators (new ports each run) and topped up with the simulated
symbols; any other row is the operator's and is never touched. A demo row the
operator removed stays removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db import repo
from service.db.models import Exchange
from service.db.session import migrated_session
from service.db.validation import validate_params
from service.simulator import ccxt_params


@dataclass(frozen=True)
class DemoExchange:
    name: str  # the job key
    ccxt_id: str
    protocol: str  # of the simulator


DEMO_EXCHANGES = (
    DemoExchange("demo-binance", "binance", "binance"),
    DemoExchange("demo-okx", "okx", "okx"),
)


@dataclass(frozen=True)
class SimulatedExchange:
    """A demo exchange and where this run's simulator for it listens."""

    demo: DemoExchange
    host: str
    port: int
    symbols: tuple[str, ...]


def demos_to_run(database_url: str) -> list[DemoExchange]:
    """Which demo exchanges this run simulates (all of them for an empty database)."""
    with migrated_session(database_url, action="read exchanges") as session:
        names = {row.name for row in repo.list_exchanges(session)}
    if not names:
        return list(DEMO_EXCHANGES)
    return [demo for demo in DEMO_EXCHANGES if demo.name in names]


def seed_demo(database_url: str, simulated: Sequence[SimulatedExchange]) -> list[str]:
    """Add or refresh the demo rows in one transaction; returns what changed, for the console."""
    changes: list[str] = []
    with migrated_session(database_url, action="seed the demo") as session:
        for sim in simulated:
            changes.append(_seed_one(session, sim))
    return changes


def _seed_one(session: Session, sim: SimulatedExchange) -> str:
    name = sim.demo.name
    params = ccxt_params(sim.demo.protocol, sim.host, sim.port)
    row = session.scalar(select(Exchange).where(Exchange.name == name))
    if row is None:
        repo.add_exchange(session, name, sim.demo.ccxt_id, ccxt_params=params)
        repo.add_symbols(session, name, sim.symbols)
        return f"added {name} ({sim.demo.ccxt_id}) with {len(sim.symbols)} symbols"
    # The repository has no "change params" writer (the CLI never needed one), and
    # these rows are ours: set the column directly, through the same validator.
    row.ccxt_params = validate_params(params, field="ccxt params", exchange=name)
    have = {s.symbol for s in repo.list_symbols(session, name)}
    missing = [symbol for symbol in sim.symbols if symbol not in have]
    if missing:
        repo.add_symbols(session, name, missing)
    session.flush()
    return f"pointed {name} at port {sim.port}" + (
        f", added {len(missing)} symbols" if missing else ""
    )
