"""SQLAlchemy models: what to stream, and the history kept. Same code on SQLite and Postgres.

Migration 0003 builds the history tables; on Postgres ``trades`` is
range-partitioned by month on ``time`` (``service.history.partitions``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Named constraints, so later migrations (batch mode on SQLite) can address them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Server defaults as well as Python ones: operators may insert rows with plain SQL.
_EMPTY_JSON = text("'{}'")


class Exchange(Base):
    """One exchange to stream. ``name`` is the job key; ``ccxt_id`` the ccxt class."""

    __tablename__ = "exchanges"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    ccxt_id: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Passed to the ccxt constructor (urls, options, sandbox...). Never credentials:
    # those come from {NAME}_API_KEY / {NAME}_SECRET / {NAME}_PASSWORD in the environment.
    ccxt_params: Mapped[dict[str, Any]] = mapped_column(
        JSON, default=dict, server_default=_EMPTY_JSON
    )
    # auto: websockets where ccxt has them; ws: websockets only; poll: REST fetch_tickers.
    mode: Mapped[str] = mapped_column(String(8), default="auto", server_default="auto")
    poll_interval_s: Mapped[float] = mapped_column(Float, default=2.0, server_default=text("2"))
    # Extra params for watch_tickers (e.g. binance {"name": "ticker"} for bid/ask).
    watch_params: Mapped[dict[str, Any]] = mapped_column(
        JSON, default=dict, server_default=_EMPTY_JSON
    )
    # REST requests a minute for history tasks, shared by every worker; NULL: ccxt's rateLimit.
    requests_per_minute: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=_utcnow, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=_utcnow, onupdate=_utcnow, server_default=func.now()
    )

    symbols: Mapped[list[Symbol]] = relationship(
        back_populates="exchange", cascade="all, delete-orphan", order_by="Symbol.symbol"
    )


class Symbol(Base):
    """One unified symbol (``BTC/USDT``) of one exchange."""

    __tablename__ = "symbols"
    __table_args__ = (UniqueConstraint("exchange_id", "symbol", name="uq_symbols_exchange_symbol"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    exchange_id: Mapped[int] = mapped_column(ForeignKey("exchanges.id", ondelete="CASCADE"))
    symbol: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # History to collect besides tickers (issue 13): public trades, 1m candles, and
    # from when (UTC epoch ms; NULL: service.history.wanted's default).
    trades: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    candles: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    history_since: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=_utcnow, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=_utcnow, onupdate=_utcnow, server_default=func.now()
    )

    exchange: Mapped[Exchange] = relationship(back_populates="symbols")


# -- market history ---------------------------------------------------------------
# Rows are keyed by the exchange row's name, not its id: history outlives a removed
# and re-added exchange row, and readers ask by name.


class CandleRow(Base):
    """One OHLCV candle; ``open_time`` UTC epoch ms; a ``closed`` candle is final."""

    __tablename__ = "candles"
    __table_args__ = (PrimaryKeyConstraint("exchange", "symbol", "timeframe", "open_time"),)

    exchange: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(64))
    timeframe: Mapped[str] = mapped_column(String(8))
    open_time: Mapped[int] = mapped_column(BigInteger)
    open: Mapped[float] = mapped_column(Float)
    high: Mapped[float] = mapped_column(Float)
    low: Mapped[float] = mapped_column(Float)
    close: Mapped[float] = mapped_column(Float)
    volume: Mapped[float] = mapped_column(Float)
    closed: Mapped[bool] = mapped_column(Boolean)
    source: Mapped[str] = mapped_column(String(8))


class TradeRow(Base):
    """One public trade. ``time`` leads the key after the pair: the partition key on Postgres
    must be in it, and reads are by time. A trade's id fixes its time, so the key is unique."""

    __tablename__ = "trades"
    __table_args__ = (
        PrimaryKeyConstraint("exchange", "symbol", "time", "trade_id"),
        {"postgresql_partition_by": "RANGE (time)"},
    )

    exchange: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(64))
    time: Mapped[int] = mapped_column(BigInteger)
    trade_id: Mapped[str] = mapped_column(String(64))
    price: Mapped[float] = mapped_column(Float)
    amount: Mapped[float] = mapped_column(Float)
    side: Mapped[str | None] = mapped_column(String(8), nullable=True)


class LedgerRow(Base):
    """One range of one stream: ``state`` is 'complete' or a GapReason; ranges are disjoint.

    ``timeframe`` is '' for trades (a key column cannot be NULL). Ranges never
    written here are 'not fetched'.
    """

    __tablename__ = "history_ledger"
    __table_args__ = (
        PrimaryKeyConstraint("exchange", "symbol", "stream", "timeframe", "start_ms"),
    )

    exchange: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(64))
    stream: Mapped[str] = mapped_column(String(16))
    timeframe: Mapped[str] = mapped_column(String(8))
    start_ms: Mapped[int] = mapped_column(BigInteger)
    end_ms: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=_utcnow, onupdate=_utcnow, server_default=func.now()
    )
