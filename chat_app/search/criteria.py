"""A search resolved against the database (room and person as ids, days as instants), as the
dialect modules take it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# Where a link starts: has:link looks for these in the text.
LINK_MARKS = ("http://", "https://")


@dataclass(frozen=True, slots=True)
class Criteria:
    """Messages that ``viewer_id`` may read now (their rooms' messages) and that contain every
    term, newest first, below message id ``before``; at most ``limit`` ids."""

    viewer_id: int
    indexed: tuple[str, ...]  # terms a trigram index can find (3 characters or more)
    short: tuple[str, ...]  # shorter terms, checked on each candidate
    room_id: int | None
    author_id: int | None
    since: datetime | None  # created at or after
    until: datetime | None  # created before
    has_link: bool
    has_file: bool  # messages with attachments (their file_count)
    before: int | None
    limit: int


def like_pattern(term: str) -> str:
    """A LIKE pattern matching ``term`` anywhere, with LIKE's own characters escaped by ``\\``."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
