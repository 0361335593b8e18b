"""The application's named rate limits: per process (``app_limiter``), or shared by every
worker through the limits store (``shared_limiter``: memory, Redis or PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass

from quart import current_app

from chat_app.buckets import TokenBucket
from chat_app.ratelimits import LimitStore


def app_limiter(name: str, rate: float, burst: int) -> TokenBucket:
    """The application's shared bucket called ``name``, made on first use.

    Kept in ``app.extensions["limiters"]`` so tests can start each case with fresh limits.
    """
    limiters: dict[str, TokenBucket] = current_app.extensions.setdefault("limiters", {})
    limiter = limiters.get(name)
    if limiter is None:
        limiter = limiters[name] = TokenBucket(rate, burst)
    return limiter


@dataclass(frozen=True, slots=True)
class SharedLimit:
    """A named bucket per key in the app's limits store: one budget across every worker."""

    name: str
    rate: float
    burst: int

    async def take(self, key: object) -> float:
        """Spend a token for ``key``: 0.0 if allowed, else the seconds until one is free."""
        store: LimitStore = current_app.extensions["limits"]
        return await store.take(self.name, str(key), self.rate, self.burst)

    async def wait(self, key: object) -> float:
        """Seconds until ``key`` has a token (0.0 if it has one now), spending nothing."""
        store: LimitStore = current_app.extensions["limits"]
        return await store.wait(self.name, str(key), self.rate, self.burst)


def shared_limiter(name: str, rate: float, burst: int) -> SharedLimit:
    """The bucket ``name`` that every worker of the app shares."""
    return SharedLimit(name, rate, burst)
