"""What the dev runner tells the developer once everything is started: where to look."""

from __future__ import annotations

from urllib.parse import urlsplit

from service.devrun.ports import LOOPBACK
from service.keys import Keys
from service.sentinel_url import is_sentinel_url, parse_sentinel_url
from service.settings import redact_url


def where_to_look(
    *, redis_url: str, embedded: bool, web_port: int, keys: Keys, exchange: str | None
) -> list[str]:
    """The lines to print; ``exchange`` is one to show (a demo one when there is)."""
    env = f"REDIS_URL={redact_url(redis_url)} " if embedded else ""
    web = f"http://{LOOPBACK}:{web_port}"
    lines = [
        f"status:  {env}ticker-service status --watch",
        f"web:     {web}/healthz  {web}/metrics  {web}/tickers",
    ]
    if exchange is not None:
        lines[-1] += f"  {web}/tickers/{exchange}"
        board = keys.board(exchange)
        if is_sentinel_url(redis_url):
            lines.append(f"redis:   HGETALL {board} on {master_cli(redis_url)}")
        else:
            lines.append(f"redis:   {redis_cli(redis_url)} HGETALL {board}")
    lines.append("stop:    Ctrl-C (or SIGTERM) stops every process started here")
    return lines


def master_cli(redis_url: str) -> str:
    """How to find the master of a ``redis+sentinel://`` URL with ``redis-cli``."""
    where = parse_sentinel_url(redis_url)
    host, port = where.sentinels[0]
    db = f" (database {where.db})" if where.db else ""
    ask = f"redis-cli -h {host} -p {port} SENTINEL get-master-addr-by-name {where.service_name}"
    return f"the master{db} that `{ask}` names"


def redis_cli(redis_url: str) -> str:
    """``redis-cli`` with the host, port and database of ``redis_url`` (never its password)."""
    parts = urlsplit(redis_url)
    argv = ["redis-cli"]
    if parts.hostname and parts.hostname not in (LOOPBACK, "localhost"):
        argv += ["-h", parts.hostname]
    argv += ["-p", str(parts.port or 6379)]
    db = parts.path.strip("/")
    if db and db != "0":
        argv += ["-n", db]
    if parts.scheme == "rediss":
        argv.append("--tls")
    return " ".join(argv)
