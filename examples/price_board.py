"""A small terminal board: the last price of each symbol on every exchange, refreshing.

    REDIS_URL=redis://127.0.0.1:6379/0 python examples/price_board.py [REFRESHES]

Redraws every second (in place on a terminal), then exits. Exits 1 when an
exchange has no board, a price is stale, or nothing changed between refreshes.
"""

from __future__ import annotations

import sys
import time

from ticker_client import SyncTickerClient, Tick

REFRESHES = int(sys.argv[1]) if len(sys.argv) > 1 else 3
CLEAR = "\x1b[H\x1b[2J" if sys.stdout.isatty() else ""


def render(boards: dict[str, dict[str, Tick]]) -> str:
    symbols = sorted({symbol for board in boards.values() for symbol in board})
    lines = [f"{'symbol':<10}" + "".join(f"{name:>16}" for name in boards)]
    for symbol in symbols:
        cells = []
        for board in boards.values():
            tick = board.get(symbol)
            cells.append("-" if tick is None else f"{tick.last:,.4f}{'*' if tick.stale else ''}")
        lines.append(f"{symbol:<10}" + "".join(f"{cell:>16}" for cell in cells))
    return "\n".join(lines)


def main() -> None:
    frames: list[dict[str, dict[str, float | None]]] = []
    with SyncTickerClient.from_env() as client:
        exchanges = client.exchanges()
        for frame in range(REFRESHES):
            boards = {name: client.board(name) for name in exchanges}
            print(f"{CLEAR}price board, refresh {frame + 1}/{REFRESHES} (* = stale)")
            print(render(boards), flush=True)
            frames.append({n: {s: t.last for s, t in b.items()} for n, b in boards.items()})
            if any(t.stale for b in boards.values() for t in b.values()):
                sys.exit("NOT TRUE: every price on the board is fresh")
            if frame + 1 < REFRESHES:
                time.sleep(1.0)
    if len(exchanges) < 2 or frames[0] == frames[-1]:
        sys.exit("NOT TRUE: two or more exchanges, with prices that move between refreshes")
    print("price_board: every exchange on the board, prices moving")


if __name__ == "__main__":
    main()
