"""Presence and typing: who is online (rows per open socket) and who is typing (events only)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from quart import current_app

from chat_app.actions.limits import app_limiter
from chat_app.buckets import TokenBucket
from chat_app.models import LiveSocket, User, UserPresence
from chat_app.realtime import publish
from chat_app.realtime.events import PresenceChanged, TypingStarted, TypingStopped

STATUSES = ("online", "away")


class PresenceRejected(ValueError):
    """A presence update the client must correct; ``str()`` says how."""


def _now() -> datetime:
    return datetime.now(UTC)


async def _mark_online(users: set[int]) -> set[int]:
    """Flag ``users`` online (rows made as needed); those who were not."""
    if not users:
        return set()
    known = dict(await UserPresence.filter(user_id__in=users).values_list("user_id", "is_online"))
    new = users - known.keys()
    if new:
        await UserPresence.bulk_create(
            [UserPresence(user_id=u, is_online=True) for u in new], ignore_conflicts=True
        )
    back = {u for u, online in known.items() if not online}
    if back:  # last_seen marks changes (tabs catching up look at it): not every new tab
        await UserPresence.filter(user_id__in=back).update(is_online=True, last_seen=_now())
    return new | back


async def _mark_offline_unless_connected(users: set[int]) -> set[int]:
    """Flag those of ``users`` with no socket left on any node offline; those who were online."""
    if not users:
        return set()
    connected = (
        await LiveSocket.filter(user_id__in=users).distinct().values_list("user_id", flat=True)
    )
    gone = users - {int(u) for u in connected}  # type: ignore[call-overload]
    if not gone:
        return set()
    was_online = await UserPresence.filter(user_id__in=gone, is_online=True).values_list(
        "user_id", flat=True
    )
    await UserPresence.filter(user_id__in=gone).update(is_online=False, last_seen=_now())
    return {int(u) for u in was_online}  # type: ignore[call-overload]


class SocketLedger:
    """This node's rows of open sockets, written in batches.

    Each open and close waits until its row is written, as before, but everything that comes
    while a batch is being written goes into the next one: a few statements for a whole
    reconnect storm instead of five round trips per socket. The writes run in the ledger's own
    task, so a handler cancelled by its client leaving never interrupts one.
    """

    def __init__(self) -> None:
        self._opened: list[LiveSocket] = []
        self._closed: list[LiveSocket] = []
        self._waiting: list[asyncio.Future[None]] = []
        self._writer: asyncio.Task[None] | None = None

    async def opened(self, socket_id: str, user_id: int, room_id: int, node: str) -> None:
        """A socket of ``user_id`` opened on ``node``: the user is online."""
        row = LiveSocket(id=socket_id, user_id=user_id, room_id=room_id, node=node)
        self._opened.append(row)
        await self._written()

    async def closed(self, socket_id: str, user_id: int) -> None:
        """A socket closed: the user goes offline when it was their last one, on any node."""
        self._closed.append(LiveSocket(id=socket_id, user_id=user_id))
        await self._written()

    async def _written(self) -> None:
        done = asyncio.get_running_loop().create_future()
        self._waiting.append(done)
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_batches())
        await asyncio.shield(done)  # a waiter that leaves must not cancel the others' write

    async def _write_batches(self) -> None:
        while self._waiting:
            opened, closed, waiting = self._opened, self._closed, self._waiting
            self._opened, self._closed, self._waiting = [], [], []
            try:
                await _write_batch(opened, closed)
            except Exception as error:
                # Closed sockets' rows would otherwise stay, refreshed with their node's: the
                # next batch deletes them.
                self._closed[:0] = closed
                for done in waiting:
                    done.set_exception(error)
            else:
                for done in waiting:
                    done.set_result(None)


async def _write_batch(opened: list[LiveSocket], closed: list[LiveSocket]) -> None:
    if opened:
        await LiveSocket.bulk_create(opened)
    if closed:
        await LiveSocket.filter(id__in=[row.id for row in closed]).delete()
    changed = await _mark_online({row.user_id for row in opened})
    changed |= await _mark_offline_unless_connected({row.user_id for row in closed})
    for user_id in sorted(changed):
        await publish(PresenceChanged(user_id=user_id))


def _ledger() -> SocketLedger:
    ledger: SocketLedger = current_app.extensions["socket_ledger"]
    return ledger


async def socket_opened(socket_id: str, user_id: int, room_id: int, node: str) -> None:
    """A socket of ``user_id`` opened on ``node``: the user is online."""
    await _ledger().opened(socket_id, user_id, room_id, node)


async def socket_closed(socket_id: str, user_id: int) -> None:
    """A socket closed: the user goes offline when it was their last one, on any node."""
    await _ledger().closed(socket_id, user_id)


async def refresh_sockets(node: str) -> None:
    """Heartbeat for ``node``'s open sockets, so other nodes know it is alive: one statement
    whatever their number (a list of 10,000 ids cost the ORM ~0.2 s of CPU every 10 s)."""
    await LiveSocket.filter(node=node).update(seen_at=_now())


async def prune_presence(older_than: timedelta) -> list[int]:
    """Forget sockets whose node stopped refreshing them (it died) and mark their users
    offline; also repair users flagged online with no socket left. Returns those users."""
    cutoff = _now() - older_than
    stale = await LiveSocket.filter(seen_at__lt=cutoff).values_list("user_id", flat=True)
    await LiveSocket.filter(seen_at__lt=cutoff).delete()
    flagged = await UserPresence.filter(is_online=True).values_list("user_id", flat=True)
    candidates = {int(u) for u in [*stale, *flagged]}  # type: ignore[call-overload]
    gone = sorted(await _mark_offline_unless_connected(candidates))
    for user_id in gone:
        await publish(PresenceChanged(user_id=user_id))
    return gone


async def set_status(user: User, status: object) -> UserPresence:
    """Set the status the user shows (``online`` or ``away``)."""
    if status not in STATUSES:
        raise PresenceRejected(f"'status' must be one of: {', '.join(STATUSES)}.")
    presence, _ = await UserPresence.get_or_create(user_id=user.id)
    if presence.status != status:
        presence.status = str(status)
        presence.last_seen = _now()  # a change: tabs catching up on presence look at this
        await presence.save(update_fields=["status", "last_seen"])
        await publish(PresenceChanged(user_id=user.id))
    return presence


def _typing_limiter() -> TokenBucket:
    interval: float = current_app.config["TYPING_SIGNAL_SECONDS"]
    return app_limiter("typing", 1 / interval, 1)


async def signal_typing(user_id: int, room_id: int) -> bool:
    """Tell the room ``user_id`` is typing; at most one signal per interval (False if dropped)."""
    if _typing_limiter().take((user_id, room_id)):
        return False
    await publish(TypingStarted(room_id=room_id, user_id=user_id))
    return True


async def stop_typing(user_id: int, room_id: int) -> None:
    """The user sent their message or left: clear their indicator at once."""
    await publish(TypingStopped(room_id=room_id, user_id=user_id))
