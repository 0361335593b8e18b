"""The connection pool on PostgreSQL: a query costs one round trip, not two."""

from __future__ import annotations

import pytest
from quart import Quart
from tortoise import connections

from tests.conftest import DATABASE


@pytest.mark.skipif(DATABASE != "postgres", reason="asyncpg's pool: PostgreSQL only")
async def test_a_connection_goes_back_to_the_pool_without_a_reset_query(app: Quart) -> None:
    """asyncpg's default reset (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL) would follow
    every query Tortoise makes; the app's pool skips it, but still ends a forgotten
    transaction."""
    pool = connections.get("default")._pool
    sent: list[str] = []
    async with pool.acquire() as connection:
        connection.add_query_logger(lambda record: sent.append(record.query))
        await connection.execute("BEGIN")
        await connection.fetchval("SELECT 1")
    assert sent == ["BEGIN", "SELECT 1", "ROLLBACK"]
    async with pool.acquire() as connection:
        assert not connection.is_in_transaction()
