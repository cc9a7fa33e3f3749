"""SQLAlchemy models: what to stream. The same code runs on SQLite and Postgres."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
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
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=_utcnow, server_default=func.now()
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=_utcnow, onupdate=_utcnow, server_default=func.now()
    )

    exchange: Mapped[Exchange] = relationship(back_populates="symbols")
