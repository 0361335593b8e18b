"""Housekeeping of old messages (stale presence is in ``actions.presence``): purging, and the
retention of ``CHAT_RETENTION_DAYS``. Deletions go through the change log, so open tabs see
them and catch-ups agree."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from chat_app.actions.edits import delete_messages
from chat_app.models import Message
from chat_app.models.messages import in_batches

Archive = Callable[[list[Message]], Awaitable[None]]
Progress = Callable[[int], object]  # called with how many rows a batch has just handled


async def purge_messages(
    older_than: datetime,
    room_id: int | None = None,
    archive: Archive | None = None,
    batch_size: int = 1000,
    progress: Progress | None = None,
) -> int:
    """Delete messages created before ``older_than`` (in one room or all), batch by batch,
    each batch in one transaction with its "deleted" changes (and files, once there are any).

    With ``archive``, each batch is handed to it first and deleted only once it returns, so an
    interrupted run loses nothing and a rerun carries on. Returns how many were deleted.
    """
    deleted = 0
    async for batch in in_batches(room_id, older_than, batch_size):
        if archive is not None:
            await archive(batch)
        deleted += await delete_messages([m.id for m in batch])
        if progress is not None:
            progress(len(batch))
    return deleted


def retention_cutoff(days: int, now: datetime | None = None) -> datetime | None:
    """The creation time before which messages are past ``days`` of retention (None: off)."""
    if days <= 0:
        return None
    return (now or datetime.now(UTC)) - timedelta(days=days)


async def count_older_than(older_than: datetime) -> int:
    """How many messages were created before ``older_than`` (a progress bar's length)."""
    return await Message.filter(created_at__lt=older_than).count()
