"""What the dev runner tells the developer once everything is started: where to look."""

from __future__ import annotations

from urllib.parse import urlsplit

from service.devrun.ports import LOOPBACK
from service.keys import Keys
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
        lines.append(f"redis:   {redis_cli(redis_url)} HGETALL {keys.board(exchange)}")
    lines.append("stop:    Ctrl-C (or SIGTERM) stops every process started here")
    return lines


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
