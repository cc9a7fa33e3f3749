"""Reconcile: read the database, plan against the desired state, apply, then supervise.

The database is read first, so an outage leaves the desired state (and with
it every running stream) untouched. Only specs whose content changed are
written, each with a new generation; jobs that should stop leave the desired
state (a running job sees that and returns). When the desired-state marker is
missing (the first reconcile ever, or Redis lost its data) the whole state is
then written again with the marker, in one script.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from service.beat.plan import ExchangeCheck, Plan, SymbolCheck, plan
from service.beat.supervise import Enqueue, Supervision, supervise
from service.db import snapshot, validation
from service.desired import DesiredState
from workers.spec import JobSpec

# Returns the enabled exchanges: the database source's ``LoadedRows`` also carries
# the rows it could not read, which the plan reports with its own skipped rows.
Load = Callable[[], Iterable[snapshot.ExchangeSnapshot]]


@dataclass(frozen=True)
class Reconciliation:
    """The applied plan, the whole desired state it left and the supervision that followed."""

    plan: Plan
    supervision: Supervision
    desired: dict[str, JobSpec]


@dataclass(frozen=True)
class ReconcileOptions:
    """How rows become jobs: settings plus the row validators (by default the database's)."""

    shard_size: int
    allow: frozenset[str] | None
    pending_ttl_s: float
    # How long restored jobs are not enqueued after Redis lost the desired state.
    restore_hold_off_s: float = 0.0
    check_exchange: ExchangeCheck = snapshot.check_exchange
    check_symbol: SymbolCheck = validation.validate_symbol


def reconcile(
    load: Load, desired: DesiredState, enqueue: Enqueue, options: ReconcileOptions
) -> Reconciliation:
    """One reconcile; returns what it changed and enqueued.

    Raises DatabaseError (from ``load``; nothing touched) or StoreError.
    """
    rows = load()
    running = desired.all()
    result = plan(
        rows,
        running,
        shard_size=options.shard_size,
        allow=options.allow,
        check_exchange=options.check_exchange,
        check_symbol=options.check_symbol,
    )
    written = desired.put_many(result.put)
    desired.remove_many(result.remove)
    removed = set(result.remove)
    state = {k: spec for k, spec in running.items() if k not in removed} | written
    if not desired.present():
        desired.restore(state)
    supervision = supervise(
        desired.client,
        desired.keys,
        enqueue,
        pending_ttl_s=options.pending_ttl_s,
        job_keys=sorted(state),
    )
    return Reconciliation(plan=result, supervision=supervision, desired=state)
