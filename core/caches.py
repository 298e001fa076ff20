"""A tiny per-process cache with a time-to-live, for hot read paths (webhooks, API tokens).

Each web process keeps its own copy, so a change made elsewhere is seen after at most `ttl`
seconds; the process that makes a change drops its own entry at once. Keep TTLs short.
"""

from __future__ import annotations

import threading
import time
from typing import Any

_ALL: list[TtlCache] = []
_MISSING = object()


class TtlCache:
    def __init__(self, name: str, *, ttl: float, max_entries: int = 10_000):
        self.name = name
        self.ttl = ttl
        self.max_entries = max_entries
        self._data: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()
        _ALL.append(self)

    def get(self, key: Any, default: Any = None) -> Any:
        entry = self._data.get(key, _MISSING)
        if entry is _MISSING or entry[0] < time.monotonic():
            return default
        return entry[1]

    def set(self, key: Any, value: Any) -> None:
        with self._lock:
            if len(self._data) >= self.max_entries:
                # Simple and bounded: start afresh rather than track recency.
                self._data.clear()
            self._data[key] = (time.monotonic() + self.ttl, value)

    def delete(self, key: Any) -> None:
        with self._lock:
            self._data.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()


def clear_all() -> None:
    """Forget every cached entry (tests call this between cases)."""
    for cache in _ALL:
        cache.clear()
