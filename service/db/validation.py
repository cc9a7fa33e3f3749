"""Checks of operator input and of database rows: plain functions raising ``ValidationError``.

The CLI calls them before writing; the beat calls them on every row it reads,
reports the ones that fail and skips them. Every message names the row
(``exchange 'binance' symbol 'btc-usdt': ...``) so a log line is enough to fix it.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from service.errors import ValidationError
from workers.spec import MODES

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
# BASE/QUOTE, optionally :SETTLE, optionally ccxt's -EXPIRY[-STRIKE-C|P] for derivatives.
SYMBOL_PATTERN = re.compile(r"[A-Z0-9]+/[A-Z0-9]+(:[A-Z0-9]+(-[A-Z0-9]+)*)?")
SYMBOL_MAX_LENGTH = 64
# Compared without case, '_' or '-': ccxt's credential fields.
CREDENTIAL_KEYS = frozenset(
    {"apikey", "secret", "password", "uid", "privatekey", "login", "twofa", "token"}
)


class ColumnError(ValidationError):
    """A ValidationError that knows which column of the row is bad."""

    def __init__(self, message: str, *, column: str) -> None:
        super().__init__(message)
        self.column = column


@contextmanager
def column(name: str) -> Iterator[None]:
    """Raise any ValidationError of the block as a ColumnError naming column ``name``."""
    try:
        yield
    except ColumnError:
        raise
    except ValidationError as exc:
        raise ColumnError(str(exc), column=name) from None


def _row(exchange: str | None, symbol: str | None = None) -> str:
    parts = [f"exchange {exchange!r}"] if exchange is not None else []
    if symbol is not None:
        parts.append(f"symbol {symbol!r}")
    return " ".join(parts) + ": " if parts else ""


def validate_name(name: str) -> str:
    """Return ``name`` if it can be a job key; raises ValidationError."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise ValidationError(
            f"exchange name {name!r} is not valid: use 1-64 lowercase letters, digits, "
            "'-' or '_', starting with a letter or digit (it names Redis keys and the "
            "{NAME}_API_KEY environment variables)"
        )
    return name


@cache
def _ccxt_ids() -> tuple[frozenset[str], frozenset[str]]:
    # Imported on first use: ccxt takes about a second to import.
    import ccxt
    import ccxt.pro

    return frozenset(ccxt.exchanges), frozenset(ccxt.pro.exchanges)


def validate_ccxt_id(ccxt_id: str, *, exchange: str | None = None) -> str:
    """Return ``ccxt_id`` if ccxt has that exchange class; raises ValidationError with hints."""
    known, _ = _ccxt_ids()
    if isinstance(ccxt_id, str) and ccxt_id in known:
        return ccxt_id
    close = difflib.get_close_matches(str(ccxt_id).lower(), sorted(known), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else "; see ccxt.exchanges for the list"
    raise ValidationError(f"{_row(exchange)}unknown ccxt exchange id {ccxt_id!r}{hint}")


def validate_mode(mode: str, *, exchange: str | None = None, ccxt_id: str | None = None) -> str:
    """Return ``mode`` if it is auto, ws or poll (ws needs ccxt.pro); raises ValidationError."""
    if mode not in MODES:
        raise ValidationError(f"{_row(exchange)}mode {mode!r} is not one of {', '.join(MODES)}")
    if mode == "ws" and ccxt_id is not None and ccxt_id not in _ccxt_ids()[1]:
        raise ValidationError(
            f"{_row(exchange)}mode 'ws' needs websockets, which ccxt.pro lacks for {ccxt_id!r}: "
            "use 'poll' or 'auto'"
        )
    return mode


def validate_poll_interval(seconds: float, *, exchange: str | None = None) -> float:
    """Return ``seconds`` as a float if it is positive and finite; raises ValidationError."""
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        value = math.nan
    if not (value > 0 and math.isfinite(value)):
        raise ValidationError(
            f"{_row(exchange)}poll interval {seconds!r} must be a positive number of seconds"
        )
    return value


def validate_symbol(symbol: str, *, exchange: str | None = None) -> str:
    """Return ``symbol`` if it is a unified ccxt symbol (``BTC/USDT``, ``BTC/USDT:USDT``).

    Raises ValidationError naming the row, with a corrected guess when there is one.
    """
    if (
        isinstance(symbol, str)
        and len(symbol) <= SYMBOL_MAX_LENGTH
        and SYMBOL_PATTERN.fullmatch(symbol)
    ):
        return symbol
    guess = _symbol_guess(symbol)
    hint = f"; did you mean {guess!r}?" if guess else ""
    raise ValidationError(
        f"{_row(exchange, str(symbol))}not a unified symbol: expected BASE/QUOTE or "
        f"BASE/QUOTE:SETTLE in capital letters and digits, e.g. BTC/USDT{hint}"
    )


def _symbol_guess(symbol: Any) -> str | None:
    if not isinstance(symbol, str):
        return None
    guess = symbol.strip().upper()
    if "/" not in guess:
        guess = re.sub(r"[-_ ]", "/", guess, count=1)
    if guess != symbol and SYMBOL_PATTERN.fullmatch(guess):
        return guess
    return None


def parse_json_object(raw: str, *, option: str) -> dict[str, Any]:
    """Parse ``raw`` as a JSON object (``{...}``); raises ValidationError naming ``option``."""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f"{option} is not valid JSON ({exc.msg} at column {exc.colno})"
        ) from None
    if not isinstance(value, dict):
        raise ValidationError(f"{option} must be a JSON object like {{...}}, not {raw!r}")
    return value


def validate_params(params: Any, *, field: str, exchange: str | None = None) -> dict[str, Any]:
    """Return ``params`` if it is a dict with no credential keys at any depth.

    Credentials belong in the environment ({NAME}_API_KEY, {NAME}_SECRET,
    {NAME}_PASSWORD), never in the database. Raises ValidationError.
    """
    if not isinstance(params, dict):
        # The type only: a params value may hold a secret, so it is never quoted.
        raise ValidationError(
            f"{_row(exchange)}{field} must be a JSON object, not {json_type(params)}"
        )
    path = _credential_path(params)
    if path:
        raise ValidationError(
            f"{_row(exchange)}{field} holds a credential ({path}): credentials come only from "
            "the environment ({NAME}_API_KEY, {NAME}_SECRET, {NAME}_PASSWORD)"
        )
    return params


def json_type(value: Any) -> str:
    """The JSON name of ``value``'s type (``null``, ``a list``...), for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    names = {dict: "an object", list: "a list", str: "a string", int: "a number", float: "a number"}
    return next((n for t, n in names.items() if isinstance(value, t)), type(value).__name__)


def _credential_path(value: Any, prefix: str = "") -> str | None:
    if isinstance(value, dict):
        for key, inner in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if re.sub(r"[-_]", "", str(key)).lower() in CREDENTIAL_KEYS:
                return path
            found = _credential_path(inner, path)
            if found:
                return found
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found = _credential_path(inner, f"{prefix}[{index}]")
            if found:
                return found
    return None
