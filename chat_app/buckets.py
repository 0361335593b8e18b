"""Token buckets (in this process; a shared store comes with several workers)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class _Bucket:
    tokens: float
    updated: float = field(default_factory=time.monotonic)


class TokenBucket:
    """``rate`` actions per second per key, bursts of up to ``burst``."""

    def __init__(self, rate: float, burst: int, max_keys: int = 100_000) -> None:
        self.rate, self.burst, self.max_keys = rate, burst, max_keys
        self._buckets: dict[object, _Bucket] = {}

    def _refilled(self, key: object) -> _Bucket:
        now = time.monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self.max_keys:
                self._buckets.clear()  # bounded memory; a reset only grants one fresh burst
            bucket = self._buckets[key] = _Bucket(tokens=float(self.burst), updated=now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        return bucket

    def wait(self, key: object, cost: float = 1.0) -> float:
        """Seconds until ``key`` has ``cost`` tokens (0.0 if it has them now), spending
        nothing."""
        tokens = self._refilled(key).tokens
        return 0.0 if tokens >= cost else (cost - tokens) / self.rate

    def take(self, key: object, cost: float = 1.0) -> float:
        """Spend ``cost`` tokens for ``key`` (one by default): 0.0 if allowed, else the
        seconds until they are there."""
        wait = self.wait(key, cost)
        if not wait:
            self._buckets[key].tokens -= cost
        return wait
