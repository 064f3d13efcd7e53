"""What ingest reads from the store and keeps a while: which senders are alliance members, and their code
tables. A real-time feed ingests a few messages at a time; reading these again for every call cost more
than mapping the messages (about 1 ms and an audited search for the members, 0.55 ms for the demo
hospital's code tables, a message). A change made in this process is forgotten at once (`forget`); one
made by another process is seen within the time given.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Hashable
from typing import Any

from sqlalchemy import Engine


class Kept:
    """Values read from a database, by key, used for `seconds` before they are read again. Kept per
    engine pool, which every variant of an engine with other execution options shares."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.clock = time.monotonic  # (tests move it on)
        self._by_pool: weakref.WeakKeyDictionary[object, dict[Hashable, tuple[float, Any]]] = (
            weakref.WeakKeyDictionary()
        )

    def get(self, engine: Engine, key: Hashable) -> Any | None:
        """The value kept under `key`, or None when there is none or it is too old."""
        found = self._by_pool.get(engine.pool, {}).get(key)
        if found is None or self.clock() - found[0] >= self.seconds:
            return None
        return found[1]

    def put(self, engine: Engine, key: Hashable, value: Any) -> None:
        self._by_pool.setdefault(engine.pool, {})[key] = (self.clock(), value)

    def forget(self, engine: Engine, key: Hashable) -> None:
        self._by_pool.get(engine.pool, {}).pop(key, None)
