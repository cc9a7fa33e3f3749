"""Settings: read once from the environment, validated, errors that name the variable."""

from __future__ import annotations

import subprocess

import pytest
import redis
import sqlalchemy
from dramatiq import Message

from bench.procs import BIN
from service.broker import build_broker
from service.db.engine import make_engine
from service.errors import ConfigError
from service.logs import redact_text
from service.redis_client import sync_client
from service.sentinel_url import SentinelUrl, parse_sentinel_url
from service.settings import Settings, redact_url
from tests.private_redis import private_redis


def test_defaults_are_the_embedded_ones() -> None:
    settings = Settings.from_env({})
    assert settings.database_url.startswith("sqlite:///")
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert (settings.reconcile_interval_s, settings.shard_size, settings.log_format) == (
        300.0,
        200,
        "console",
    )
    assert settings.daemon_exchanges is None


def test_the_field_defaults_and_the_variable_defaults_agree() -> None:
    # Settings() is what tests and service.streaming.job_config see when nothing is set.
    assert Settings() == Settings.from_env({})


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("RECONCILE_INTERVAL_S", "soon", "RECONCILE_INTERVAL_S='soon': expected a number"),
        ("HEARTBEAT_INTERVAL_S", "-1", "HEARTBEAT_INTERVAL_S='-1': expected a positive number"),
        ("TICKER_MAX_RETRIES", "1.5", "TICKER_MAX_RETRIES='1.5': expected a whole number"),
        ("SHARD_SIZE", "0", "SHARD_SIZE='0': expected a whole number above 0"),
        ("PORT", "70000", "PORT='70000': expected a TCP port"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT='xml': expected one of json, console"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL='loud': expected one of DEBUG"),
        ("LEASE_TTL_S", "0.5", "LEASE_TTL_S=0.5: expected at least 1 second"),
        ("REDIS_URL", "http://x", "REDIS_URL='http://x': expected redis://"),
        ("DATABASE_URL", "nonsense", "DATABASE_URL='nonsense': expected a URL"),
    ],
)
def test_a_bad_value_names_the_variable_and_what_was_expected(
    name: str, value: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as error:
        Settings.from_env({name: value})
    assert expected in str(error.value)


def test_a_bad_setting_stops_a_command_with_a_readable_message() -> None:
    done = subprocess.run(
        [str(BIN / "ticker-service"), "price", "BTC/USDT"],
        env={"PATH": str(BIN), "STALE_AFTER_S": "a while"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "error: STALE_AFTER_S='a while': expected a number of seconds"


def test_the_allow_list_is_a_set_of_names() -> None:
    settings = Settings.from_env({"TICKER_DAEMON_EXCHANGES": " binance, okx ,,"})
    assert settings.daemon_exchanges == frozenset({"binance", "okx"})


def test_redis_parts_build_a_url_when_redis_url_is_unset() -> None:
    env = {"REDIS_HOST": "cache", "REDIS_PORT": "6380", "REDIS_DB": "2", "REDIS_PASSWORD": "p@ss"}
    assert Settings.from_env(env).redis_url == "redis://:p%40ss@cache:6380/2"
    assert Settings.from_env({**env, "REDIS_URL": "redis://other:1/0"}).redis_url == (
        "redis://other:1/0"
    )


def test_herokus_postgres_url_is_accepted_and_reaches_postgres(postgres_server_url: str) -> None:
    heroku_form = "postgres://" + postgres_server_url.split("://", 1)[1]
    settings = Settings.from_env({"DATABASE_URL": heroku_form})
    assert settings.database_url.startswith("postgresql://")
    with make_engine(settings.database_url).connect() as conn:
        assert conn.execute(sqlalchemy.text("select 1")).scalar() == 1


def test_a_rediss_url_with_a_self_signed_certificate_works_for_clients_and_the_broker() -> None:
    with private_redis(tls=True) as url:
        settings = Settings.from_env({"REDIS_URL": url})
        assert "ssl_cert_reqs=none" in settings.redis_url
        assert sync_client(settings.redis_url).ping() is True
        broker = build_broker(settings)
        broker.declare_queue("health")
        broker.enqueue(Message("health", "record_heartbeat", (), {}, {}))
        assert sync_client(settings.redis_url).llen("dramatiq:health") == 1
        broker.close()
        strict = Settings.from_env({"REDIS_URL": url, "REDIS_SSL_CERT_REQS": "required"})
        with pytest.raises(redis.ConnectionError):
            sync_client(strict.redis_url).ping()


def test_urls_are_shown_without_their_password() -> None:
    assert redact_url("postgresql://app:hunter2@db:5432/x") == "postgresql://app:***@db:5432/x"
    assert redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "redis+sentinel://127.0.0.1:26379/mymaster/0",
            SentinelUrl((("127.0.0.1", 26379),), "mymaster", 0),
        ),
        (
            "redis+sentinel://h1:26379,h2:26380, h3:26381/mymaster/3",
            SentinelUrl((("h1", 26379), ("h2", 26380), ("h3", 26381)), "mymaster", 3),
        ),
        ("redis+sentinel://h1,[::1]/cache", SentinelUrl((("h1", 26379), ("::1", 26379)), "cache")),
        (
            "redis+sentinel://app:p%40ss@h1:26379/mymaster/0?sentinel_password=s%26cret",
            SentinelUrl((("h1", 26379),), "mymaster", 0, "app", "p@ss", "s&cret"),
        ),
    ],
)
def test_a_sentinel_url_names_its_sentinels_service_and_database(
    url: str, expected: SentinelUrl
) -> None:
    assert Settings.from_env({"REDIS_URL": url}).redis_url == url
    parsed = parse_sentinel_url(url)
    assert parsed == expected
    assert (parsed.password, parsed.sentinel_password) == (
        expected.password,
        expected.sentinel_password,
    )


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis+sentinel:///mymaster/0", "no Sentinel host"),
        ("redis+sentinel://:pw@/mymaster", "no Sentinel host"),
        ("redis+sentinel://h1:26379", "no service name"),
        ("redis+sentinel://h1:26379/", "no service name"),
        ("redis+sentinel://h1:port/mymaster/0", "Sentinel 'h1:port' has a bad port"),
        ("redis+sentinel://h1:26379,h2:99999/mymaster", "Sentinel 'h2:99999' has a bad port"),
        ("redis+sentinel://:26379/mymaster", "Sentinel ':26379' has no host name"),
        ("redis+sentinel://h1/mymaster/zero", "database 'zero' is not a number"),
        ("redis+sentinel://h1/mymaster/0/x", "too many path segments"),
        ("redis+sentinel://h1/mymaster?db=1", "unknown option db"),
        ("rediss+sentinel://h1/mymaster", "rediss+sentinel:// (TLS to Sentinels) is not supported"),
    ],
)
def test_a_bad_sentinel_url_names_redis_url_and_the_problem(url: str, problem: str) -> None:
    with pytest.raises(ConfigError) as error:
        Settings.from_env({"REDIS_URL": url})
    message = str(error.value)
    assert message.startswith("REDIS_URL='") and problem in message
    assert "expected redis+sentinel://[:password@]host:port" in message


def test_a_bad_sentinel_url_never_shows_a_password() -> None:
    url = "redis+sentinel://:hunter2@h1:bad/mymaster?sentinel_password=swordfish"
    with pytest.raises(ConfigError) as error:
        Settings.from_env({"REDIS_URL": url})
    assert "hunter2" not in str(error.value) and "swordfish" not in str(error.value)
    assert redact_url(url) == "redis+sentinel://:***@h1:bad/mymaster?sentinel_password=***"
    assert redact_text(f"connecting to {url}") == f"connecting to {redact_url(url)}"
