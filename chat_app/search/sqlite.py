"""Search on SQLite: the FTS5 table ``message_search`` (trigram tokenizer) over the messages'
text, kept by triggers (migration 0011_search; docs/search.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tortoise import connections
from tortoise.transactions import in_transaction

from chat_app.search.criteria import LINK_MARKS, Criteria

REBUILD_BATCH = 5000


def _fts_query(terms: tuple[str, ...]) -> str:
    # Each term a quoted FTS5 string: with the trigram tokenizer that is a substring match,
    # and nothing in it (quotes doubled) is FTS5 syntax. Strings side by side are an AND.
    return " ".join('"' + term.replace('"', '""') + '"' for term in terms)


def _sql(criteria: Criteria) -> tuple[str, list[Any]]:
    params: list[Any] = []
    where: list[str] = []
    if criteria.indexed:
        # CROSS JOIN keeps the index as the outer loop: it hands out matches newest first, and
        # the LIMIT stops the walk as soon as enough of them are the viewer's.
        source = "message_search AS s CROSS JOIN messages AS m ON m.id = s.rowid"
        key = "s.rowid"
        where.append("s.message_search MATCH ?")
        params.append(_fts_query(criteria.indexed))
    else:
        source, key = "messages AS m", "m.id"
    # The viewer's rooms now, read in the same statement. The unary + keeps SQLite from
    # reading by room and sorting: walking ids newest first stops early.
    where.append("+m.room_id IN (SELECT room_id FROM memberships WHERE user_id = ?)")
    params.append(criteria.viewer_id)
    if criteria.room_id is not None:
        where.append("m.room_id = ?")
        params.append(criteria.room_id)
    if criteria.author_id is not None:
        where.append("+m.author_id = ?")
        params.append(criteria.author_id)
    if criteria.before is not None:
        where.append(f"{key} < ?")
        params.append(criteria.before)
    # Stored as ISO text in UTC; the same form compares in time order.
    if criteria.since is not None:
        where.append("m.created_at >= ?")
        params.append(criteria.since.isoformat(sep=" "))
    if criteria.until is not None:
        where.append("m.created_at < ?")
        params.append(criteria.until.isoformat(sep=" "))
    for term in criteria.short:
        where.append("instr(lower(m.content), lower(?)) > 0")
        params.append(term)
    if criteria.has_link:
        where.append("(" + " OR ".join("instr(m.content, ?) > 0" for _ in LINK_MARKS) + ")")
        params.extend(LINK_MARKS)
    if criteria.has_file:
        where.append("m.file_count > 0")
    params.append(criteria.limit)
    # Only placeholders and our own fragments are joined: every value is a parameter.
    sql = f"SELECT m.id FROM {source} WHERE {' AND '.join(where)} ORDER BY {key} DESC LIMIT ?"  # noqa: S608
    return sql, params


async def matching_ids(criteria: Criteria) -> list[int]:
    """Ids of the messages ``criteria`` asks for, newest first."""
    sql, params = _sql(criteria)
    rows = await connections.get("default").execute_query_dict(sql, params)
    return [row["id"] for row in rows]


async def rebuild(progress: Callable[[int, int], None]) -> int:
    """Index every message again, in one transaction (posts wait meanwhile: a post between
    two batches would otherwise be indexed twice); ``progress(done, total)`` after each
    batch. Returns how many messages were indexed."""
    async with in_transaction() as conn:
        rows = await conn.execute_query_dict("SELECT count(*) AS n FROM messages")
        total = int(rows[0]["n"])
        progress(0, total)
        await conn.execute_script(
            "INSERT INTO message_search (message_search) VALUES ('delete-all')"
        )
        done, last = 0, 0
        while True:
            rows = await conn.execute_query_dict(
                "SELECT count(*) AS n, max(id) AS upto FROM "
                "(SELECT id FROM messages WHERE id > ? ORDER BY id LIMIT ?)",
                [last, REBUILD_BATCH],
            )
            count, upto = int(rows[0]["n"]), rows[0]["upto"]
            if count:
                await conn.execute_query(
                    "INSERT INTO message_search (rowid, content) "
                    "SELECT id, content FROM messages WHERE id > ? AND id <= ?",
                    [last, upto],
                )
                done, last = done + count, upto
                progress(done, total)
            if count < REBUILD_BATCH:
                return done
