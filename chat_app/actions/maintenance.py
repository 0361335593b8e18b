"""Housekeeping: stale presence, old messages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from tortoise.transactions import in_transaction

from chat_app.models import LiveSocket, Message, UserPresence
from chat_app.models.messages import in_batches

Archive = Callable[[list[Message]], Awaitable[None]]


async def prune_presence(older_than: timedelta) -> tuple[int, int]:
    """Delete sockets whose heartbeat is older than ``older_than`` (their node died) and mark
    users left without any socket offline. Returns (sockets deleted, users marked offline)."""
    cutoff = datetime.now(UTC) - older_than
    async with in_transaction():
        stale = LiveSocket.filter(seen_at__lt=cutoff)
        users = set(await stale.values_list("user_id", flat=True))
        deleted = await stale.delete()
        still_live = set(
            await LiveSocket.filter(user_id__in=users).values_list("user_id", flat=True)
        )
        offline = await UserPresence.filter(user_id__in=users - still_live, is_online=True).update(
            is_online=False
        )
    return deleted, offline


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
