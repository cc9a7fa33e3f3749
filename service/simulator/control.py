"""The control API under ``/_sim/`` (documented in the package docstring)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from service.simulator.faults import FaultPlan
from service.simulator.limits import BudgetLimits
from service.simulator.protocol import json_response

if TYPE_CHECKING:
    from service.simulator.server import Simulator


def add_routes(app: web.Application, sim: Simulator) -> None:
    """Add the ``/_sim/*`` routes driving ``sim`` to ``app``."""

    async def state(request: web.Request) -> web.Response:
        return json_response(sim.state())

    async def last(request: web.Request) -> web.Response:
        wanted = request.query.get("symbols")
        values = sim.last_sent
        if wanted:
            values = {s: values[s] for s in wanted.split(",") if s in values}
        return json_response(values)

    async def symbols(request: web.Request) -> web.Response:
        return json_response(sim.symbols)

    async def replay(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("expected a JSON object {stream, frames}")
            playing = sim.replay(body.get("stream", ""), body.get("frames", ()))
        except ValueError as exc:  # json.JSONDecodeError is one too
            return json_response({"error": f"replay: {exc}"}, status=400)
        return json_response({"stream": body["stream"], "subscribers": playing})

    async def switch(request: web.Request) -> web.Response:
        action = request.match_info["action"]
        if action == "drop":
            return json_response({"dropped": await sim.drop(), **sim.state()})
        try:
            _apply(sim, action, request.query.get("value"))
        except (KeyError, ValueError) as exc:
            return json_response({"error": str(exc)}, status=400)
        return json_response(sim.state())

    async def limits(request: web.Request) -> web.Response:
        try:
            if request.match_info["what"] == "budget":
                sim.set_budget(budget_limits(request.query))
            else:
                sim.set_faults(fault_plan(request.query))
        except ValueError as exc:
            return json_response({"error": f"{request.path}: {exc}"}, status=400)
        return json_response(sim.state())

    app.router.add_get("/_sim/state", state)
    app.router.add_get("/_sim/last", last)
    app.router.add_get("/_sim/symbols", symbols)
    app.router.add_post("/_sim/replay", replay)  # before the catch-all switch
    app.router.add_post("/_sim/{what:budget|faults}", limits)
    app.router.add_post("/_sim/{action}", switch)


def _apply(sim: Simulator, action: str, value: Any) -> None:
    """Apply one switch; raises KeyError (unknown action) or ValueError (bad value)."""
    if action == "stall":
        sim.stall()
    elif action == "pause":
        sim.pause()
    elif action == "resume":
        sim.resume()
    elif action == "rate":
        sim.set_rate(_number(value))
    elif action == "drop-every":
        sim.set_drop_every(_number(value))
    else:
        raise KeyError(f"unknown switch {action!r}")


def _number(value: str | None) -> float:
    if value is None:
        raise ValueError("expected ?value=<number>")
    return float(value)


def _optional(query: Mapping[str, str], name: str, kind: type[float] | type[int]) -> Any:
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"{name}={value!r}: expected a number") from None


def budget_limits(query: Mapping[str, str]) -> BudgetLimits:
    """``?weight=N&window=S&ban_after=K&ban=S`` as limits (no weight or 0: unlimited)."""
    defaults = BudgetLimits()
    weight = _optional(query, "weight", int)
    window, ban_after = _optional(query, "window", float), _optional(query, "ban_after", int)
    ban = _optional(query, "ban", float)
    return BudgetLimits(
        weight or None,
        defaults.window_s if window is None else window,
        defaults.ban_after if ban_after is None else ban_after,
        defaults.ban_s if ban is None else ban,
    )


def fault_plan(query: Mapping[str, str]) -> FaultPlan:
    """``?every=N&next=K&status=500,503`` as a fault plan (nothing: no faults)."""
    status = query.get("status")
    try:
        statuses = tuple(int(s) for s in status.split(",")) if status else FaultPlan().statuses
    except ValueError:
        raise ValueError(f"status={status!r}: expected 5xx codes such as 500,503") from None
    return FaultPlan(_optional(query, "every", int), _optional(query, "next", int) or 0, statuses)
