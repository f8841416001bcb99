"""Named pools: at most ``slots`` tasks of a pool run at once, across the runs of one process."""

from __future__ import annotations

import threading
from collections.abc import Mapping


class Pools:
    def __init__(self, slots: Mapping[str, int] | None = None) -> None:
        self.slots = dict(slots or {})
        self._used: dict[str, int] = {}
        self._lock = threading.Lock()

    def acquire(self, pool: str | None) -> bool:
        """Take a slot if one is free (never blocks)."""
        if pool is None or pool not in self.slots:
            return True
        with self._lock:
            used = self._used.get(pool, 0)
            if used >= self.slots[pool]:
                return False
            self._used[pool] = used + 1
            return True

    def release(self, pool: str | None) -> None:
        if pool is None or pool not in self.slots:
            return
        with self._lock:
            self._used[pool] = max(0, self._used.get(pool, 0) - 1)
