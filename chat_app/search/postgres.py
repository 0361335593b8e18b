"""Search on PostgreSQL: ``pg_trgm``'s GIN index on ``messages.content``, which ``ILIKE``
uses (migration 0010_search; docs/search.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tortoise import connections

from chat_app.search.criteria import LINK_MARKS, Criteria, like_pattern

INDEX = "messages_content_trgm"
PROGRESS_EVERY_SECONDS = 0.5
# Messages walked newest first before the index is asked (see matching_ids).
WINDOW = 2000


class _Params:
    """Positional parameters ($1, $2, …) collected as a statement is written."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def _filters(criteria: Criteria, param: _Params) -> str:
    """What a message must pass besides its text: the viewer's rooms now (read in the same
    statement), the cursor, the room, the author, the days."""
    viewer = param(criteria.viewer_id)
    where = [f"m.room_id IN (SELECT room_id FROM memberships WHERE user_id = {viewer})"]  # noqa: S608
    if criteria.before is not None:
        where.append(f"m.id < {param(criteria.before)}")
    if criteria.room_id is not None:
        where.append(f"m.room_id = {param(criteria.room_id)}")
    if criteria.author_id is not None:
        where.append(f"m.author_id = {param(criteria.author_id)}")
    if criteria.since is not None:
        where.append(f"m.created_at >= {param(criteria.since)}")
    if criteria.until is not None:
        where.append(f"m.created_at < {param(criteria.until)}")
    return " AND ".join(where)


def _text(criteria: Criteria, column: str, param: _Params) -> str:
    """What the text must contain: each term (ILIKE, which the trigram index serves), shorter
    terms (strpos: as an ILIKE they would make the index read all of itself) and a link."""
    where = [f"{column} ILIKE {param(like_pattern(term))}" for term in criteria.indexed]
    where += [f"strpos(lower({column}), lower({param(term)})) > 0" for term in criteria.short]
    if criteria.has_link:
        marks = " OR ".join(f"strpos({column}, {param(mark)}) > 0" for mark in LINK_MARKS)
        where.append(f"({marks})")
    return " AND ".join(where) or "true"


def _newest(criteria: Criteria) -> tuple[str, list[Any]]:
    # The inner LIMIT keeps the primary key walk (no sort, no index on the text) and bounds
    # it; the outer one stops it as soon as enough rows matched.
    param = _Params()
    sql = (
        f"SELECT w.id FROM (SELECT m.id, m.content FROM messages AS m "  # noqa: S608
        f"WHERE {_filters(criteria, param)} ORDER BY m.id DESC LIMIT {WINDOW}) AS w "
        f"WHERE {_text(criteria, 'w.content', param)} "
        f"ORDER BY w.id DESC LIMIT {param(criteria.limit)}"
    )
    return sql, param.values


def _window_floor(criteria: Criteria) -> tuple[str, list[Any]]:
    param = _Params()
    sql = (
        f"SELECT min(w.id) AS floor, count(*) AS rows FROM (SELECT m.id FROM messages AS m "  # noqa: S608
        f"WHERE {_filters(criteria, param)} ORDER BY m.id DESC LIMIT {WINDOW}) AS w"
    )
    return sql, param.values


def _indexed(criteria: Criteria, below: int, limit: int) -> tuple[str, list[Any]]:
    param = _Params()
    sql = (
        f"SELECT m.id FROM messages AS m WHERE {_filters(criteria, param)} "  # noqa: S608
        f"AND m.id < {param(below)} AND {_text(criteria, 'm.content', param)} "
        f"ORDER BY m.id DESC LIMIT {param(limit)}"
    )
    return sql, param.values


async def matching_ids(criteria: Criteria) -> list[int]:
    """Ids of the messages ``criteria`` asks for, newest first.

    Which plan is fast depends on how common the words are, and the planner cannot tell from
    trigram statistics (on 1,000,000 messages it read a common word's whole bitmap: 185 ms).
    So: first the viewer's newest WINDOW messages are walked newest first and checked, which
    stops as soon as enough match (common words); only when they hold too few does the
    trigram index look below them (rare words, whose bitmap is small).
    """
    conn = connections.get("default")
    hits = [row["id"] for row in await conn.execute_query_dict(*_newest(criteria))]
    if len(hits) >= criteria.limit:
        return hits
    [window] = await conn.execute_query_dict(*_window_floor(criteria))
    if window["rows"] < WINDOW:  # that was all of the viewer's history
        return hits
    rest = await conn.execute_query_dict(
        *_indexed(criteria, window["floor"], criteria.limit - len(hits))
    )
    return hits + [row["id"] for row in rest]


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
