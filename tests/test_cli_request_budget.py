"""``exchanges add|set --requests-per-minute``: the shared history budget (SQLite, Postgres)."""

from __future__ import annotations

import pytest

from service.cli import main
from service.db.session import migrated_session
from service.history.exchange_config import load_exchange_config


@pytest.fixture
def cli(monkeypatch, capsys, redis_url, key_prefix, database_url):
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("TICKER_KEY_PREFIX", key_prefix)
    monkeypatch.setenv("DATABASE_URL", database_url)

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    assert run("db", "upgrade")[0] == 0
    return run


def budget(database_url: str, name: str) -> int | None:
    with migrated_session(database_url) as session:
        return load_exchange_config(session, name).requests_per_minute


def test_an_exchange_added_with_a_budget_keeps_it_and_set_changes_or_clears_it(cli, database_url):
    assert (
        cli("exchanges", "add", "sim", "--ccxt-id", "binance", "--requests-per-minute", "120")[0]
        == 0
    )
    assert budget(database_url, "sim") == 120
    code, out, _ = cli("exchanges", "set", "sim", "--requests-per-minute", "600")
    assert (code, budget(database_url, "sim")) == (0, 600)
    assert "600" in out
    assert cli("exchanges", "set", "sim", "--requests-per-minute", "auto")[0] == 0
    assert budget(database_url, "sim") is None


def test_an_exchange_added_without_a_budget_takes_ccxts(cli, database_url):
    assert cli("exchanges", "add", "sim", "--ccxt-id", "binance")[0] == 0
    assert budget(database_url, "sim") is None


@pytest.mark.parametrize("bad", ["1", "0", "-5", "fast"])
def test_a_bad_budget_is_refused_naming_the_option_and_changes_nothing(cli, database_url, bad):
    assert (
        cli("exchanges", "add", "sim", "--ccxt-id", "binance", "--requests-per-minute", "90")[0]
        == 0
    )
    with pytest.raises(SystemExit) as exit_:
        cli("exchanges", "set", "sim", "--requests-per-minute", bad)
    assert exit_.value.code == 2
    assert budget(database_url, "sim") == 90


def test_setting_the_budget_of_a_missing_exchange_names_it(cli):
    code, _, err = cli("exchanges", "set", "nope", "--requests-per-minute", "60")
    assert code != 0 and "'nope'" in err
