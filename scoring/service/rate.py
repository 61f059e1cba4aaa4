"""Per-caller rate limits: a token bucket for each API key, in the process's memory.

A caller may make ``burst`` requests at once and ``per_second`` a second after that;
beyond it the API answers 429 with ``Retry-After``. Each uvicorn worker keeps its own
buckets, so behind several workers the limit is per worker (a proxy's limit in front
of them bounds the whole).
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from dataclasses import dataclass, field


@dataclass
class RateLimit:
    """Token buckets by caller."""

    burst: int = 120
    per_second: float = 20.0
    _buckets: dict[str, tuple[float, dt.datetime]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(self, caller: str, now: dt.datetime) -> float:
        """Take one request from ``caller``'s bucket: 0 when allowed, else the seconds
        until one is."""
        with self._lock:
            tokens, then = self._buckets.get(caller, (float(self.burst), now))
            elapsed = max((now - then).total_seconds(), 0.0)
            tokens = min(float(self.burst), tokens + elapsed * self.per_second)
            if tokens >= 1.0:
                self._buckets[caller] = (tokens - 1.0, now)
                return 0.0
            self._buckets[caller] = (tokens, now)
            if self.per_second <= 0:
                return math.inf
            return (1.0 - tokens) / self.per_second
