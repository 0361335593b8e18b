"""Limits shared by every worker: each store is one token bucket, and two real server
processes sharing a broker spend from one budget."""

from __future__ import annotations

import subprocess
import sys
import uuid

import httpx
import pytest
from quart import Quart
from tortoise import connections

from chat_app.ratelimits import LimitStore, MemoryLimits, PostgresLimits, RedisLimits, limits_from
from tests.conftest import DATABASE, Cluster, sign_up


async def _behaves_as_a_bucket(store: LimitStore) -> None:
    name = f"test-{uuid.uuid4().hex[:8]}"
    assert await store.wait(name, "k", 0.01, 3) == 0.0
    assert [await store.take(name, "k", 0.01, 3) for _ in range(3)] == [0.0, 0.0, 0.0]
    waits = [await store.take(name, "k", 0.01, 3), await store.wait(name, "k", 0.01, 3)]
    assert all(50 < wait <= 100 for wait in waits), waits  # a token every 100 s
    assert await store.take(name, "other", 0.01, 3) == 0.0  # keys apart
    fast = f"{name}-fast"
    assert await store.take(fast, "k", 1000.0, 1) == 0.0
    assert await store.take(fast, "k", 1000.0, 1) <= 0.001 + 1e-9


async def test_memory_is_a_bucket(app: Quart) -> None:
    async with app.app_context():
        await _behaves_as_a_bucket(MemoryLimits())


@pytest.mark.skipif(DATABASE != "postgres", reason="the PostgreSQL store needs PostgreSQL")
async def test_postgres_is_a_bucket(app: Quart) -> None:
    await _behaves_as_a_bucket(PostgresLimits())


@pytest.mark.skipif(DATABASE != "postgres", reason="UNLOGGED is PostgreSQL's")
async def test_postgres_buckets_are_not_written_to_the_wal(app: Quart) -> None:
    # A logged table made every post's check wait for a WAL flush (4 ms at the median).
    async with app.app_context():
        rows = await connections.get("default").execute_query_dict(
            "SELECT relpersistence::text FROM pg_class WHERE relname = 'rate_buckets'"
        )
    assert rows == [{"relpersistence": "u"}]


async def test_redis_is_a_bucket(redis_url: str) -> None:
    store = RedisLimits(redis_url, f"parley_test_{uuid.uuid4().hex[:8]}")
    try:
        await _behaves_as_a_bucket(store)
    finally:
        await store.close()


def test_the_store_follows_the_broker() -> None:
    pg = "postgres://db/parley"
    assert isinstance(limits_from("", "memory://", "sqlite://x", "c"), MemoryLimits)
    assert isinstance(limits_from("", "postgres", pg, "c"), PostgresLimits)
    assert isinstance(limits_from("", "redis://r:6379/0", pg, "c"), RedisLimits)
    assert isinstance(limits_from("redis://r:6379/0", "postgres", pg, "c"), RedisLimits)
    with pytest.raises(ValueError, match="PostgreSQL"):
        limits_from("postgres", "memory://", "sqlite://x", "c")


@pytest.mark.skipif(DATABASE != "postgres", reason="two workers share one PostgreSQL database")
async def test_two_workers_spend_one_budget(cluster: Cluster) -> None:
    burst = 6
    a, b = cluster(2, CHAT_API_REQUESTS_BURST=str(burst), CHAT_API_REQUESTS_PER_SECOND="0.01")
    await sign_up(a.base, "alice")
    made = subprocess.run(
        [sys.executable, "-m", "chat_app", "create-token", "alice", "--name", "load"],
        env=a.env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    headers = {"Authorization": f"Bearer {made.stdout.strip().splitlines()[-1]}"}
    statuses = []
    async with httpx.AsyncClient(headers=headers) as http:
        for n in range(burst + 4):
            node = (a, b)[n % 2]
            statuses.append((await http.get(f"{node.base}/api/v1/me")).status_code)
    # One process each would have allowed 2 x 6; one shared bucket allows 6 in all.
    assert statuses == [200] * burst + [429] * 4
