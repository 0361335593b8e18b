"""Log lines: the rate-limited one an outage writes, and what counts as an outage."""

from __future__ import annotations

import logging
import sqlite3

import asyncpg
import pytest
from tortoise.exceptions import IntegrityError, OperationalError

from chat_app.db import database_unavailable
from chat_app.logs import _POOL_RETRIES, RateLimitedLog

log = logging.getLogger("tests.logs")


def test_one_line_per_key_and_interval_with_the_repeats_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    limited = RateLimitedLog(30, clock=lambda: now[0])
    caplog.set_level(logging.INFO)
    written = [limited.log(log, "db.unavailable", ("websocket", "OSError"), {}) for _ in range(5)]
    assert written == [True, False, False, False, False]
    assert limited.log(log, "db.unavailable", ("housekeeping", "OSError"), {})  # another place
    now[0] += 30
    assert limited.log(log, "db.unavailable", ("websocket", "OSError"), {"where": "websocket"})
    lines = [record.getMessage() for record in caplog.records]
    assert lines == [
        "event=db.unavailable suppressed=0",
        "event=db.unavailable suppressed=0",
        "event=db.unavailable where=websocket suppressed=4",
    ]
    assert all(record.exc_info is None for record in caplog.records)


def test_asyncpgs_pool_retries_become_a_line_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pool = logging.getLogger("asyncpg.pool")
    pool.addFilter(_POOL_RETRIES)
    caplog.set_level(logging.INFO)
    try:
        for _ in range(3):
            try:
                raise ConnectionRefusedError(111, "Connection refused")
            except ConnectionRefusedError:
                pool.warning("Failed to restore the pool connection floor; retrying", exc_info=True)
    finally:
        pool.removeFilter(_POOL_RETRIES)
    assert "Traceback" not in caplog.text
    lines = [r.getMessage() for r in caplog.records if "db.unavailable" in r.getMessage()]
    assert len(lines) <= 1  # one per interval; an earlier test of this process may own it
    assert all(r.name != "asyncpg.pool" for r in caplog.records)


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError(),
        asyncpg.exceptions.CannotConnectNowError("the database system is shutting down"),
        asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"),
        asyncpg.exceptions.AdminShutdownError("terminating connection"),
        asyncpg.exceptions.InterfaceError("connection is closed"),
    ],
)
def test_an_unreachable_database_is_an_outage(error: Exception) -> None:
    assert database_unavailable(error)


def test_tortoises_wrappers_are_judged_by_what_they_wrap() -> None:
    assert database_unavailable(OperationalError(sqlite3.OperationalError("database is locked")))
    assert not database_unavailable(OperationalError(sqlite3.OperationalError("no such table: x")))
    assert not database_unavailable(OperationalError(asyncpg.exceptions.UndefinedTableError("x")))
    assert not database_unavailable(IntegrityError("duplicate key"))
    assert not database_unavailable(KeyError("a bug, not an outage"))
