"""Message search: one function in front of one module per database dialect.

``search`` resolves a parsed query's room and person through the viewer (a room they are not
in is no room at all), asks the dialect's index for the matching ids, newest first, and loads
those messages for their partial. Every dialect reads the viewer's memberships in the same
statement as the match: what a viewer may not read now is never a candidate, so it cannot
show up in results, their order or the "more results" cursor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol

from tortoise import connections

from chat_app.models import Message, User
from chat_app.models.messages import shown
from chat_app.models.rooms import room_for_member
from chat_app.search import postgres, sqlite
from chat_app.search.criteria import Criteria
from chat_app.search.query import Query, SearchError, parse

__all__ = [
    "NOTHING_ASKED",
    "Query",
    "Results",
    "SearchError",
    "parse",
    "rebuild_index",
    "search",
    "search_text",
]


NOTHING_ASKED = "Give 'q': what to look for."


@dataclass(frozen=True, slots=True)
class Results:
    """A page of matches, newest first (room and author loaded, ready for the partial);
    ``next_before`` continues below the last one (None: no more); ``notice`` says why a
    search found nothing before it looked."""

    messages: list[Message]
    next_before: int | None
    notice: str | None = None


class Dialect(Protocol):
    """What each dialect's module offers (sqlite.py, postgres.py)."""

    async def matching_ids(self, criteria: Criteria) -> list[int]: ...

    async def rebuild(self, progress: Callable[[int, int], None]) -> int: ...


def _dialect() -> Dialect:
    name = connections.get("default").capabilities.dialect
    return postgres if name == "postgres" else sqlite


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


async def search(viewer_id: int, query: Query, before: int | None, limit: int) -> Results:
    """Up to ``limit`` messages that ``viewer_id`` may read now and that ``query`` matches,
    newest first, below message id ``before`` (None: from the newest)."""
    room_id = author_id = None
    if query.room is not None:
        room = await room_for_member(viewer_id, query.room)
        if room is None:  # the same words whether it exists or not
            return Results([], None, f"You are in no room called #{query.room}.")
        room_id = room.id
    if query.author is not None:
        author = await User.get_or_none(username=query.author)
        if author is None:
            return Results([], None, f"No one is called @{query.author}.")
        author_id = author.id
    criteria = Criteria(
        viewer_id=viewer_id,
        indexed=query.indexed_terms,
        short=query.short_terms,
        room_id=room_id,
        author_id=author_id,
        since=_start_of(query.after) + timedelta(days=1) if query.after else None,
        until=_start_of(query.before) if query.before else None,
        has_link=query.has_link,
        has_file=query.has_file,
        before=before,
        limit=limit + 1,  # one more tells whether there is a next page
    )
    ids = await _dialect().matching_ids(criteria)
    if not ids:
        return Results([], None)
    found = {
        m.id: m for m in await Message.filter(id__in=ids[:limit]).select_related("author", "room")
    }
    messages = await shown([found[i] for i in ids[:limit] if i in found])
    return Results(messages, ids[limit - 1] if len(ids) > limit else None)


async def search_text(viewer_id: int, text: str, before: int | None, limit: int) -> Results:
    """``search`` for a query as typed (the APIs): SearchError when it cannot be understood
    or asks for nothing."""
    query = parse(text)
    if query.is_empty:
        raise SearchError(NOTHING_ASKED)
    return await search(viewer_id, query, before, limit)


async def rebuild_index(progress: Callable[[int, int], None]) -> int:
    """Build the search index again from the messages (``progress(done, total)`` on the way);
    how many messages it covers. For an index suspected stale or broken: in normal use it
    follows every post, edit and deletion in their own transactions."""
    return await _dialect().rebuild(progress)
