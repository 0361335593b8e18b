"""Housekeeping of old messages (stale presence is in ``actions.presence``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from chat_app.models import Message
from chat_app.models.messages import in_batches

Archive = Callable[[list[Message]], Awaitable[None]]


async def purge_messages(
    older_than: datetime,
    room_id: int | None = None,
    archive: Archive | None = None,
    batch_size: int = 1000,
) -> int:
    """Delete messages created before ``older_than`` (in one room or all), batch by batch.

    With ``archive``, each batch is handed to it first and deleted only once it returns, so an
    interrupted run loses nothing and a rerun carries on. Returns how many were deleted.
    """
    deleted = 0
    async for batch in in_batches(room_id, older_than, batch_size):
        if archive is not None:
            await archive(batch)
        deleted += await Message.filter(id__in=[m.id for m in batch]).delete()
    return deleted
