"""Opening, closing and migrating the database (Tortoise's own migrations)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Coroutine
from typing import Any

import asyncpg
from tortoise import Tortoise, connections
from tortoise.exceptions import BaseORMException, DBConnectionError, OperationalError
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


# What a database that is down, restarting or out of reach raises: the pool's reconnects
# (refused, reset, timed out), asyncpg's "connection closed" and "shutting down" errors.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
    asyncpg.InterfaceError,
    DBConnectionError,
)
_SQLITE_TRANSIENT = ("locked", "busy", "disk i/o", "unable to open")
# Error handlers are registered by class: these may be an outage (database_unavailable says).
UNAVAILABLE_ERRORS = (*_UNAVAILABLE, OperationalError)


def database_unavailable(error: BaseException) -> bool:
    """True when ``error`` says the database cannot be used right now (down, restarting,
    unreachable, locked): worth retrying later. False for errors a retry cannot fix
    (a constraint, a bad query), so a bug is never mistaken for an outage.

    Tortoise wraps SQLite's errors, and asyncpg's query errors, in its OperationalError
    (the original is its argument): what it wraps decides.
    """
    if isinstance(error, _UNAVAILABLE):
        return True
    if isinstance(error, OperationalError):
        wrapped = error.args[0] if error.args else None
        cause = wrapped if isinstance(wrapped, BaseException) else error.__cause__
        if isinstance(cause, sqlite3.OperationalError):
            return any(word in str(cause).lower() for word in _SQLITE_TRANSIENT)
        return cause is not None and database_unavailable(cause)
    return False


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
