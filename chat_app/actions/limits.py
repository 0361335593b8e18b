"""The application's named rate limits, shared by every request of this process."""

from __future__ import annotations

from quart import current_app

from chat_app.buckets import TokenBucket


def app_limiter(name: str, rate: float, burst: int) -> TokenBucket:
    """The application's shared bucket called ``name``, made on first use.

    Kept in ``app.extensions["limiters"]`` so tests can start each case with fresh limits.
    """
    limiters: dict[str, TokenBucket] = current_app.extensions.setdefault("limiters", {})
    limiter = limiters.get(name)
    if limiter is None:
        limiter = limiters[name] = TokenBucket(rate, burst)
    return limiter
