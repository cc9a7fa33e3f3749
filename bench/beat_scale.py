"""Scale of the beat: 100 exchanges x 1,000 symbols in Postgres, 500 shards in Redis.

Measures one reconcile split into its steps (database read, desired-state
read, plan, apply, enqueue step) on a cold start (500 specs written, 500
messages sent to a real Redis broker), with nothing changed, and with one
symbol added; and a supervision pass over 500 shards (all pending, all
leased). Goals: reconcile <= 2 s, supervision <= 50 ms.

Runs in its own Postgres schema, Redis key prefix and Dramatiq namespace and
removes them afterwards. Prints a table; writes ``bench/results/beat_scale.json``.

    python -m bench.beat_scale [--quick] [--exchanges N] [--symbols N] [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import dramatiq
import redis
import sqlalchemy
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import insert, select

from bench.beat_setup import database_options
from service.beat.plan import plan
from service.beat.reconcile import ReconcileOptions, reconcile
from service.beat.source import DatabaseSource, check_exchange_row
from service.beat.supervise import supervise
from service.db.engine import make_engine
from service.db.models import Base, Exchange, Symbol
from service.db.snapshot import ExchangeSnapshot
from service.desired import DesiredState
from service.keys import Keys
from service.redis_client import sync_client

RESULTS = Path(__file__).resolve().parent / "results" / "beat_scale.json"
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
GOALS_MS = {"reconcile": 2000.0, "supervise": 50.0}


def timed(func: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = func()
    return value, (time.perf_counter() - started) * 1000


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL whose connections use a fresh schema, dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(POSTGRES_URL).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def fill(url: str, exchanges: int, symbols: int) -> float:
    """Create the tables and the rows; returns the seconds it took."""
    started = time.perf_counter()
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(Exchange),
            [
                {"name": f"ex{i:03d}", "ccxt_id": "binance", "enabled": True,
                 "ccxt_params": {}, "mode": "auto", "poll_interval_s": 2.0, "watch_params": {}}
                for i in range(exchanges)
            ],
        )  # fmt: skip
        ids = [row.id for row in conn.execute(select(Exchange.id))]
        conn.execute(
            insert(Symbol),
            [
                {"exchange_id": ex, "symbol": f"C{n:05d}/USDT", "enabled": True}
                for ex in ids
                for n in range(symbols)
            ],
        )
    engine.dispose()
    return time.perf_counter() - started


def add_symbol(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        first = conn.execute(select(Exchange.id).order_by(Exchange.name)).scalars().first()
        conn.execute(insert(Symbol), [{"exchange_id": first, "symbol": "ZZZ/USDT"}])
    engine.dispose()


class Steps:
    """One reconcile's steps, timed one by one (the same calls ``reconcile`` makes)."""

    def __init__(self, source: DatabaseSource, desired: DesiredState, options: ReconcileOptions):
        self.source, self.desired, self.options = source, desired, options

    def _apply(self, put: Any, remove: Any) -> None:
        self.desired.put_many(put)
        self.desired.remove_many(remove)

    def run(self, enqueue: Callable[[str], None]) -> dict[str, float]:
        rows, read_db = timed(self.source)
        running, read_desired = timed(self.desired.all)
        result, planned = timed(
            lambda: plan(rows, running, shard_size=self.options.shard_size, allow=None,
                         check_exchange=self.options.check_exchange,
                         check_symbol=self.options.check_symbol)
        )  # fmt: skip
        _, applied = timed(lambda: self._apply(result.put, result.remove))
        keys = sorted((set(running) - set(result.remove)) | {s.job_key for s in result.put})
        done, enqueued = timed(
            lambda: supervise(self.desired.client, self.desired.keys, enqueue,
                              pending_ttl_s=self.options.pending_ttl_s, job_keys=keys)
        )  # fmt: skip
        return {
            "db_read_ms": read_db, "desired_read_ms": read_desired, "plan_ms": planned,
            "apply_ms": applied, "enqueue_step_ms": enqueued,
            "total_ms": read_db + read_desired + planned + applied + enqueued,
            "put": len(result.put), "removed": len(result.remove),
            "jobs": result.jobs, "messages": len(done.enqueued),
        }  # fmt: skip


def _no_op(job_key: str) -> None:
    return None


def median_ms(func: Callable[[], Any], repeat: int) -> dict[str, float]:
    samples = [timed(func)[1] for _ in range(repeat)]
    return {"median_ms": statistics.median(samples), "max_ms": max(samples)}


def measure(url: str, keys: Keys, client: redis.Redis, args: argparse.Namespace) -> dict[str, Any]:
    options = database_options(shard_size=200)
    # The first check imports ccxt (about a second); the beat has it imported at start-up.
    check_exchange_row(ExchangeSnapshot(name="warm-up", ccxt_id="binance"))
    broker = RedisBroker(client=sync_client(REDIS_URL), namespace=f"{keys.prefix}:dramatiq")
    actor: Any = dramatiq.actor(actor_name="stream_exchange", queue_name="streams",
                                broker=broker)(_no_op)  # fmt: skip
    source, desired = DatabaseSource(url), DesiredState(client, keys)
    steps = Steps(source, desired, options)
    try:
        cold = steps.run(actor.send)
        unchanged = steps.run(actor.send)
        add_symbol(url)
        one_added = steps.run(actor.send)
        whole = median_ms(lambda: reconcile(source, desired, actor.send, options), args.repeat)
        job_keys = desired.job_keys()
        pending = median_ms(lambda: supervise(client, keys, actor.send, pending_ttl_s=60),
                            args.repeat * 5)  # fmt: skip
        pipe = client.pipeline(transaction=False)
        for key in job_keys:
            pipe.set(keys.lease(key), "bench", px=60_000)
        pipe.execute()
        leased = median_ms(lambda: supervise(client, keys, actor.send, pending_ttl_s=60),
                           args.repeat * 5)  # fmt: skip
    finally:
        source.close()
        broker.close()
    return {
        "reconcile_cold": cold, "reconcile_unchanged": unchanged,
        "reconcile_one_symbol_added": one_added, "reconcile_unchanged_repeated": whole,
        "supervise_all_pending": pending, "supervise_all_leased": leased,
        "shards": len(job_keys),
    }  # fmt: skip


def table(result: dict[str, Any]) -> str:
    lines = ["| case | db read | desired read | plan | apply | enqueue step | total | put |",
             "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for case in ("reconcile_cold", "reconcile_unchanged", "reconcile_one_symbol_added"):
        r = result[case]
        lines.append(
            f"| {case} | {r['db_read_ms']:.0f} ms | {r['desired_read_ms']:.0f} ms | "
            f"{r['plan_ms']:.0f} ms | {r['apply_ms']:.0f} ms | {r['enqueue_step_ms']:.0f} ms | "
            f"**{r['total_ms']:.0f} ms** | {r['put']} specs, {r['messages']} msgs |"
        )
    lines += ["", "| pass | median | max | goal |", "|---|---|---|---|"]
    for case, goal in (("reconcile_unchanged_repeated", "reconcile"),
                       ("supervise_all_pending", "supervise"),
                       ("supervise_all_leased", "supervise")):  # fmt: skip
        r = result[case]
        lines.append(f"| {case} | {r['median_ms']:.1f} ms | {r['max_ms']:.1f} ms | "
                     f"<= {GOALS_MS[goal]:.0f} ms |")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--exchanges", type=int, default=100)
    parser.add_argument("--symbols", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (same scale)")
    args = parser.parse_args()
    if args.quick:
        args.repeat = 2
    keys = Keys(f"bench:beat:{uuid.uuid4().hex[:8]}")
    client = sync_client(REDIS_URL)
    try:
        with postgres_schema() as url:
            fill_s = fill(url, args.exchanges, args.symbols)
            result = measure(url, keys, client, args)
    finally:
        for key in client.scan_iter(match=f"{keys.prefix}:*", count=1000):
            client.delete(key)
        client.close()
    result = {"exchanges": args.exchanges, "symbols_per_exchange": args.symbols,
              "shard_size": 200, "fill_s": round(fill_s, 2), "goals_ms": GOALS_MS,
              **result}  # fmt: skip
    print(f"{args.exchanges} exchanges x {args.symbols} symbols "
          f"({result['shards']} shards) in Postgres; filled in {fill_s:.1f} s\n")  # fmt: skip
    print(table(result))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
