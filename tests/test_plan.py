"""The beat's pure plan, tested with tables: no Redis, no database."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from typing import Any

import pytest

from service.beat.plan import Plan, SkippedRow, plan
from service.db.snapshot import ExchangeSnapshot, LoadedRows
from service.errors import ValidationError
from workers.spec import JobSpec


def row(name: str, symbols: tuple[str, ...], **settings: Any) -> ExchangeSnapshot:
    """An enabled exchange as the database source gives it (ccxt id binance by default)."""
    return ExchangeSnapshot(name, settings.pop("ccxt_id", "binance"), symbols=symbols, **settings)


def spec(key: str, symbols: tuple[str, ...], exchange: str | None = None, **kw: Any) -> JobSpec:
    return JobSpec(
        job_key=key, exchange=exchange or key.split("#")[0], ccxt_id="binance", symbols=symbols,
        generation=kw.pop("generation", 7), **kw,
    )  # fmt: skip


def check_exchange(row: ExchangeSnapshot) -> None:
    if row.ccxt_id not in {"binance", "okx", "kraken"}:
        raise ValidationError(f"unknown ccxt id {row.ccxt_id!r}")


def check_symbol(symbol: str, *, exchange: str) -> None:
    if not re.fullmatch(r"[A-Z0-9]+/[A-Z0-9]+(:[A-Z0-9]+)?", symbol):
        raise ValidationError(f"malformed symbol {symbol!r}")


def run(rows: list[ExchangeSnapshot] | LoadedRows, running: dict[str, JobSpec], **kw: Any) -> Plan:
    kw.setdefault("shard_size", 200)
    return plan(rows, running, check_exchange=check_exchange, check_symbol=check_symbol, **kw)


def symbols(n: int, start: int = 0) -> tuple[str, ...]:
    return tuple(f"C{i:05d}/USDT" for i in range(start, start + n))


BTC, ETH, SOL = "BTC/USDT", "ETH/USDT", "SOL/USDT"

CASES = [
    # (description, rows, running, put as {key: symbols}, remove)
    ("a new exchange is put", [row("bin", (BTC, ETH))], {}, {"bin": (BTC, ETH)}, []),
    ("an unchanged exchange is left alone", [row("bin", (ETH, BTC))],
     {"bin": spec("bin", (BTC, ETH))}, {}, []),
    ("an absent (removed or disabled) exchange is removed", [],
     {"bin": spec("bin", (BTC,))}, {}, ["bin"]),
    ("an added symbol changes the spec", [row("bin", (BTC, ETH, SOL))],
     {"bin": spec("bin", (BTC, ETH))}, {"bin": (BTC, ETH, SOL)}, []),
    ("a removed symbol changes the spec", [row("bin", (BTC,))],
     {"bin": spec("bin", (BTC, ETH))}, {"bin": (BTC,)}, []),
    ("symbols are sorted and unique", [row("bin", (SOL, BTC, SOL, ETH))], {},
     {"bin": (BTC, ETH, SOL)}, []),
    ("an exchange without symbols gets no job", [row("bin", ())],
     {"bin": spec("bin", (BTC,))}, {}, ["bin"]),
    ("the shards of an absent exchange are all removed", [],
     {"big#0": spec("big#0", (BTC,)), "big#1": spec("big#1", (ETH,))}, {}, ["big#0", "big#1"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rows", "running", "put", "remove"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_plan_puts_and_removes_what_the_table_says(
    rows: list[ExchangeSnapshot], running: dict[str, JobSpec], put: dict, remove: list
) -> None:
    result = run(rows, running)
    assert {s.job_key: s.symbols for s in result.put} == put
    assert list(result.remove) == remove
    assert result.skipped == ()


CHANGES = [
    ("ccxt_params", {"options": {"defaultType": "spot"}}),
    ("watch_params", {"name": "ticker"}),
    ("mode", "poll"),
    ("poll_interval_s", 5.0),
    ("ccxt_id", "okx"),
]


@pytest.mark.parametrize(("field_name", "value"), CHANGES, ids=[c[0] for c in CHANGES])
def test_a_changed_exchange_parameter_rewrites_the_spec(field_name: str, value: Any) -> None:
    running = {"bin": spec("bin", (BTC,))}
    result = run([replace(row("bin", (BTC,)), **{field_name: value})], running)
    assert [s.job_key for s in result.put] == ["bin"]
    assert getattr(result.put[0], field_name) == value
    assert result.put[0].generation == 0


ALLOW = [
    (None, ["a", "b"], []),
    (frozenset({"a"}), ["a"], ["b"]),
    (frozenset({"zzz"}), [], ["b"]),
]


@pytest.mark.parametrize(("allow", "put", "remove"), ALLOW, ids=["no list", "only a", "none"])
def test_the_daemon_allow_list_keeps_only_named_exchanges(
    allow: frozenset[str] | None, put: list[str], remove: list[str]
) -> None:
    result = run([row("a", (BTC,)), row("b", (BTC,))], {"b": spec("b", (ETH,))}, allow=allow)
    assert [s.job_key for s in result.put] == put
    assert list(result.remove) == remove


BAD_ROWS = [
    ("unknown ccxt id", row("bad", (BTC,), ccxt_id="nosuch"), ("bad", ""), "unknown ccxt id"),
    ("bad mode", row("bad", (BTC,), mode="carrier-pigeon"), ("bad", "mode"), "mode"),
    (
        "zero poll interval",
        row("bad", (BTC,), poll_interval_s=0),
        ("bad", "poll_interval_s"),
        "poll_interval",
    ),
    ("hash in name", row("bad#1", (BTC,)), ("bad#1", "name"), "without '#'"),
]


@pytest.mark.parametrize(("bad", "label", "error"), [b[1:] for b in BAD_ROWS],
                         ids=[b[0] for b in BAD_ROWS])  # fmt: skip
def test_a_bad_exchange_row_is_reported_and_skipped_without_stopping_others(
    bad: ExchangeSnapshot, label: tuple[str, str], error: str
) -> None:
    result = run([bad, row("good", (BTC,))], {})
    assert [s.job_key for s in result.put] == ["good"]
    assert [(r.table, r.name, r.column) for r in result.skipped] == [("exchanges", *label)]
    assert error in result.skipped[0].error


def test_a_bad_symbol_skips_that_symbol_only() -> None:
    result = run([row("bin", (BTC, "not a symbol", ETH)), row("okx", (SOL,))], {})
    assert {s.job_key: s.symbols for s in result.put} == {"bin": (BTC, ETH), "okx": (SOL,)}
    assert result.skipped == (
        SkippedRow("symbols", "not a symbol", "symbol", "malformed symbol 'not a symbol'", "bin"),
    )


def test_a_bad_exchange_row_removes_its_running_job() -> None:
    result = run([row("bin", (BTC,), ccxt_id="nosuch")], {"bin": spec("bin", (BTC,))})
    assert result.remove == ("bin",)
    assert (result.skipped[0].table, result.skipped[0].name) == ("exchanges", "bin")


def test_an_exchange_above_the_shard_size_is_split_into_numbered_shards() -> None:
    result = run([row("big", symbols(1000))], {}, shard_size=200)
    assert [s.job_key for s in result.put] == [f"big#{i}" for i in range(5)]
    assert all(len(s.symbols) == 200 and list(s.symbols) == sorted(s.symbols) for s in result.put)
    assert {s.exchange for s in result.put} == {"big"}


def _stored(result: Plan, running: dict[str, JobSpec] | None = None) -> dict[str, JobSpec]:
    stored = {key: value for key, value in (running or {}).items() if key not in result.remove}
    stored.update({s.job_key: replace(s, generation=1) for s in result.put})
    return stored


def _where(running: dict[str, JobSpec]) -> dict[str, str]:
    return {symbol: key for key, s in running.items() for symbol in s.symbols}


def test_adding_one_symbol_to_a_thousand_symbol_exchange_moves_no_existing_symbol() -> None:
    running = _stored(run([row("big", symbols(1000))], {}))
    result = run([row("big", (*symbols(1000), "ZZZ/USDT"))], running)
    after = _where(_stored(result, running))
    assert all(after[symbol] == key for symbol, key in _where(running).items())
    assert [s.job_key for s in result.put] == ["big#5"]
    assert after["ZZZ/USDT"] == "big#5"


def test_new_symbols_fill_shards_with_room_before_opening_new_ones() -> None:
    running = _stored(run([row("big", symbols(1000))], {}))
    dropped = set(symbols(5, start=200))  # five symbols of big#1
    rows = [row("big", (*[s for s in symbols(1000) if s not in dropped], *symbols(3, 5000)))]
    result = run(rows, running)
    after = _where(_stored(result, running))
    assert [s.job_key for s in result.put] == ["big#1"]
    assert {after[s] for s in symbols(3, 5000)} == {"big#1"}


def test_a_shrinking_exchange_dissolves_only_its_smallest_shard() -> None:
    running = _stored(run([row("big", symbols(1000))], {}))
    # big#0 and big#1 each lose half: 800 symbols need 4 shards, so big#1 (the
    # smallest, highest index on a tie) is dissolved into big#0's free room.
    keep = symbols(100) + symbols(100, start=200) + symbols(600, start=400)
    result = run([row("big", keep)], running)
    stored = _stored(result, running)
    assert sorted(stored) == ["big#0", "big#2", "big#3", "big#4"]
    assert result.remove == ("big#1",)
    moved = {s for s, key in _where(stored).items() if _where(running)[s] != key}
    assert moved == set(symbols(100, start=200))


def test_an_exchange_that_shrinks_to_the_shard_size_becomes_one_job_named_after_it() -> None:
    running = _stored(run([row("big", symbols(1000))], {}))
    result = run([row("big", symbols(150))], running)
    assert [s.job_key for s in result.put] == ["big"]
    assert result.put[0].symbols == symbols(150)
    assert list(result.remove) == [f"big#{i}" for i in range(5)]


def test_an_exchange_that_grows_past_the_shard_size_keeps_its_symbols_in_shard_zero() -> None:
    running = {"big": spec("big", symbols(200, start=100))}
    result = run([row("big", symbols(300))], running, shard_size=200)
    stored = _stored(result, running)
    assert stored["big#0"].symbols == symbols(200, start=100)
    assert stored["big#1"].symbols == symbols(100)
    assert result.remove == ("big",)


def test_a_smaller_shard_size_trims_overfull_shards() -> None:
    running = _stored(run([row("big", symbols(400))], {}, shard_size=200))
    result = run([row("big", symbols(400))], running, shard_size=100)
    stored = _stored(result, running)
    assert len(stored) == 4 and all(len(s.symbols) == 100 for s in stored.values())
    assert stored["big#0"].symbols == symbols(100)


def test_the_plan_module_imports_neither_redis_nor_sqlalchemy() -> None:
    code = (
        "import sys, service.beat.plan;"
        "bad = [m for m in ('redis', 'sqlalchemy') if m in sys.modules];"
        "print(*bad); sys.exit(1 if bad else 0)"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout + completed.stderr


@pytest.mark.parametrize(
    ("other", "same"),
    [
        (spec("bin", (BTC,), generation=1), True),
        (spec("bin", (BTC, ETH), generation=7), False),
        (spec("bin", (BTC,), generation=7, mode="poll"), False),
        (spec("bin", (BTC,), generation=7, ccxt_params={"a": 1}), False),
    ],
    ids=["generation only", "symbols", "mode", "ccxt params"],
)
def test_the_content_comparison_the_plan_uses_ignores_only_the_generation(
    other: JobSpec, same: bool
) -> None:
    base = spec("bin", (BTC,), generation=7)
    assert base.same_content(other) is same


def test_rows_the_load_could_not_read_come_first_and_follow_the_allow_list() -> None:
    unread = (
        SkippedRow("exchanges", "bad", "ccxt_params", "not valid JSON", "bad"),
        SkippedRow("symbols", "BTC/USDT", "enabled", "enabled is 'yes'", "bin"),
    )
    loaded = LoadedRows((row("bin", (BTC, "nope")),), unread)
    assert run(loaded, {}).skipped[:2] == unread
    assert [s.job_key for s in run(loaded, {}).put] == ["bin"]
    assert [r.name for r in run(loaded, {}, allow=frozenset({"bin"})).skipped] == [
        "BTC/USDT",
        "nope",
    ]
