"""The desired state of one streaming job: what the beat writes and the job obeys."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

MODES = ("auto", "ws", "poll")


@dataclass(frozen=True)
class JobSpec:
    """One job key's desired state.

    ``job_key`` is the exchange row's name, or ``{name}#{n}`` for a shard.
    ``ccxt_params`` go to the ccxt constructor (urls, options, ...; never
    credentials, which come from the environment). ``mode`` picks websockets
    (``ws``), REST polling (``poll``) or websockets where ccxt has them
    (``auto``). ``generation`` changes whenever anything else changes.
    """

    job_key: str
    exchange: str
    ccxt_id: str
    symbols: tuple[str, ...]
    ccxt_params: dict[str, Any] = field(default_factory=dict)
    mode: str = "auto"
    poll_interval_s: float = 2.0
    watch_params: dict[str, Any] = field(default_factory=dict)
    generation: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str | bytes) -> JobSpec:
        data = json.loads(raw)
        data["symbols"] = tuple(data.get("symbols", ()))
        return cls(**data)

    def same_content(self, other: JobSpec) -> bool:
        """True when only the generation differs (no copy: the beat compares hundreds)."""
        return replace(self, generation=other.generation) == other

    def client_config(self) -> tuple[str, str, str, float]:
        """What forces a new ccxt client when it changes (symbols do not)."""
        return (
            self.ccxt_id,
            json.dumps(self.ccxt_params, sort_keys=True),
            self.mode,
            self.poll_interval_s,
        )
