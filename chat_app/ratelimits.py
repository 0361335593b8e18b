"""Where the rate limits that matter across workers live (messages, logins, API tokens).

One process: memory. Several workers sharing a Redis broker: Redis. Sharing a PostgreSQL
broker: PostgreSQL (or a Redis named by ``CHAT_LIMITS_URL``). Every store is the same token
bucket (``rate`` per second, bursts of ``burst``), so one worker and ten behave alike, and the
clock is the store's own (no skew between machines). The ``limits`` library was considered: it
offers fixed and moving windows, not buckets, and no PostgreSQL storage.
"""

from __future__ import annotations

from typing import Protocol

from quart import current_app
from redis.asyncio import Redis
from tortoise import connections

from chat_app.buckets import TokenBucket


class LimitStore(Protocol):
    """Token buckets by name and key."""

    async def take(self, name: str, key: str, rate: float, burst: int) -> float:
        """Spend a token: 0.0 if allowed, else the seconds until one is free."""

    async def wait(self, name: str, key: str, rate: float, burst: int) -> float:
        """Seconds until a token is free (0.0: now), spending nothing."""

    async def close(self) -> None:
        """Let go of connections."""


class MemoryLimits:
    """This process's buckets (one worker), in ``app.extensions["limiters"]`` beside the
    process-local ones (tests empty it to start each case with fresh limits)."""

    def _bucket(self, name: str, rate: float, burst: int) -> TokenBucket:
        buckets: dict[str, TokenBucket] = current_app.extensions.setdefault("limiters", {})
        bucket = buckets.get(name)
        if bucket is None or (bucket.rate, bucket.burst) != (rate, burst):
            bucket = buckets[name] = TokenBucket(rate, burst)
        return bucket

    async def take(self, name: str, key: str, rate: float, burst: int) -> float:
        """See ``LimitStore``."""
        return self._bucket(name, rate, burst).take(key)

    async def wait(self, name: str, key: str, rate: float, burst: int) -> float:
        """See ``LimitStore``."""
        return self._bucket(name, rate, burst).wait(key)

    async def close(self) -> None:
        """Nothing to close."""


# One statement: refill, and spend if a token is there; no row back means refused.
_PG_TAKE = """
INSERT INTO rate_buckets AS b (key, tokens, updated, full_at)
SELECT $1::text, $3::float8 - 1, now_s, now_s + 1 / $2::float8
FROM (SELECT extract(epoch FROM clock_timestamp())::float8 AS now_s) AS clock
ON CONFLICT (key) DO UPDATE SET
    tokens = LEAST($3::float8, b.tokens + (EXCLUDED.updated - b.updated) * $2::float8) - 1,
    updated = EXCLUDED.updated,
    full_at = EXCLUDED.updated + ($3::float8 + 1
        - LEAST($3::float8, b.tokens + (EXCLUDED.updated - b.updated) * $2::float8)) / $2::float8
WHERE LEAST($3::float8, b.tokens + (EXCLUDED.updated - b.updated) * $2::float8) >= 1
RETURNING tokens
"""
_PG_WAIT = """
SELECT GREATEST(0, (1 - LEAST($3::float8,
    tokens + (extract(epoch FROM clock_timestamp())::float8 - updated) * $2::float8)) / $2::float8
) AS wait
FROM rate_buckets WHERE key = $1::text
"""
_PG_PRUNE = "DELETE FROM rate_buckets WHERE full_at < extract(epoch FROM clock_timestamp())"
PRUNE_EVERY = 1000  # takes between two deletions of full buckets


class PostgresLimits:
    """Buckets in the app's PostgreSQL database (table ``rate_buckets``)."""

    def __init__(self) -> None:
        self._takes = 0

    async def take(self, name: str, key: str, rate: float, burst: int) -> float:
        """See ``LimitStore``."""
        db = connections.get("default")
        self._takes += 1
        if self._takes % PRUNE_EVERY == 0:
            await db.execute_query(_PG_PRUNE)
        # execute_query would run an INSERT without fetching what it returns.
        rows = await db.execute_query_dict(_PG_TAKE, [f"{name}:{key}", rate, float(burst)])
        return 0.0 if rows else await self.wait(name, key, rate, burst) or 1 / rate

    async def wait(self, name: str, key: str, rate: float, burst: int) -> float:
        """See ``LimitStore``."""
        rows = await connections.get("default").execute_query_dict(
            _PG_WAIT, [f"{name}:{key}", rate, float(burst)]
        )
        return float(rows[0]["wait"]) if rows else 0.0

    async def close(self) -> None:
        """Its connections are the app's."""


# KEYS[1] the bucket; ARGV rate, burst, spend (1) or look (0). Returns the wait as a string.
_REDIS_BUCKET = """
local rate, burst, spend = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local saved = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(saved[1]) or burst
local updated = tonumber(saved[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - updated) * rate)
if tokens < 1 then return tostring((1 - tokens) / rate) end
if spend == 1 then
  tokens = tokens - 1
  redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
  redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
end
return '0'
"""


class RedisLimits:
    """Buckets in Redis, one hash per bucket that expires once it is full again."""

    def __init__(self, url: str, prefix: str) -> None:
        self._redis: Redis = Redis.from_url(url)
        self._script = self._redis.register_script(_REDIS_BUCKET)
        self._prefix = prefix

    async def _run(self, name: str, key: str, rate: float, burst: int, spend: int) -> float:
        answer = await self._script(
            keys=[f"{self._prefix}:limit:{name}:{key}"], args=[rate, burst, spend]
        )
        return float(answer)

    async def take(self, name: str, key: str, rate: float, burst: int) -> float:
        """See ``LimitStore``."""
        return await self._run(name, key, rate, burst, 1)

    async def wait(self, name: str, key: str, rate: float, burst: int) -> float:
        """See ``LimitStore``."""
        return await self._run(name, key, rate, burst, 0)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()


def limits_from(limits_url: str, broker_url: str, database_url: str, channel: str) -> LimitStore:
    """The store ``CHAT_LIMITS_URL`` names, or (when empty) the one that goes with the broker."""
    url = limits_url or broker_url
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisLimits(url, channel)
    if url == "postgres" or url.startswith(("postgres://", "postgresql://")):
        if not database_url.startswith("postgres"):
            raise ValueError("Limits in PostgreSQL need a PostgreSQL CHAT_DATABASE_URL.")
        return PostgresLimits()
    if url.startswith("memory:"):
        return MemoryLimits()
    raise ValueError(f"CHAT_LIMITS_URL: unsupported store {url.split('://')[0]!r}")
