"""The bench database: its own PostgreSQL database (or SQLite file), real users, real sessions
and the quart-auth cookies a browser would carry, made through the app's own actions."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import tempfile
import uuid
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import asyncpg
from argon2 import PasswordHasher
from tortoise import connections

from chat_app import create_app
from chat_app.actions import accounts, join_room, register_user, start_session
from chat_app.db import apply_migrations
from chat_app.models import Message, Room, User

ROOM = "general"
HISTORY_ROOM = "history"
SOCKETS_PER_USER = 8  # below the app's limit of 10 sockets per user
PASSWORD = "bench password"
SECRET = secrets.token_urlsafe(32)
POSTGRES_ADMIN_URL = os.environ.get(
    "CHAT_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"
)


@dataclass
class Population:
    """What the scenarios use: where the data is, whose cookies, which room ids."""

    database_url: str
    cookies: list[str]  # one per user; a user's cookie serves up to SOCKETS_PER_USER sockets
    sender_cookies: list[str]
    history_room_id: int | None
    history_ids: tuple[int, int] | None  # first and last message id in the history room

    def client_cookies(self, count: int) -> list[str]:
        """A cookie for each of ``count`` sockets, at most SOCKETS_PER_USER per user."""
        if count > len(self.cookies) * SOCKETS_PER_USER:
            raise ValueError(f"only {len(self.cookies)} users for {count} sockets")
        return [self.cookies[n // SOCKETS_PER_USER] for n in range(count)]


@contextlib.asynccontextmanager
async def database(kind: str) -> AsyncIterator[str]:
    """A fresh, migrated database of ``kind`` ("postgres" or "sqlite"), dropped afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="parley-bench-") as folder:
            url = f"sqlite://{Path(folder) / 'bench.sqlite3'}"
            await apply_migrations(url)
            yield url
        return
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    name = f"parley_bench_{uuid.uuid4().hex[:10]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"{POSTGRES_ADMIN_URL.rsplit('/', 1)[0]}/{name}"
        await apply_migrations(url)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _in_batches[T](coros: list[Coroutine[Any, Any, T]], size: int = 32) -> list[T]:
    """Await ``coros`` a few at a time (the connection pool is small)."""
    results: list[T] = []
    for start in range(0, len(coros), size):
        results += await asyncio.gather(*coros[start : start + size])
    return results


async def populate(url: str, users: int, senders: int, history_messages: int) -> Population:
    """Register ``users`` + ``senders`` accounts, sign each in once, fill the history room."""
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": SECRET})
    # register_user and start_session as the app runs them, but with a cheap argon2 setting:
    # hashing thousands of passwords at the production cost would take minutes.
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    with mock.patch.object(accounts, "_hasher", cheap):
        async with app.test_app(), app.app_context():
            return await _populate(app, url, users, senders, history_messages)


async def _populate(
    app: Any, url: str, users: int, senders: int, history_messages: int
) -> Population:
    auth = app.extensions["QUART_AUTH"][0]
    names = [f"bench{n:05d}" for n in range(users + senders)]
    made: list[User] = await _in_batches([register_user(name, PASSWORD) for name in names])
    tokens: list[str] = await _in_batches([start_session(user, 1) for user in made])
    cookies = [f"{auth.cookie_name}={auth.dump_token(t, app)}" for t in tokens]
    history_room_id = bounds = None
    if history_messages:
        history = await join_room(made[0], HISTORY_ROOM)
        await join_room(made[1], HISTORY_ROOM)
        bounds = await _fill(url, history, made[0].id, history_messages)
        history_room_id = history.id
    return Population(url, cookies[:users], cookies[users:], history_room_id, bounds)


async def _fill(url: str, room: Room, author_id: int, count: int) -> tuple[int, int]:
    """Insert ``count`` messages into ``room``: one SQL statement on PostgreSQL."""
    if url.startswith("postgres"):
        conn = connections.get("default")
        await conn.execute_query(
            "INSERT INTO messages (room_id, author_id, content, client_id, created_at) "
            "SELECT $1, $2, 'history message ' || n, 'h' || lpad(n::text, 10, '0'), "
            "now() - (($3 - n) || ' seconds')::interval FROM generate_series(1, $3) AS n",
            [room.id, author_id, count],
        )
        await conn.execute_script("ANALYZE messages")
    else:
        now = datetime.now(UTC)
        await Message.bulk_create(
            [
                Message(
                    room_id=room.id,
                    author_id=author_id,
                    content=f"history message {n}",
                    client_id=f"h{n:010d}",
                    created_at=now,
                )
                for n in range(count)
            ],
            batch_size=1000,
        )
    first = await Message.filter(room_id=room.id).order_by("id").first()
    last = await Message.filter(room_id=room.id).order_by("-id").first()
    assert first is not None and last is not None
    return first.id, last.id
