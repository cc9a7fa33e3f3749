"""After a CLI edit is committed: tell the beat, which reconciles at once.

The edit is in the database whatever happens here; these lines only say when
it will be applied. They go to stderr, so stdout stays the command's result.
"""

from __future__ import annotations

import sys

from service.beat.wakeup import publish_wakeup
from service.errors import StoreError
from service.keys import Keys
from service.logs import redact_text
from service.redis_client import sync_client
from service.settings import Settings


def tell_beat(settings: Settings, reason: str) -> int:
    """Wake the beat for ``reason``; print what happened; return how many beats heard it."""
    keys = Keys(settings.key_prefix)
    client = sync_client(settings.redis_url)
    try:
        heard = publish_wakeup(client, keys, reason)
    except StoreError as exc:
        print(
            f"note: saved, but the beat could not be told ({redact_text(str(exc))}); "
            "it applies the edit at its next reconcile (RECONCILE_INTERVAL_S)",
            file=sys.stderr,
        )
        return 0
    finally:
        client.close()
    if heard:
        print("beat notified: it applies the edit now", file=sys.stderr)
    else:
        print(
            f"note: saved, but no beat is listening on {keys.beat_wakeup()} "
            "(is ticker-scheduler running?); a beat applies the edit when it starts",
            file=sys.stderr,
        )
    return heard
