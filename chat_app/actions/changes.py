"""What every change to a message shares: who may make it, its row in the change log, and
the event published once it is committed."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from quart import current_app

from chat_app import metrics
from chat_app.actions.limits import shared_limiter
from chat_app.logs import log_event
from chat_app.models import Change, ChangeKind, Membership, Message, Room, User
from chat_app.models.changes import newest_change
from chat_app.models.messages import message_for_member
from chat_app.realtime import publish
from chat_app.realtime.events import RoomChanged

log = logging.getLogger(__name__)

MESSAGE_ID_DIGITS = 18  # a BIGINT has 19; anything longer is no message of ours


class MessageRejected(ValueError):
    """Nothing was changed; ``str()`` tells the sender why (422 over HTTP)."""


class TooFast(MessageRejected):
    """The user's write budget is spent for now; ``retry_after`` in seconds (429 over HTTP)."""

    def __init__(self, wait: float) -> None:
        self.retry_after = wait
        super().__init__(f"You are sending too fast; try again in {wait:.1f} s.")


class MessageNotFound(MessageRejected):
    """No such message for this user: none, or in a room they are not in (404)."""


class NotAllowed(MessageRejected):
    """The message is there, but this user may not do that to it (403)."""


def message_id_from(raw: object) -> int:
    """A message id given by a client (form field, frame or URL), or MessageNotFound."""
    text = str(raw) if isinstance(raw, int | str) else ""
    if not (text.isascii() and text.isdigit() and 0 < len(text) <= MESSAGE_ID_DIGITS):
        raise MessageNotFound("There is no such message.")
    return int(text)


async def changeable(user: User, raw_id: object) -> Message:
    """The message ``raw_id`` names, with its room and author, if ``user`` may change things
    on it at all: they belong to its room and the room is not archived."""
    message = await message_for_member(user.id, message_id_from(raw_id))
    if message is None:
        raise MessageNotFound("There is no such message (it may have been deleted).")
    if message.room.archived_at is not None:
        raise NotAllowed("This room is archived: it can be read, not changed.")
    return message


async def is_moderator(user: User, room: Room) -> bool:
    """Whether ``user`` may delete anyone's messages in ``room``: a workspace admin or an
    admin of the room."""
    if user.is_admin:
        return True
    return await Membership.exists(user_id=user.id, room_id=room.id, role="admin")


async def spend_write(user: User, room_id: int) -> None:
    """Take one of the user's write tokens (posts, edits, deletions and reactions share
    them), or MessageRejected saying when to try again."""
    cfg = current_app.config
    limiter = shared_limiter("messages", cfg["MESSAGES_PER_SECOND"], cfg["MESSAGES_BURST"])
    wait = await limiter.take(user.id)
    if wait:
        metrics.RATE_LIMITED.inc()
        log_event(log, "rate_limited", logging.WARNING, user=user.id, room=room_id)
        raise TooFast(wait)


async def record(room_id: int, message_id: int, kind: ChangeKind) -> int:
    """Log a change, inside the caller's transaction; its number follows commit order."""
    change = await Change.create(room_id=room_id, message_id=message_id, kind=kind)
    return int(change.id)


async def announce(room_id: int, change: int) -> None:
    """Tell every node about a committed change (call after the commit)."""
    await publish(RoomChanged(room_id=room_id, change=change))


async def record_many(kind: ChangeKind, changed: Iterable[tuple[int, int]]) -> set[int]:
    """Log one ``kind`` change per (room, message) in ``changed``, inside the caller's
    transaction (account deletion, retention: a batch at a time); the rooms touched.

    Rows go in room order: on PostgreSQL each takes its room's lock, so two batches touching
    the same rooms take the locks in the same order and never deadlock.
    """
    rows = sorted(set(changed))
    await Change.bulk_create([Change(room_id=r, message_id=m, kind=kind) for r, m in rows])
    return {room_id for room_id, _ in rows}


async def announce_newest(room_ids: Iterable[int]) -> None:
    """Announce each room's newest change (after a commit that logged several): a node reads
    every change up to it, so one event per room covers the whole batch."""
    for room_id in sorted(set(room_ids)):
        await announce(room_id, await newest_change(room_id))
