"""Opening, closing and migrating the database (Tortoise's own migrations)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from tortoise import Tortoise, connections
from tortoise.migrations.api import migrate
from tortoise.migrations.executor import MigrationExecutor

from chat_app.config import tortoise_config


async def open_database(database_url: str) -> None:
    """Connect Tortoise. Called once per process, in ``before_serving`` (not register_tortoise,
    which loses its context under Hypercorn)."""
    await Tortoise.init(config=tortoise_config(database_url), _enable_global_fallback=True)


async def close_database() -> None:
    """Close every connection; an open aiosqlite connection would keep the process alive."""
    await Tortoise.close_connections()


async def apply_migrations(database_url: str) -> None:
    """Bring the schema up to date and close the connections the migrator opened."""
    try:
        await migrate(config=tortoise_config(database_url))
    finally:
        await close_database()


async def pending_migrations(database_url: str) -> list[str]:
    """Names of migrations on disk not yet applied to the connected database."""
    apps = tortoise_config(database_url)["apps"]
    executor = MigrationExecutor(connections.get("default"), apps)
    return [
        f"{step.migration.app_label}.{step.migration.name}"
        for step in await executor.plan()
        if not step.backward
    ]


async def finish_even_if_cancelled[T](write: Coroutine[Any, Any, T]) -> T:
    """Run a transactional write to its end even if the caller is cancelled (its client left).

    Tortoise's SQLite transaction takes the connection's lock before ``BEGIN``; a cancellation
    delivered there never releases it, and every later query of every user waits forever.
    Shielded, the write commits or rolls back as usual and only the answer is lost.
    """
    return await asyncio.shield(write)
