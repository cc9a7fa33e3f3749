"""The db, exchanges and symbols commands, through ``service.cli.main`` and the real script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from service.cli import main
from service.keys import Keys
from service.settings import Settings, redact_url

Run = tuple[int, str, str]
TICKERS_ONLY = {"trades": False, "candles": False, "history_since": None}
Cli = Callable[..., Run]


@pytest.fixture
def cli(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    redis_url: str,
    key_prefix: str,
) -> Cli:
    """``cli(url, *argv) -> (exit code, stdout, stderr)`` with DATABASE_URL set to ``url``.

    Edits tell the beat through the test's Redis, under the test's key prefix.
    """
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("TICKER_KEY_PREFIX", key_prefix)

    def run(url: str, *argv: str) -> Run:
        monkeypatch.setenv("DATABASE_URL", url)
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def migrated(cli: Cli, database_url: str) -> str:
    assert cli(database_url, "db", "upgrade")[0] == 0
    return database_url


@pytest.fixture
def sqlite_migrated(cli: Cli, sqlite_url: str) -> str:
    assert cli(sqlite_url, "db", "upgrade")[0] == 0
    return sqlite_url


def _json(cli: Cli, url: str, *argv: str) -> list[dict[str, object]]:
    code, out, _ = cli(url, *argv, "--json")
    assert code == 0
    return list(json.loads(out))


def test_db_upgrade_then_current_reports_the_head_revision(cli: Cli, database_url: str) -> None:
    assert cli(database_url, "db", "current")[:2] == (
        1,
        f"database {_shown(database_url)} was never migrated: run `ticker-service db upgrade`\n",
    )
    code, out, _ = cli(database_url, "db", "upgrade")
    assert (code, out.endswith("is at revision 0004\n")) == (0, True)
    assert cli(database_url, "db", "current")[:2] == (
        0,
        f"database {_shown(database_url)} is at revision 0004 (head)\n",
    )


def _shown(url: str) -> str:
    return redact_url(Settings.from_env({"DATABASE_URL": url}).database_url)


def test_db_downgrade_base_empties_the_database(cli: Cli, migrated: str) -> None:
    code, out, _ = cli(migrated, "db", "downgrade", "base")
    assert (code, out.endswith("is at revision base (no tables)\n")) == (0, True)
    code, _, err = cli(migrated, "exchanges", "list")
    assert (code, "run `ticker-service db upgrade` first" in err) == (2, True)


def test_operators_manage_exchanges_and_symbols_end_to_end(cli: Cli, migrated: str) -> None:
    params = '{"options": {"fetchMarkets": {"types": ["spot"]}}}'
    added = cli(migrated, "exchanges", "add", "binance", "--ccxt-id", "binance", "--params", params)
    assert added[:2] == (0, "added exchange binance (ccxt binance, mode auto, enabled)\n")
    kraken = ["kraken", "--ccxt-id", "kraken", "--mode", "poll", "--poll-interval", "5"]
    assert cli(migrated, "exchanges", "add", *kraken, "--disabled")[0] == 0
    assert cli(migrated, "symbols", "add", "binance", "BTC/USDT", "ETH/USDT")[:2] == (
        0,
        "added 2 symbol(s) to binance: BTC/USDT ETH/USDT\n",
    )
    assert cli(migrated, "symbols", "add", "kraken", "BTC/USD")[0] == 0
    assert cli(migrated, "symbols", "disable", "binance", "ETH/USDT")[:2] == (
        0,
        "disabled 1 symbol(s) on binance\n",
    )
    exchanges = _json(cli, migrated, "exchanges", "list")
    assert [
        (e["name"], e["enabled"], e["symbols_enabled"], e["symbols_total"]) for e in exchanges
    ] == [
        ("binance", True, 1, 2),
        ("kraken", False, 1, 1),
    ]
    assert exchanges[0]["ccxt_params"] == json.loads(params)
    assert cli(migrated, "exchanges", "enable", "kraken")[1] == "exchange kraken enabled\n"
    assert cli(migrated, "exchanges", "disable", "binance")[1] == "exchange binance disabled\n"
    assert cli(migrated, "exchanges", "disable", "binance")[1] == (
        "exchange binance was already disabled\n"
    )
    assert cli(migrated, "symbols", "enable", "binance", "ETH/USDT")[0] == 0
    assert _json(cli, migrated, "symbols", "list", "binance") == [
        {"exchange": "binance", "symbol": "BTC/USDT", "enabled": True, **TICKERS_ONLY},
        {"exchange": "binance", "symbol": "ETH/USDT", "enabled": True, **TICKERS_ONLY},
    ]
    assert cli(migrated, "symbols", "remove", "binance", "ETH/USDT")[0] == 0
    assert cli(migrated, "exchanges", "remove", "binance")[1] == (
        "removed exchange binance and its 1 symbol(s)\n"
    )
    assert _json(cli, migrated, "symbols", "list") == [
        {"exchange": "kraken", "symbol": "BTC/USD", "enabled": True, **TICKERS_ONLY}
    ]


def test_list_prints_an_aligned_table(cli: Cli, sqlite_migrated: str) -> None:
    url = sqlite_migrated
    cli(url, "exchanges", "add", "binance-eu", "--ccxt-id", "binance")
    cli(url, "exchanges", "add", "okx", "--ccxt-id", "okx", "--disabled")
    cli(url, "symbols", "add", "okx", "BTC/USDT:USDT")
    lines = cli(url, "exchanges", "list")[1].splitlines()
    assert lines[0].split() == [
        "NAME",
        "CCXT",
        "ID",
        "ENABLED",
        "MODE",
        "POLL",
        "S",
        "SYMBOLS",
        "PARAMS",
    ]
    assert lines[1].split() == ["binance-eu", "binance", "yes", "auto", "2", "0/0", "{}"]
    assert lines[2].split() == ["okx", "okx", "no", "auto", "2", "1/1", "{}"]
    column = lines[0].index("ENABLED")
    assert lines[1][column:].startswith("yes") and lines[2][column:].startswith("no ")
    symbol_lines = cli(url, "symbols", "list")[1].splitlines()
    assert symbol_lines == [
        "EXCHANGE  SYMBOL         ENABLED  TRADES  CANDLES  SINCE",
        "okx       BTC/USDT:USDT  yes      no      no",
    ]


def test_empty_lists_say_how_to_add(cli: Cli, sqlite_migrated: str) -> None:
    assert "ticker-service exchanges add" in cli(sqlite_migrated, "exchanges", "list")[1]
    assert "ticker-service symbols add" in cli(sqlite_migrated, "symbols", "list")[1]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--ccxt-id", "binanse"], "unknown ccxt exchange id 'binanse'; did you mean binance"),
        (["--ccxt-id", "binance", "--params", "{bad"], "--params is not valid JSON"),
        (["--ccxt-id", "binance", "--params", "[1, 2]"], "--params must be a JSON object"),
        (
            ["--ccxt-id", "binance", "--mode", "stream"],
            "mode 'stream' is not one of auto, ws, poll",
        ),
        (["--ccxt-id", "binance", "--params", '{"apiKey": "k"}'], "holds a credential (apiKey)"),
        (["--ccxt-id", "binance", "--params", '{"secret": "s"}'], "{NAME}_SECRET"),
        (["--ccxt-id", "binance", "--watch-params", "1"], "--watch-params must be a JSON object"),
        (["--ccxt-id", "binance", "--poll-interval", "0"], "positive number of seconds"),
    ],
)
def test_exchanges_add_rejects_bad_input_and_writes_nothing(
    cli,
    sqlite_migrated: str,
    argv: list[str],
    message: str,
) -> None:
    code, out, err = cli(sqlite_migrated, "exchanges", "add", "binance", *argv)
    assert (code, out) == (2, "")
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err
    assert _json(cli, sqlite_migrated, "exchanges", "list") == []


def test_rejections_read_the_same_on_postgres(cli: Cli, migrated: str) -> None:
    cli(migrated, "exchanges", "add", "binance", "--ccxt-id", "binance")
    cli(migrated, "symbols", "add", "binance", "BTC/USDT")
    code, _, err = cli(migrated, "exchanges", "add", "binance", "--ccxt-id", "binance")
    assert (code, err) == (2, "error: an exchange named 'binance' already exists\n")
    code, _, err = cli(migrated, "symbols", "add", "binance", "ETH/USDT", "BTC/USDT")
    assert (code, err) == (2, "error: exchange 'binance' already has BTC/USDT\n")
    assert [s["symbol"] for s in _json(cli, migrated, "symbols", "list")] == ["BTC/USDT"]


def test_symbols_add_is_all_or_nothing_on_a_malformed_symbol(
    cli: Cli, sqlite_migrated: str
) -> None:
    cli(sqlite_migrated, "exchanges", "add", "binance", "--ccxt-id", "binance")
    code, out, err = cli(sqlite_migrated, "symbols", "add", "binance", "ETH/USDT", "btc-usdt")
    assert (code, out) == (2, "")
    assert err == (
        "error: exchange 'binance' symbol 'btc-usdt': not a unified symbol: expected BASE/QUOTE"
        " or BASE/QUOTE:SETTLE in capital letters and digits, e.g. BTC/USDT;"
        " did you mean 'BTC/USDT'?\n"
    )
    assert _json(cli, sqlite_migrated, "symbols", "list") == []


def test_symbols_of_an_unknown_exchange_are_refused(cli: Cli, sqlite_migrated: str) -> None:
    cli(sqlite_migrated, "exchanges", "add", "binance", "--ccxt-id", "binance")
    for argv in (["add", "binanse", "BTC/USDT"], ["list", "binanse"], ["disable", "x", "A/B"]):
        code, _, err = cli(sqlite_migrated, "symbols", *argv)
        assert code == 2 and err.startswith(f"error: no exchange named {argv[1]!r}")
    code, _, err = cli(sqlite_migrated, "exchanges", "remove", "binanse")
    assert (code, err) == (2, "error: no exchange named 'binanse': did you mean binance?\n")


@pytest.mark.parametrize(
    "argv",
    [
        ["exchanges", "list"],
        ["exchanges", "add", "binance", "--ccxt-id", "binance"],
        ["exchanges", "disable", "binance"],
        ["symbols", "list"],
        ["symbols", "add", "binance", "BTC/USDT"],
    ],
)
def test_commands_on_a_never_migrated_database_say_to_run_db_upgrade(
    cli,
    sqlite_url: str,
    argv: list[str],
) -> None:
    code, out, err = cli(sqlite_url, *argv)
    assert (code, out) == (2, "")
    assert err.startswith("error: the database sqlite:///")
    assert err.endswith("has no ticker-service tables: run `ticker-service db upgrade` first\n")


def test_an_unreachable_database_is_one_line_without_the_password(cli: Cli) -> None:
    code, _, err = cli("postgres://ticker:s3cret@127.0.0.1:1/db", "exchanges", "list")
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("error: reading the revision failed on postgresql+psycopg2://ticker:***@")
    assert "s3cret" not in err


def _script() -> str:
    return str(Path(sys.executable).with_name("ticker-service"))


def test_the_installed_console_script_migrates_and_validates(tmp_path: Path) -> None:
    # No Redis on port 1: an edit is still saved, and the CLI says the beat was not told.
    env = {
        **os.environ,
        "DATABASE_URL": "sqlite:///ops.db",
        "LOG_FORMAT": "json",
        "REDIS_URL": "redis://127.0.0.1:1/0",
    }

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [_script(), *argv], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )

    assert run("db", "upgrade").returncode == 0
    assert (tmp_path / "ops.db").exists()
    added = run("exchanges", "add", "binance", "--ccxt-id", "binance")
    assert (added.returncode, added.stdout) == (
        0,
        "added exchange binance (ccxt binance, mode auto, enabled)\n",
    )
    assert "saved, but the beat could not be told" in added.stderr
    assert "next reconcile (RECONCILE_INTERVAL_S)" in added.stderr
    bad = run("exchanges", "add", "kraken", "--ccxt-id", "krakn")
    assert bad.returncode == 2
    assert bad.stderr == (
        "error: exchange 'kraken': unknown ccxt exchange id 'krakn'; did you mean kraken?\n"
    )


def _wakeups(pubsub: redis.client.PubSub) -> list[str]:
    reasons = []
    while (message := pubsub.get_message(timeout=0.5)) is not None:
        if message["type"] == "message":
            reasons.append(json.loads(message["data"])["reason"])
    return reasons


def test_every_edit_tells_the_beat_and_a_no_op_does_not(
    cli: Cli, sqlite_migrated: str, redis_client: redis.Redis, keys: Keys
) -> None:
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(keys.beat_wakeup())
    try:
        pubsub.get_message(timeout=1)  # the subscription's confirmation
        url = sqlite_migrated
        code, _, err = cli(url, "exchanges", "add", "binance", "--ccxt-id", "binance")
        assert (code, err) == (0, "beat notified: it applies the edit now\n")
        for argv in (
            ["symbols", "add", "binance", "BTC/USDT", "ETH/USDT"],
            ["symbols", "disable", "binance", "ETH/USDT"],
            ["symbols", "disable", "binance", "ETH/USDT"],  # already: nothing to tell
            ["symbols", "enable", "binance", "ETH/USDT"],
            ["symbols", "remove", "binance", "ETH/USDT"],
            ["exchanges", "disable", "binance"],
            ["exchanges", "enable", "binance"],
            ["exchanges", "enable", "binance"],  # already
            ["exchanges", "remove", "binance"],
        ):
            assert cli(url, *argv)[0] == 0
        assert _wakeups(pubsub) == [
            "exchanges add binance",
            "symbols add binance",
            "symbols disabled binance",
            "symbols enabled binance",
            "symbols remove binance",
            "exchanges disabled binance",
            "exchanges enabled binance",
            "exchanges remove binance",
        ]
    finally:
        pubsub.close()


def test_an_edit_with_no_beat_listening_is_saved_and_says_so(
    cli: Cli, sqlite_migrated: str, keys: Keys
) -> None:
    code, out, err = cli(sqlite_migrated, "exchanges", "add", "binance", "--ccxt-id", "binance")
    assert (code, out) == (0, "added exchange binance (ccxt binance, mode auto, enabled)\n")
    assert err == (
        f"note: saved, but no beat is listening on {keys.beat_wakeup()} "
        "(is ticker-scheduler running?); a beat applies the edit when it starts\n"
    )
    assert [row["name"] for row in _json(cli, sqlite_migrated, "exchanges", "list")] == ["binance"]


def test_symbols_add_refuses_a_timeout_that_is_not_positive(cli: Cli, sqlite_migrated: str) -> None:
    assert cli(sqlite_migrated, "exchanges", "add", "binance", "--ccxt-id", "binance")[0] == 0
    argv = ["symbols", "add", "binance", "BTC/USDT", "--wait", "--timeout", "0"]
    code, _, err = cli(sqlite_migrated, *argv)
    assert (code, err) == (2, "error: --timeout must be a positive number of seconds: 0\n")
    assert _json(cli, sqlite_migrated, "symbols", "list") == []
