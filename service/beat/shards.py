"""Stable assignment of an exchange's symbols to job keys (pure, no I/O).

An exchange with at most ``shard_size`` symbols is one job named exactly
``{name}``. A larger one is split into shards ``{name}#{i}``. Assignment is
sticky: a symbol stays in the shard that already streams it (the running
specs say where), new symbols go to shards with room (lowest index first),
then to new shards. When the exchange shrinks so that fewer shards would do,
the smallest shards are dissolved into the others, so only their symbols move.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from workers.spec import JobSpec

SHARD_SEPARATOR = "#"


def shard_key(name: str, index: int) -> str:
    """The job key of shard ``index`` of exchange ``name``."""
    return f"{name}{SHARD_SEPARATOR}{index}"


def assign(
    name: str, symbols: Sequence[str], running: Mapping[str, JobSpec], shard_size: int
) -> dict[str, tuple[str, ...]]:
    """Job key -> sorted symbols for exchange ``name``; ``symbols`` sorted and unique."""
    if len(symbols) <= shard_size:
        return {name: tuple(symbols)}
    shards, loose = _keep_current(name, symbols, running, shard_size)
    needed = math.ceil(len(symbols) / shard_size)
    while len(shards) > needed:
        # Dissolve the smallest shard (the highest index on a tie): fewest symbols move.
        index = min(shards, key=lambda i: (len(shards[i]), -i))
        loose.extend(shards.pop(index))
    _fill(shards, sorted(loose), shard_size)
    return {shard_key(name, i): tuple(sorted(held)) for i, held in sorted(shards.items())}


def current_shards(name: str, running: Mapping[str, JobSpec]) -> dict[int, set[str]]:
    """Shard index -> symbols the running specs of ``name`` hold.

    An unsharded job ``{name}`` counts as shard 0, so its symbols stay together
    when the exchange grows past the shard size.
    """
    shards: dict[int, set[str]] = {}
    for key, spec in running.items():
        if spec.exchange != name:
            continue
        index = _shard_index(name, key)
        if index is not None:
            shards.setdefault(index, set()).update(spec.symbols)
    return shards


def _shard_index(name: str, job_key: str) -> int | None:
    if job_key == name:
        return 0
    prefix = name + SHARD_SEPARATOR
    suffix = job_key[len(prefix) :]
    if job_key.startswith(prefix) and suffix.isdigit():
        return int(suffix)
    return None


def _keep_current(
    name: str, symbols: Sequence[str], running: Mapping[str, JobSpec], shard_size: int
) -> tuple[dict[int, list[str]], list[str]]:
    """Symbols kept where they run (at most shard_size per shard) and the ones left to place."""
    wanted = set(symbols)
    placed: set[str] = set()
    shards: dict[int, list[str]] = {}
    for index, held in sorted(current_shards(name, running).items()):
        keep = sorted(held & wanted - placed)[:shard_size]
        if keep:
            shards[index] = keep
            placed.update(keep)
    return shards, [symbol for symbol in symbols if symbol not in placed]


def _fill(shards: dict[int, list[str]], loose: list[str], shard_size: int) -> None:
    """Place ``loose`` into shards with room, lowest index first, then into new shards."""
    position = 0
    for index in sorted(shards):
        room = shard_size - len(shards[index])
        if room > 0:
            shards[index].extend(loose[position : position + room])
            position += room
    index = 0
    while position < len(loose):
        while index in shards:
            index += 1
        shards[index] = loose[position : position + shard_size]
        position += shard_size
