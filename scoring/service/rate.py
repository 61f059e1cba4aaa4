"""Per-caller rate limits: a token bucket for each caller, in the process's memory.

A caller may make ``burst`` requests at once and ``per_second`` a second after that;
beyond it the API answers 429 with ``Retry-After``. Each uvicorn worker keeps its own
buckets, so behind several workers the limit is per worker (a proxy's limit in front
of them bounds the whole).

Memory stays bounded however many callers there are: a bucket that has filled up
again is the same as none and is dropped, the least recently used first, and at most
``max_callers`` buckets are kept (beyond it the least recently used is dropped: that
caller starts again with a full bucket, which is what a worker restart does too).
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

MAX_CALLERS = 10_000
"""Buckets kept at most by default (about 2.5 MB)."""


@dataclass
class RateLimit:
    """Token buckets by caller, least recently used first."""

    burst: int = 120
    per_second: float = 20.0
    max_callers: int = MAX_CALLERS
    _buckets: OrderedDict[str, tuple[float, dt.datetime]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def kept(self) -> int:
        """How many buckets are kept (not ``len``: a limit is never falsy)."""
        return len(self._buckets)

    def wait(self, caller: str, now: dt.datetime) -> float:
        """Take one request from ``caller``'s bucket: 0 when allowed, else the seconds
        until one is."""
        with self._lock:
            tokens, then = self._buckets.pop(caller, (float(self.burst), now))
            tokens = self._refilled(tokens, then, now)
            allowed = tokens >= 1.0
            self._buckets[caller] = (tokens - 1.0 if allowed else tokens, now)
            self._prune(now)
            if allowed:
                return 0.0
            if self.per_second <= 0:
                return math.inf
            return (1.0 - tokens) / self.per_second

    def _refilled(self, tokens: float, then: dt.datetime, now: dt.datetime) -> float:
        elapsed = max((now - then).total_seconds(), 0.0)
        return min(float(self.burst), tokens + elapsed * self.per_second)

    def _prune(self, now: dt.datetime) -> None:
        """Drop the least recently used buckets while they are full again, and any
        beyond ``max_callers``."""
        while len(self._buckets) > max(self.max_callers, 1):
            self._buckets.popitem(last=False)
        while self._buckets:
            oldest = next(iter(self._buckets))
            tokens, then = self._buckets[oldest]
            if self._refilled(tokens, then, now) < self.burst:
                break
            del self._buckets[oldest]
