"""Token buckets keyed by client or order number, held in this process's memory.

One process, one set of buckets: behind several workers each has its own, so the real
limit is the configured one times the number of processes. A deployment that needs one
shared limit puts a shared store (Redis, say) behind the same `allow` call; none is
needed for a single process.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    """`capacity` requests at once, refilled at `per_second`; at most `max_keys` tracked
    (the least recently seen are forgotten, which only ever lets a request through)."""

    def __init__(
        self,
        capacity: float,
        per_second: float,
        *,
        max_keys: int = 100_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.capacity = capacity
        self.per_second = per_second
        self._max_keys = max_keys
        self._now = monotonic
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, key: str) -> float:
        """0 if the request may go ahead (a token is taken), else seconds until it may."""
        now = self._now()
        with self._lock:
            tokens, at = self._buckets.pop(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - at) * self.per_second)
            wait = 0.0
            if tokens >= 1:
                tokens -= 1
            else:
                wait = (1 - tokens) / self.per_second
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        return wait
