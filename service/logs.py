"""structlog configuration: JSON in production, readable console in development.

The stdlib loggers of dramatiq, APScheduler and SQLAlchemy go through the same
processors and renderer (``ProcessorFormatter``), and a redaction processor
scrubs secrets from every event before it is rendered.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

SECRET_KEY_PATTERN = re.compile(r"(api_?key|secret|password|passwd|token|private_?key)", re.I)
URL_PASSWORD_PATTERN = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*:)([^@\s]+)(@)", re.I)
QUERY_SECRET_PATTERN = re.compile(
    r"([?&](?:signature|api_?key|secret|token|\w*password)=)[^&\s\"']+", re.I
)
REDACTED = "***"


def redact_text(text: str) -> str:
    """Hide the password of any URL and signed query values (ccxt errors quote URLs)."""
    text = URL_PASSWORD_PATTERN.sub(rf"\1{REDACTED}\3", text)
    return QUERY_SECRET_PATTERN.sub(rf"\1{REDACTED}", text)


def _redact_value(key: str, value: Any) -> Any:
    if SECRET_KEY_PATTERN.search(key) and value not in (None, "", False):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(key, v) for v in value)
    return value


def redact_secrets(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: secret-named fields and URL passwords become ``***``."""
    return {key: _redact_value(key, value) for key, value in event_dict.items()}


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        redact_secrets,
    ]


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is now, not what it was when configured
    (test runners and embedding applications swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


# Tests set this to False (tests/conftest.py), as structlog's testing docs advise:
# a logger cached on first use keeps the processors of that moment, so a later
# ``structlog.testing.capture_logs`` would not reach a module-level ``log`` that
# had already logged, for instance in a CLI command a test ran in-process.
CACHE_LOGGERS = True


def configure_logging(
    log_format: str = "console", level: str = "INFO", *, cache_loggers: bool | None = None
) -> None:
    """Configure structlog and route the stdlib's logs through the same renderer.

    ``cache_loggers`` defaults to ``CACHE_LOGGERS`` (on, except under test).
    """
    if cache_loggers is None:
        cache_loggers = CACHE_LOGGERS
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    shared = _shared_processors()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=cache_loggers,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # SQLAlchemy echoes SQL at INFO; keep it for DEBUG runs only.
    logging.getLogger("sqlalchemy.engine").setLevel(max(logging.WARNING, root.level))
    # APScheduler logs every job run at INFO; the beat logs its own pass results.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root.level))


def get_logger(name: str) -> Any:
    """A module's logger: ``log = get_logger(__name__)`` at module level."""
    return structlog.stdlib.get_logger(name)
