"""Presence and typing: who is online (rows per open socket) and who is typing (events only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from quart import current_app
from tortoise.transactions import in_transaction

from chat_app.actions.limits import TokenBucket
from chat_app.models import LiveSocket, User, UserPresence
from chat_app.realtime import publish
from chat_app.realtime.events import PresenceChanged, TypingStarted, TypingStopped

STATUSES = ("online", "away")


class PresenceRejected(ValueError):
    """A presence update the client must correct; ``str()`` says how."""


def _now() -> datetime:
    return datetime.now(UTC)


async def _set_online(user_id: int, online: bool) -> None:
    """Record the user's online flag; publish only when it changed."""
    async with in_transaction():
        presence, created = await UserPresence.get_or_create(
            user_id=user_id, defaults={"is_online": online}
        )
        changed = created or presence.is_online != online
        presence.is_online = online
        presence.last_seen = _now()
        await presence.save(update_fields=["is_online", "last_seen"])
    if changed:
        await publish(PresenceChanged(user_id=user_id))


async def socket_opened(socket_id: str, user_id: int, room_id: int, node: str) -> None:
    """A socket of ``user_id`` opened on ``node``: the user is online."""
    await LiveSocket.create(id=socket_id, user_id=user_id, room_id=room_id, node=node)
    await _set_online(user_id, True)


async def socket_closed(socket_id: str, user_id: int) -> None:
    """A socket closed: the user goes offline when it was their last one, on any node."""
    await LiveSocket.filter(id=socket_id).delete()
    if not await LiveSocket.filter(user_id=user_id).exists():
        await _set_online(user_id, False)


async def refresh_sockets(socket_ids: list[str]) -> None:
    """Heartbeat for this node's open sockets, so other nodes know this one is alive."""
    if socket_ids:
        await LiveSocket.filter(id__in=socket_ids).update(seen_at=_now())


async def prune_presence(older_than: timedelta) -> list[int]:
    """Forget sockets whose node stopped refreshing them (it died) and mark their users
    offline; also repair users flagged online with no socket left. Returns those users."""
    cutoff = _now() - older_than
    stale = await LiveSocket.filter(seen_at__lt=cutoff).values_list("user_id", flat=True)
    await LiveSocket.filter(seen_at__lt=cutoff).delete()
    flagged = await UserPresence.filter(is_online=True).values_list("user_id", flat=True)
    candidates = {int(u) for u in [*stale, *flagged]}  # type: ignore[call-overload]
    alive = set(await LiveSocket.filter(user_id__in=candidates).values_list("user_id", flat=True))
    gone = sorted(candidates - alive)
    for user_id in gone:
        await _set_online(user_id, False)
    return gone


async def set_status(user: User, status: object) -> UserPresence:
    """Set the status the user shows (``online`` or ``away``)."""
    if status not in STATUSES:
        raise PresenceRejected(f"'status' must be one of: {', '.join(STATUSES)}.")
    presence, _ = await UserPresence.get_or_create(user_id=user.id)
    if presence.status != status:
        presence.status = str(status)
        await presence.save(update_fields=["status"])
        await publish(PresenceChanged(user_id=user.id))
    return presence


def _typing_limiter() -> TokenBucket:
    limiter: TokenBucket | None = current_app.extensions.get("typing_limiter")
    if limiter is None:
        interval: float = current_app.config["TYPING_SIGNAL_SECONDS"]
        limiter = current_app.extensions["typing_limiter"] = TokenBucket(1 / interval, 1)
    return limiter


async def signal_typing(user_id: int, room_id: int) -> bool:
    """Tell the room ``user_id`` is typing; at most one signal per interval (False if dropped)."""
    if _typing_limiter().take((user_id, room_id)):
        return False
    await publish(TypingStarted(room_id=room_id, user_id=user_id))
    return True


async def stop_typing(user_id: int, room_id: int) -> None:
    """The user sent their message or left: clear their indicator at once."""
    await publish(TypingStopped(room_id=room_id, user_id=user_id))
