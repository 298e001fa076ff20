"""When to try again: exponential backoff with full jitter, the one policy every retry loop uses
(sends, webhook processing, event deliveries).

Full jitter (a random wait between 0 and min(cap, base * 2**attempt)) spreads the retries of
many rows that failed together, so a gateway coming back is not hit by all of them at once.
A server's Retry-After is a floor: we never come back sooner than it asked.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

# 2**30 times any base here is far above any cap; the bound keeps the float arithmetic finite.
_MAX_DOUBLINGS = 30


@dataclass(frozen=True)
class Backoff:
    base: float  # seconds before the first retry, at most
    cap: float  # the longest wait the doubling reaches
    # Honour Retry-After up to this many seconds (None: however long the server asks).
    retry_after_cap: float | None = None

    def delay(self, attempt: int, *, retry_after: float | None = None) -> timedelta:
        ceiling = min(self.cap, self.base * 2 ** min(attempt, _MAX_DOUBLINGS))
        floor = retry_after or 0
        if self.retry_after_cap is not None:
            floor = min(floor, self.retry_after_cap)
        return timedelta(seconds=max(random.uniform(0, ceiling), floor))
