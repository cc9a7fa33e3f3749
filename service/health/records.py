"""The registry's stored records, typed: decoded once where they are read.

``JobRecord`` is a value of ``health_jobs`` (the job's latest heartbeat plus
what the registry adds), ``WorkerRecord`` one of ``health_workers``. Their
``to_dict`` gives the JSON object stored today, key for key, so a registry
written before these types existed reads the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from workers.heartbeat import Heartbeat


@dataclass(frozen=True)
class JobRecord:
    """A job's latest heartbeat; ``run_started_at`` is the first heartbeat of its run (ms)."""

    heartbeat: Heartbeat
    run_started_at: int
    recorded_at: int

    def to_dict(self) -> dict[str, Any]:
        """The heartbeat's fields, then ``run_started_at`` and ``recorded_at``."""
        return {
            **self.heartbeat.to_dict(),
            "run_started_at": self.run_started_at,
            "recorded_at": self.recorded_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JobRecord:
        """The record stored as ``data``; raises ValueError (HeartbeatError) if unusable."""
        heartbeat = Heartbeat.from_dict(data)
        return cls(
            heartbeat=heartbeat,
            run_started_at=_ms(data, "run_started_at", heartbeat.job_key),
            recorded_at=_ms(data, "recorded_at", heartbeat.job_key),
        )


@dataclass(frozen=True)
class WorkerRecord:
    """A worker as last heard from: the jobs it holds and when it was last seen (ms).

    ``running`` and ``capacity`` are the process's stream jobs and the most it
    runs, as its latest heartbeat said (None in records written before them).
    """

    worker_id: str
    host: str | None
    pid: int | None
    jobs: tuple[str, ...]
    last_seen_at: int
    running: int | None = None
    capacity: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The stored JSON object; ``running``/``capacity`` only when known."""
        data = {
            "worker_id": self.worker_id,
            "host": self.host,
            "pid": self.pid,
            "jobs": list(self.jobs),
            "last_seen_at": self.last_seen_at,
        }
        load = {"running": self.running, "capacity": self.capacity}
        return data | {name: value for name, value in load.items() if value is not None}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WorkerRecord:
        """The record stored as ``data``; raises ValueError if unusable."""
        worker_id = data.get("worker_id")
        if not isinstance(worker_id, str) or not worker_id:
            raise ValueError(f"worker record without worker_id: {dict(data)!r:.200}")
        return WorkerRecord(
            worker_id=worker_id,
            host=data.get("host"),
            pid=data.get("pid"),
            jobs=tuple(str(job) for job in data.get("jobs") or ()),
            last_seen_at=_ms(data, "last_seen_at", worker_id),
            running=_count(data, "running"),
            capacity=_count(data, "capacity"),
        )

    def without_job(self, job_key: str) -> WorkerRecord:
        """This record no longer holding ``job_key``."""
        return replace(self, jobs=tuple(sorted(set(self.jobs) - {job_key})))


def _ms(data: Mapping[str, Any], name: str, owner: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"record of {owner} without {name} (ms)")
    return value


def _count(data: Mapping[str, Any], name: str) -> int | None:
    # Optional: records written before the field existed lack it.
    value = data.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None
