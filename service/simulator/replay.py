"""Recorded frames to replay: checked and encoded once, then sent as they are.

A replay maps a stream name to frames, e.g. ccxt's recorded test frames::

    {"btcusdt@miniTicker": [{"e": "24hrMiniTicker", "E": 1786539510015, ...}, ...],
     "tickers:BTC-USDT": ["{\"arg\": ...}", ...]}

Stream names are the protocol's: Binance's stream (``btcusdt@ticker``,
``btcusdt@miniTicker``), OKX's ``{channel}:{instId}`` (``tickers:BTC-USDT``). A
frame is a JSON object or array (encoded compactly) or a string (sent as it is).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

Frames = tuple[str, ...]


def encode_frames(stream: Any, frames: Any) -> Frames:
    """``frames`` as wire text; ValueError names the stream and the bad frame."""
    if not isinstance(stream, str) or not stream:
        raise ValueError(f"replay stream {stream!r}: expected a stream name")
    if not isinstance(frames, Sequence) or isinstance(frames, str):
        raise ValueError(f"replay of {stream}: expected a list of frames")
    encoded = []
    for index, frame in enumerate(frames):
        if isinstance(frame, str):
            encoded.append(frame)
        elif isinstance(frame, dict | list):
            encoded.append(json.dumps(frame, separators=(",", ":")))
        else:
            raise ValueError(f"replay of {stream}, frame {index}: expected an object or a string")
    return tuple(encoded)


def encode_replay(replay: Mapping[str, Any]) -> dict[str, Frames]:
    """Every stream's frames encoded; ValueError names the first bad one."""
    if not isinstance(replay, Mapping):
        raise ValueError("replay: expected an object of stream name -> frames")
    return {stream: encode_frames(stream, frames) for stream, frames in replay.items()}


def load_replay(path: str | Path) -> dict[str, Frames]:
    """The replay in a JSON file; ValueError names the file and what is wrong with it."""
    try:
        return encode_replay(json.loads(Path(path).read_text()))
    except OSError as exc:
        raise ValueError(f"replay file {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ValueError(f"replay file {path}: {exc}") from None
