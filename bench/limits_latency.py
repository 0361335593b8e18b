"""What one rate-limit check costs in each store: latency of ``take`` one at a time.

    python -m bench.limits_latency [--checks 2000] [--postgres ADMIN_URL] [--redis URL]

Memory is today's one-process bucket; PostgreSQL runs on a database of its own made for the
run (migrated, dropped afterwards); Redis uses its own key prefix. Keys rotate over 1,000
users, as one bucket per user does.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

import asyncpg
from quart import Quart

from chat_app.db import apply_migrations, close_database, open_database
from chat_app.ratelimits import LimitStore, MemoryLimits, PostgresLimits, RedisLimits

USERS = 1000


async def measure(label: str, store: LimitStore, checks: int) -> str:
    """One line of results for ``store``."""
    latencies = []
    for n in range(checks):
        started = time.perf_counter()
        await store.take("bench", str(n % USERS), 1000.0, 1000)
        latencies.append((time.perf_counter() - started) * 1e6)
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    return f"{label:>9}: take p50 {statistics.median(latencies):7.0f} µs, p99 {p99:7.0f} µs"


async def main() -> None:
    """Measure the three stores."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checks", type=int, default=2000)
    parser.add_argument("--postgres", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    async with Quart(__name__).app_context():
        print(await measure("memory", MemoryLimits(), args.checks))
    name = f"parley_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(args.postgres)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"{args.postgres.rsplit('/', 1)[0]}/{name}"
        await apply_migrations(url)
        await open_database(url)
        try:
            print(await measure("postgres", PostgresLimits(), args.checks))
        finally:
            await close_database()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    redis = RedisLimits(args.redis, f"parley_bench_{uuid.uuid4().hex[:8]}")
    try:
        print(await measure("redis", redis, args.checks))
    finally:
        await redis.close()


if __name__ == "__main__":
    asyncio.run(main())
