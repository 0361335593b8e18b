"""Search on PostgreSQL: ``pg_trgm``'s GIN index on ``messages.content``, which ``ILIKE``
uses (migration 0011_search; docs/search.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tortoise import connections
from tortoise.transactions import in_transaction

from chat_app.search.criteria import LINK_MARKS, Criteria, like_pattern

INDEX = "messages_content_trgm"
# The planner's default cost of a random page read (4) is a spinning disk's. A chat's recent
# messages are in memory, and with it a one-room search for a word in 1 % of the messages
# walked every room's messages by primary key (30-40 ms at a million messages) instead of
# the room's (room_id, id) index (2-3 ms). 1.1 is the usual setting for SSDs and caches.
RANDOM_PAGE_COST = 1.1
PROGRESS_EVERY_SECONDS = 0.5


def _sql(criteria: Criteria) -> tuple[str, list[Any]]:
    params: list[Any] = []

    def param(value: Any) -> str:
        params.append(value)
        return f"${len(params)}"

    # The viewer's rooms now, read in the same statement.
    viewer = param(criteria.viewer_id)
    where = [f"m.room_id IN (SELECT room_id FROM memberships WHERE user_id = {viewer})"]  # noqa: S608
    where += [f"m.content ILIKE {param(like_pattern(term))}" for term in criteria.indexed]
    # Shorter terms give the trigram index nothing to look up (as an ILIKE it would read all
    # of it): strpos only checks the rows the rest found.
    where += [f"strpos(lower(m.content), lower({param(term)})) > 0" for term in criteria.short]
    if criteria.room_id is not None:
        where.append(f"m.room_id = {param(criteria.room_id)}")
    if criteria.author_id is not None:
        where.append(f"m.author_id = {param(criteria.author_id)}")
    if criteria.before is not None:
        where.append(f"m.id < {param(criteria.before)}")
    if criteria.since is not None:
        where.append(f"m.created_at >= {param(criteria.since)}")
    if criteria.until is not None:
        where.append(f"m.created_at < {param(criteria.until)}")
    if criteria.has_link:
        marks = " OR ".join(f"strpos(m.content, {param(mark)}) > 0" for mark in LINK_MARKS)
        where.append(f"({marks})")
    if criteria.has_file:
        where.append("m.file_count > 0")
    limit = param(criteria.limit)
    # Only placeholders and our own fragments are joined: every value is a parameter.
    sql = (
        f"SELECT m.id FROM messages AS m WHERE {' AND '.join(where)} "  # noqa: S608
        f"ORDER BY m.id DESC LIMIT {limit}"
    )
    return sql, params


async def matching_ids(criteria: Criteria) -> list[int]:
    """Ids of the messages ``criteria`` asks for, newest first."""
    sql, params = _sql(criteria)
    async with in_transaction() as conn:  # SET LOCAL: for this statement's plan only
        await conn.execute_script(f"SET LOCAL random_page_cost = {RANDOM_PAGE_COST}")
        rows = await conn.execute_query_dict(sql, params)
    return [row["id"] for row in rows]


async def rebuild(progress: Callable[[int, int], None]) -> int:
    """Build the index again without blocking posts or searches (``REINDEX CONCURRENTLY``; a
    missing or broken index is made anew), reporting the table blocks scanned as
    ``progress(done, total)``. Returns how many messages the index covers."""
    conn = connections.get("default")
    exists = await conn.execute_query_dict("SELECT to_regclass($1) AS found", [INDEX])
    statement = (
        f"REINDEX INDEX CONCURRENTLY {INDEX}"
        if exists[0]["found"]
        else f"CREATE INDEX CONCURRENTLY {INDEX} ON messages USING gin (content gin_trgm_ops)"
    )
    build = asyncio.ensure_future(conn.execute_script(statement))
    while not build.done():
        rows = await conn.execute_query_dict(
            "SELECT blocks_done, blocks_total FROM pg_stat_progress_create_index "
            "WHERE relid = 'messages'::regclass"
        )
        if rows and rows[0]["blocks_total"]:
            progress(int(rows[0]["blocks_done"]), int(rows[0]["blocks_total"]))
        await asyncio.wait([build], timeout=PROGRESS_EVERY_SECONDS)
    await build
    counted = await conn.execute_query_dict("SELECT count(*) AS n FROM messages")
    total = int(counted[0]["n"])
    progress(total, total)
    return total
