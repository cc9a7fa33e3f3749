"""The desired state in Redis: one JobSpec per job key, written by the beat, read by the jobs.

Layout (see ``service.keys``): the hash ``desired`` maps job key -> JobSpec
JSON, and the counter ``desired:generation`` hands out generation numbers.
A spec gets a new generation only when its content changed, so a running job
can tell "something changed" from one integer. Reading everything is one
``HGETALL``; writing a batch is one ``HMGET`` plus one pipeline.

The marker ``desired:marker`` is written only together with the whole state
(``restore``, one script) and never deleted: a job whose key is missing while
the marker is there was removed and stops; with the marker gone too, Redis lost
everything (it restarted empty) and the job streams on until the beat restores
the state (``load_spec``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import redis
import redis.asyncio as aioredis

from service.errors import StoreError
from service.keys import Keys
from service.logs import get_logger
from workers.redis_text import text
from workers.scripts import READ_SPEC, RESTORE_DESIRED
from workers.spec import JobSpec
from workers.states import SpecMissing

log = get_logger(__name__)


class DesiredState:
    """Read and write the desired JobSpecs of every job key."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    def all(self) -> dict[str, JobSpec]:
        """Every stored spec by job key (one HGETALL). Raises StoreError.

        An entry that cannot be decoded is left out (and logged): the next
        reconcile then sees it as missing and writes it afresh.
        """
        try:
            raw = self.client.hgetall(self.keys.desired())
        except redis.RedisError as exc:
            raise StoreError(f"reading the desired state: {exc}") from exc
        specs: dict[str, JobSpec] = {}
        for field, value in raw.items():
            spec = _decode(field, value)
            if spec is not None:
                specs[spec.job_key] = spec
        return specs

    def job_keys(self) -> list[str]:
        """The desired job keys only (HKEYS: no JSON to parse). Raises StoreError."""
        try:
            return [text(key) for key in self.client.hkeys(self.keys.desired())]
        except redis.RedisError as exc:
            raise StoreError(f"reading the desired job keys: {exc}") from exc

    def get(self, job_key: str) -> JobSpec | None:
        """The stored spec of ``job_key``, or None. Raises StoreError."""
        try:
            raw = self.client.hget(self.keys.desired(), job_key)
        except redis.RedisError as exc:
            raise StoreError(f"reading the desired state of {job_key}: {exc}") from exc
        return None if raw is None else _decode(job_key, raw)

    def present(self) -> bool:
        """True while the desired state exists (its marker is set). Raises StoreError."""
        try:
            return bool(self.client.exists(self.keys.desired_marker()))
        except redis.RedisError as exc:
            raise StoreError(f"reading the desired-state marker: {exc}") from exc

    def restore(self, specs: Mapping[str, JobSpec]) -> bool:
        """Write exactly ``specs`` and the marker, atomically, unless the marker is set.

        Returns True when written, False when the desired state was there (a
        concurrent write won; nothing changed). Raises StoreError.
        """
        args: list[Any] = [max((spec.generation for spec in specs.values()), default=0)]
        for job_key, spec in specs.items():
            args += [job_key, spec.to_json()]
        keys = [self.keys.desired(), self.keys.desired_marker(), self.keys.generation()]
        try:
            return bool(RESTORE_DESIRED.run(self.client, keys, args))
        except redis.RedisError as exc:
            raise StoreError(f"restoring {len(specs)} desired jobs: {exc}") from exc

    def put(self, spec: JobSpec) -> JobSpec:
        """Store ``spec`` if its content changed; return what is stored. Raises StoreError."""
        return self.put_many([spec])[spec.job_key]

    def put_many(self, specs: Iterable[JobSpec]) -> dict[str, JobSpec]:
        """Store every spec whose content changed, each with a new generation.

        Returns job key -> the spec now stored (unchanged ones keep their
        generation). One HMGET, then one INCRBY and one HSET for all changes.
        Raises StoreError.
        """
        wanted = {spec.job_key: spec for spec in specs}
        if not wanted:
            return {}
        stored = self._get_many(list(wanted))
        result = {key: spec for key, spec in stored.items() if spec is not None}
        changed = [
            spec
            for key, spec in wanted.items()
            if key not in result or not spec.same_content(result[key])
        ]
        result.update(self._write(changed))
        return result

    def remove(self, job_key: str) -> None:
        """Drop ``job_key`` from the desired state (its job then stops). Raises StoreError."""
        self.remove_many([job_key])

    def remove_many(self, job_keys: Iterable[str]) -> None:
        """Drop several job keys in one HDEL. Raises StoreError."""
        job_keys = list(job_keys)
        if not job_keys:
            return
        try:
            self.client.hdel(self.keys.desired(), *job_keys)
        except redis.RedisError as exc:
            raise StoreError(f"removing {len(job_keys)} desired jobs: {exc}") from exc

    def _get_many(self, job_keys: list[str]) -> dict[str, JobSpec | None]:
        try:
            values = self.client.hmget(self.keys.desired(), job_keys)
        except redis.RedisError as exc:
            raise StoreError(f"reading {len(job_keys)} desired jobs: {exc}") from exc
        return {
            key: None if raw is None else _decode(key, raw)
            for key, raw in zip(job_keys, values, strict=True)
        }

    def _write(self, changed: list[JobSpec]) -> dict[str, JobSpec]:
        if not changed:
            return {}
        try:
            # One INCRBY reserves a block of generations: last - n + 1 .. last.
            last = int(self.client.incrby(self.keys.generation(), len(changed)))
            first = last - len(changed) + 1
            written = {
                spec.job_key: replace(spec, generation=first + offset)
                for offset, spec in enumerate(changed)
            }
            mapping: dict[Any, Any] = {key: spec.to_json() for key, spec in written.items()}
            self.client.hset(self.keys.desired(), mapping=mapping)
        except redis.RedisError as exc:
            raise StoreError(f"writing {len(changed)} desired jobs: {exc}") from exc
        return written


async def load_spec(client: aioredis.Redis, keys: Keys, job_key: str) -> JobSpec | SpecMissing:
    """A running job's view of its desired spec, in one atomic read (a script).

    Returns the spec, or why there is none: ``SpecMissing.REMOVED`` (the key
    alone is gone) or ``SpecMissing.STATE_LOST`` (the marker is gone too).
    Raises redis errors, and ValueError for a spec that does not decode.
    """
    reply = await READ_SPEC.run_async(client, [keys.desired(), keys.desired_marker()], [job_key])
    if isinstance(reply, bytes | str):
        return JobSpec.from_json(reply)
    return SpecMissing.REMOVED if reply else SpecMissing.STATE_LOST


def _decode(field: str | bytes, raw: str | bytes) -> JobSpec | None:
    try:
        return JobSpec.from_json(raw)
    except (ValueError, TypeError) as exc:
        log.warning("desired state undecodable", job_key=text(field), error=str(exc))
        return None
