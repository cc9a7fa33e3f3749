"""Settings read once from the environment into one frozen, validated object.

Every variable the service reads is declared in ``VARIABLES`` (name, default,
meaning); ``.env.example`` lists the same set and a test keeps them in step.
A bad value raises ``ConfigError`` naming the variable and what was expected.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from service.errors import ConfigError
from service.redaction import redact_url
from service.sentinel_url import SCHEME as SENTINEL_SCHEME
from service.sentinel_url import is_sentinel_url, parse_sentinel_url

DEFAULT_DATABASE_URL = "sqlite:///ticker-service.db"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
LOG_FORMATS = ("json", "console")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# name -> (default, meaning). The single list of what the service reads.
VARIABLES: dict[str, tuple[str, str]] = {
    "DATABASE_URL": (DEFAULT_DATABASE_URL, "SQLAlchemy URL; postgres:// is accepted"),
    "REDIS_URL": (
        DEFAULT_REDIS_URL,
        "Redis URL (redis://, rediss://, unix:// or redis+sentinel:// for a Sentinel set)",
    ),
    "REDIS_HOST": ("", "used with REDIS_PORT/REDIS_DB/REDIS_PASSWORD when REDIS_URL is unset"),
    "REDIS_PORT": ("6379", "Redis port when REDIS_URL is unset"),
    "REDIS_DB": ("0", "Redis database number when REDIS_URL is unset"),
    "REDIS_PASSWORD": ("", "Redis password when REDIS_URL is unset"),
    "REDIS_SSL_CERT_REQS": ("none", "certificate check for rediss:// (none|optional|required)"),
    "TICKER_KEY_PREFIX": ("ticker", "prefix of every Redis key the service writes"),
    "DRAMATIQ_NAMESPACE": ("dramatiq", "Redis key namespace of the Dramatiq broker"),
    "LOG_LEVEL": ("INFO", "DEBUG, INFO, WARNING, ERROR or CRITICAL"),
    "LOG_FORMAT": ("console", "json (production) or console (development)"),
    "RECONCILE_INTERVAL_S": ("300", "seconds between database reconciles of the beat"),
    "SUPERVISE_INTERVAL_S": ("1", "seconds between the beat's supervision passes"),
    "HEARTBEAT_INTERVAL_S": ("5", "seconds between a streaming job's heartbeats"),
    "LEASE_TTL_S": (
        "4",
        "lifetime of a job's Redis lease; renewed every second (every third of it if shorter)",
    ),
    "STALE_AFTER_S": ("30", "no tick for this long while subscribed means stale"),
    "TICKER_RECONNECT_DELAY": ("1", "first reconnect delay in seconds (doubles, with jitter)"),
    "TICKER_RECONNECT_MAX_DELAY": ("30", "cap of the reconnect delay in seconds"),
    "TICKER_MAX_RETRIES": ("10", "consecutive failures before a job reports failed"),
    "TICKER_DAEMON_EXCHANGES": ("", "optional comma-separated allow-list of exchange names"),
    "SHARD_SIZE": ("200", "most symbols per streaming job; larger exchanges are sharded"),
    "STREAM_JOBS_PER_PROCESS": ("16", "most streaming jobs one worker process runs at once"),
    "HISTORY_INTERVAL_S": ("5", "seconds between the beat's history planning passes"),
    "HISTORY_TASKS_PER_EXCHANGE": ("4", "most history tasks queued or running per exchange"),
    "HISTORY_PAGES_PER_TASK": ("20", "most pages one history task fetches before it returns"),
    "HISTORY_TASK_TTL_S": (
        "30",
        "a history task's claim without a page written; a killed worker's task is redone after it",
    ),
    "PORT": ("8000", "port of the web process (/healthz, /metrics, /tickers)"),
    "WEB_TOKEN": ("", "optional bearer token for /tickers and /metrics (/healthz stays open)"),
    "HISTORY_RETENTION_DAYS": (
        "",
        "keep trades this many days (Postgres drops whole older months); empty keeps all",
    ),
}


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str = DEFAULT_REDIS_URL
    key_prefix: str = "ticker"
    dramatiq_namespace: str = "dramatiq"
    log_level: str = "INFO"
    log_format: str = "console"
    reconcile_interval_s: float = 300.0
    supervise_interval_s: float = 1.0
    heartbeat_interval_s: float = 5.0
    lease_ttl_s: float = 4.0
    stale_after_s: float = 30.0
    reconnect_delay_s: float = 1.0
    reconnect_max_delay_s: float = 30.0
    max_retries: int = 10
    daemon_exchanges: frozenset[str] | None = None
    shard_size: int = 200
    stream_jobs_per_process: int = 16
    history_interval_s: float = 5.0
    history_tasks_per_exchange: int = 4
    history_pages_per_task: int = 20
    history_task_ttl_s: float = 30.0
    port: int = 8000
    # A secret: kept out of repr() so printing or logging the settings never shows it.
    web_token: str | None = field(default=None, repr=False)
    history_retention_days: int | None = None  # None: keep all history

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (default ``os.environ``); raises ConfigError."""
        reader = _Reader(os.environ if env is None else env)
        settings = cls(
            database_url=normalize_database_url(reader.text("DATABASE_URL")),
            redis_url=redis_url_from_env(reader),
            key_prefix=reader.text("TICKER_KEY_PREFIX"),
            dramatiq_namespace=reader.text("DRAMATIQ_NAMESPACE"),
            log_level=reader.choice("LOG_LEVEL", LOG_LEVELS, upper=True),
            log_format=reader.choice("LOG_FORMAT", LOG_FORMATS),
            reconcile_interval_s=reader.positive_float("RECONCILE_INTERVAL_S"),
            supervise_interval_s=reader.positive_float("SUPERVISE_INTERVAL_S"),
            heartbeat_interval_s=reader.positive_float("HEARTBEAT_INTERVAL_S"),
            lease_ttl_s=reader.positive_float("LEASE_TTL_S"),
            stale_after_s=reader.positive_float("STALE_AFTER_S"),
            reconnect_delay_s=reader.positive_float("TICKER_RECONNECT_DELAY"),
            reconnect_max_delay_s=reader.positive_float("TICKER_RECONNECT_MAX_DELAY"),
            max_retries=reader.positive_int("TICKER_MAX_RETRIES"),
            daemon_exchanges=reader.name_set("TICKER_DAEMON_EXCHANGES"),
            shard_size=reader.positive_int("SHARD_SIZE"),
            stream_jobs_per_process=reader.positive_int("STREAM_JOBS_PER_PROCESS"),
            history_interval_s=reader.positive_float("HISTORY_INTERVAL_S"),
            history_tasks_per_exchange=reader.positive_int("HISTORY_TASKS_PER_EXCHANGE"),
            history_pages_per_task=reader.positive_int("HISTORY_PAGES_PER_TASK"),
            history_task_ttl_s=reader.positive_float("HISTORY_TASK_TTL_S"),
            port=reader.port("PORT"),
            web_token=reader.text("WEB_TOKEN") or None,
            history_retention_days=reader.optional_positive_int("HISTORY_RETENTION_DAYS"),
        )
        if settings.lease_ttl_s < 1:
            raise ConfigError(f"LEASE_TTL_S={settings.lease_ttl_s}: expected at least 1 second")
        return settings


class _Reader:
    """Reads one variable at a time and names it in every error."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def text(self, name: str) -> str:
        value = self.env.get(name, "").strip()
        return value or VARIABLES[name][0]

    def _parse(self, name: str, parse: Callable[[str], Any], expected: str) -> Any:
        raw = self.text(name)
        try:
            return parse(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{name}={raw!r}: expected {expected}") from None

    def positive_float(self, name: str) -> float:
        value = self._parse(name, float, "a number of seconds")
        if not value > 0 or value == float("inf"):
            raise ConfigError(f"{name}={self.text(name)!r}: expected a positive number of seconds")
        return float(value)

    def positive_int(self, name: str) -> int:
        value = self._parse(name, int, "a whole number")
        if value <= 0:
            raise ConfigError(f"{name}={self.text(name)!r}: expected a whole number above 0")
        return int(value)

    def optional_positive_int(self, name: str) -> int | None:
        """A whole number above 0, or None when the variable is empty or unset."""
        return self.positive_int(name) if self.text(name) else None

    def port(self, name: str) -> int:
        value = self._parse(name, int, "a TCP port number")
        if not 0 < value < 65536:
            raise ConfigError(f"{name}={self.text(name)!r}: expected a TCP port (1-65535)")
        return int(value)

    def choice(self, name: str, choices: tuple[str, ...], *, upper: bool = False) -> str:
        raw = self.text(name)
        value = raw.upper() if upper else raw.lower()
        if value not in choices:
            raise ConfigError(f"{name}={raw!r}: expected one of {', '.join(choices)}")
        return value

    def name_set(self, name: str) -> frozenset[str] | None:
        names = frozenset(part.strip() for part in self.text(name).split(",") if part.strip())
        return names or None


def normalize_database_url(url: str) -> str:
    """Accept Heroku's ``postgres://`` form, which SQLAlchemy 2 no longer does."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if "://" not in url:
        raise ConfigError(
            f"DATABASE_URL={redact_url(url)!r}: expected a URL like sqlite:///file.db"
        )
    return url


def redis_url_from_env(reader: _Reader) -> str:
    """REDIS_URL wins; otherwise REDIS_HOST/PORT/DB/PASSWORD; rediss:// gets a cert policy.

    A ``redis+sentinel://`` URL is checked here and kept as written (see
    ``service.sentinel_url``); ``service.redis_client`` turns it into clients.
    """
    url = reader.env.get("REDIS_URL", "").strip()
    if not url and reader.env.get("REDIS_HOST", "").strip():
        port = reader.port("REDIS_PORT")
        db = reader._parse("REDIS_DB", int, "a Redis database number")
        password = reader.env.get("REDIS_PASSWORD", "")
        auth = f":{quote(password, safe='')}@" if password else ""
        url = f"redis://{auth}{reader.text('REDIS_HOST')}:{port}/{db}"
    url = url or DEFAULT_REDIS_URL
    if is_sentinel_url(url):
        parse_sentinel_url(url)  # raises ConfigError naming REDIS_URL and the problem
        return url
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(
            f"REDIS_URL={redact_url(url)!r}: expected redis://, rediss://, unix:// "
            f"or {SENTINEL_SCHEME}://"
        )
    if parts.scheme == "rediss":
        policy = reader.choice("REDIS_SSL_CERT_REQS", ("none", "optional", "required"))
        url = _with_cert_policy(url, policy)
    return url


def _with_cert_policy(url: str, policy: str) -> str:
    # Heroku's managed Redis presents a self-signed certificate: redis-py reads
    # ssl_cert_reqs from the URL, and Dramatiq only takes the URL.
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.setdefault("ssl_cert_reqs", policy)
    return urlunsplit(parts._replace(query=urlencode(query)))
