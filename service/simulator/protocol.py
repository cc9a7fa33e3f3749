"""What an exchange protocol plugs into the simulator server."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from service.simulator.feed import Connection
from service.simulator.limits import Verdict
from service.simulator.market import Market


@dataclass(frozen=True)
class Cost:
    """What one REST request costs: its endpoint name, its weight, whether it is a history
    page (those are what the fault switch fails)."""

    endpoint: str
    weight: int
    history: bool = False


class ExchangeProtocol(ABC):
    """One exchange's wire protocol: REST routes, websocket paths, subscriptions."""

    name: str = ""
    # aiohttp route paths answered with a websocket
    ws_routes: tuple[str, ...] = ()
    # Price decimals of symbols whose real tick the generated one (about six significant
    # digits) misses: ccxt truncates a ticker's computed average to the market's tick, so a
    # replayed recording parses as recorded only against the real tick.
    listed_decimals: dict[str, int] = {}

    def __init__(self, market: Market) -> None:
        self.market = market

    @abstractmethod
    def add_routes(self, app: web.Application) -> None:
        """Add the exchange's REST routes to ``app``."""

    @abstractmethod
    def on_text(self, conn: Connection, text: str) -> list[str]:
        """Handle one text frame from a client; returns the frames to answer with."""

    @abstractmethod
    def cost(self, request: web.Request) -> Cost | None:
        """The cost of a REST request, None for paths that are not the exchange's REST API."""

    @abstractmethod
    def refusal(self, verdict: Verdict) -> web.Response:
        """The exchange's answer to a request over the budget (429) or while banned (418)."""

    @abstractmethod
    def failure(self, status: int) -> web.Response:
        """The exchange's answer when a page fails with 5xx ``status``."""

    @abstractmethod
    def stamp(self, response: web.StreamResponse, verdict: Verdict) -> None:
        """Add the exchange's usage headers to an answer."""


def json_response(payload: Any, status: int = 200) -> web.Response:
    # compact separators: the same bytes real exchanges send, and smaller
    body = json.dumps(payload, separators=(",", ":"))
    return web.Response(text=body, status=status, content_type="application/json")


def parse_json(text: str) -> Any:
    """The decoded frame, or None when it is not JSON."""
    try:
        return json.loads(text)
    except ValueError:
        return None
