"""Reconcile options as the beat tests and the beat benchmark build them."""

from __future__ import annotations

from service.beat.reconcile import ReconcileOptions


def database_options(shard_size: int) -> ReconcileOptions:
    """Options for rows read from the database, with the beat's own row checks (the default).

    Every exchange allowed, pending shards kept 60 s: what the beat does with
    default settings, at the shard size the caller measures or tests.
    """
    return ReconcileOptions(
        shard_size=shard_size,
        allow=None,
        pending_ttl_s=60,
    )
