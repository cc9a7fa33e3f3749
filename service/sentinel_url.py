"""``redis+sentinel://`` URLs: a Sentinel set that names the current Redis master.

The form, as the ``redis-sentinel-url`` package and several other clients write it::

    redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/service_name[/db]
        [?sentinel_password=...]

Each host is a Sentinel (port 26379 when omitted). The user and password are
the master's (and its replicas'); ``sentinel_password`` is only for Sentinels
that have ``requirepass`` set. Errors are ``ConfigError`` naming REDIS_URL and
never show a password.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from service.errors import ConfigError
from service.redaction import redact_url

SCHEME = "redis+sentinel"
TLS_SCHEME = "rediss+sentinel"
DEFAULT_SENTINEL_PORT = 26379
FORM = "redis+sentinel://[:password@]host:port[,host:port...]/service_name[/db]"
QUERY_OPTIONS = ("sentinel_password",)


@dataclass(frozen=True)
class SentinelUrl:
    """What a ``redis+sentinel://`` URL says; passwords stay out of repr()."""

    sentinels: tuple[tuple[str, int], ...]
    service_name: str
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sentinel_password: str | None = field(default=None, repr=False)


def is_sentinel_url(url: str) -> bool:
    """True for a ``redis+sentinel://`` (or the unsupported ``rediss+sentinel://``) URL."""
    return url.partition("://")[0].lower() in (SCHEME, TLS_SCHEME)


def parse_sentinel_url(url: str) -> SentinelUrl:
    """The parts of ``url``; raises ConfigError naming REDIS_URL and what is wrong."""
    parts = urlsplit(url)
    if parts.scheme.lower() == TLS_SCHEME:
        _fail(url, "rediss+sentinel:// (TLS to Sentinels) is not supported; use redis+sentinel://")
    userinfo, _, hosts = parts.netloc.rpartition("@")
    username, _, password = userinfo.partition(":")
    service_name, db = _path(url, parts.path)
    return SentinelUrl(
        sentinels=tuple(_address(url, host) for host in _hosts(url, hosts)),
        service_name=service_name,
        db=db,
        username=unquote(username) or None,
        password=unquote(password) or None,
        sentinel_password=_query(url, parts.query).get("sentinel_password") or None,
    )


def _fail(url: str, problem: str) -> None:
    raise ConfigError(f"REDIS_URL={redact_url(url)!r}: {problem}; expected {FORM}")


def _hosts(url: str, hosts: str) -> list[str]:
    found = [host.strip() for host in hosts.split(",") if host.strip()]
    if not found:
        _fail(url, "no Sentinel host")
    return found


def _address(url: str, host: str) -> tuple[str, int]:
    # "[::1]:26379" for IPv6; the port is what follows the last colon outside brackets.
    name, colon, port = host.rpartition(":") if not host.endswith("]") else (host, "", "")
    if not colon:
        name, port = host, str(DEFAULT_SENTINEL_PORT)
    name = name.removeprefix("[").removesuffix("]")
    if not name:
        _fail(url, f"Sentinel {host!r} has no host name")
    if not port.isdigit() or not 0 < int(port) < 65536:
        _fail(url, f"Sentinel {host!r} has a bad port (expected 1-65535)")
    return name, int(port)


def _path(url: str, path: str) -> tuple[str, int]:
    segments = [unquote(segment) for segment in path.strip("/").split("/") if segment]
    if not segments:
        _fail(url, "no service name (the name in 'sentinel monitor NAME ...')")
    if len(segments) > 2:
        _fail(url, f"too many path segments {path!r}")
    db = segments[1] if len(segments) == 2 else "0"
    if not db.isdigit():
        _fail(url, f"database {db!r} is not a number")
    return segments[0], int(db)


def _query(url: str, query: str) -> dict[str, str]:
    options = dict(parse_qsl(query))
    unknown = sorted(set(options) - set(QUERY_OPTIONS))
    if unknown:
        _fail(url, f"unknown option {', '.join(unknown)} (known: {', '.join(QUERY_OPTIONS)})")
    return options
