"""Opening, closing and migrating the database (Tortoise's own migrations)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from tortoise import Tortoise, connections
from tortoise.exceptions import BaseORMException
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


class DatabaseNotReady(RuntimeError):
    """The database cannot be used; ``str()`` says why and what to do."""


class SchemaBehind(DatabaseNotReady):
    """The database lacks migrations this code needs."""


async def ping_database() -> None:
    """Raise DatabaseNotReady unless the database answers a trivial query."""
    try:
        await connections.get("default").execute_query("SELECT 1")
    except (OSError, BaseORMException) as error:
        raise DatabaseNotReady(f"Cannot reach the database: {error}") from error


async def require_current_schema(database_url: str) -> None:
    """Raise DatabaseNotReady when the database does not answer or has pending migrations
    (an unreachable database would otherwise look like an empty one)."""
    await ping_database()
    pending = await pending_migrations(database_url)
    if pending:
        raise SchemaBehind(
            "The database schema is behind (pending: "
            + ", ".join(pending)
            + "). Run `make migrate` (or `python -m chat_app migrate`) first."
        )


async def check_database(database_url: str) -> None:
    """Open, check (DatabaseNotReady as in ``require_current_schema``) and close again."""
    await open_database(database_url)
    try:
        await require_current_schema(database_url)
    finally:
        await close_database()
