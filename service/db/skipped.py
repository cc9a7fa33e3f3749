"""A database row the beat left out, and why: one typed record from the read to ``status``.

The beat reads every row leniently (``service.db.load``) and checks each
(``service.db.snapshot.check_exchange``, ``validate_symbol``); a row it cannot
use becomes a ``SkippedRow`` naming its table, row, column and error, while
the other rows are applied. It travels in the beat's status to
``ticker-service status``::

    {"table": "exchanges", "name": "bad", "column": "ccxt_params", "exchange": "bad",
     "id": 7, "error": "exchange 'bad': ccxt_params is not valid JSON (...)"}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from service.logs import redact_text

# Errors quote stored values (a name, a mode): a long one is cut, never the whole cell.
ERROR_MAX_CHARS = 300
NAME_MAX_CHARS = 80


class Table(StrEnum):
    """The tables whose rows the beat reads."""

    EXCHANGES = "exchanges"
    SYMBOLS = "symbols"


@dataclass(frozen=True)
class SkippedRow:
    """One row left out: ``name`` is the exchange's name, or the symbol of a symbols row.

    ``exchange`` is the exchange the row belongs to (its own name for an
    exchanges row; '' when unknown), ``id`` its primary key (useful when the
    name itself is blank), ``column`` the first column found bad.
    """

    table: str
    name: str
    column: str
    error: str
    exchange: str = ""
    id: int | None = None

    @classmethod
    def of(
        cls,
        table: Table,
        name: object,
        column: str,
        error: str,
        *,
        exchange: object = "",
        row_id: object = None,
    ) -> SkippedRow:
        """A record with values cut to size and secrets in URLs redacted."""
        return cls(
            table=str(table),
            name=_cut("" if name is None else str(name), NAME_MAX_CHARS),
            column=column,
            error=_cut(redact_text(error), ERROR_MAX_CHARS),
            exchange=_cut("" if exchange is None else str(exchange), NAME_MAX_CHARS),
            id=row_id if isinstance(row_id, int) and not isinstance(row_id, bool) else None,
        )

    @property
    def label(self) -> str:
        """``exchanges 'bad'`` or ``symbols 'bin' 'btc-usdt'``: the row in a sentence."""
        if self.table == Table.SYMBOLS:
            return f"{self.table} {self.exchange!r} {self.name!r}"
        return f"{self.table} {self.name!r}"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SkippedRow:
        """The stored form; an older beat's ``{"row", "error"}`` is read too."""
        row_id = data.get("id")
        return cls(
            table=str(data.get("table") or ""),
            name=str(data.get("name") or data.get("row") or ""),
            column=str(data.get("column") or ""),
            error=str(data.get("error") or ""),
            exchange=str(data.get("exchange") or ""),
            id=row_id if isinstance(row_id, int) and not isinstance(row_id, bool) else None,
        )


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
