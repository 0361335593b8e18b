"""Notifications: each member's level per room, their browsers' push subscriptions, and who is
pushed a message (``notify_of``, called after the commit that stored it)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from collections.abc import Collection
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec
from quart import current_app
from tortoise.exceptions import IntegrityError

from chat_app.actions.limits import app_limiter
from chat_app.db import database_unavailable
from chat_app.logs import log_event, log_unavailable
from chat_app.models import Membership, Message, PushSubscription, Room, User
from chat_app.models.messages import excerpt
from chat_app.models.notifications import AUTH_MAX, P256DH_MAX, push_targets
from chat_app.models.rooms import NOTIFY_LEVELS
from chat_app.push import GONE, Pusher, endpoint_problem, pusher_of

log = logging.getLogger(__name__)

TEST_PUSHES_PER_SECOND = 0.1  # "send a test": a few in a row, then one per 10 s
TEST_PUSHES_BURST = 3


class NotificationError(ValueError):
    """Nothing changed; ``str()`` says why (422 over HTTP)."""


class TooSoon(NotificationError):
    """Asked again too soon (429 over HTTP)."""


class PushOff(NotificationError):
    """This server has no VAPID keys, so it cannot push (409 over HTTP)."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """What one round of pushes did."""

    sent: int = 0  # accepted by the push service
    removed: int = 0  # subscriptions the push service said are gone (404/410), now deleted
    failed: int = 0  # refused otherwise, or no answer in time (kept: it may work next time)


async def set_level(user: User, room: Room, level: object) -> str:
    """Set how much of ``room`` reaches ``user`` when they are not looking at it."""
    if not isinstance(level, str) or level not in NOTIFY_LEVELS:
        raise NotificationError("Choose everything, mentions or nothing.")
    changed = await Membership.filter(user_id=user.id, room_id=room.id).update(notify=level)
    if not changed:
        raise NotificationError("You are not a member of this room.")
    return level


def _key(raw: object, name: str, limit: int, size: int) -> str:
    """A base64url key of the subscription that decodes to ``size`` bytes, or an error."""
    if not isinstance(raw, str) or not raw or len(raw) > limit or not raw.isascii():
        raise NotificationError(f"The subscription's {name} key is missing or malformed.")
    try:
        decoded = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (binascii.Error, ValueError):
        raise NotificationError(f"The subscription's {name} key is not base64url.") from None
    if len(decoded) != size:
        raise NotificationError(f"The subscription's {name} key has the wrong length.")
    if name == "p256dh":
        try:
            ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), decoded)
        except ValueError:
            raise NotificationError("The subscription's p256dh key is not a P-256 key.") from None
    return raw.rstrip("=")


def parse_subscription(raw: object, allow_http: bool = False) -> tuple[str, str, str]:
    """(endpoint, p256dh, auth) from a browser's ``PushSubscription.toJSON()``, checked."""
    if not isinstance(raw, dict):
        raise NotificationError("Send the subscription as a JSON object.")
    endpoint, keys = raw.get("endpoint"), raw.get("keys")
    problem = endpoint_problem(endpoint, allow_http)
    if problem is not None:
        raise NotificationError(problem)
    assert isinstance(endpoint, str)
    if not isinstance(keys, dict):
        raise NotificationError("The subscription has no keys.")
    p256dh = _key(keys.get("p256dh"), "p256dh", P256DH_MAX, 65)
    auth = _key(keys.get("auth"), "auth", AUTH_MAX, 16)
    return endpoint, p256dh, auth


async def subscribe(user: User, raw: object) -> PushSubscription:
    """Keep this browser's push subscription for ``user``. An endpoint stored already (the
    browser subscribed before, perhaps for someone else who used it) becomes theirs."""
    if pusher_of(current_app) is None:
        raise PushOff("Push notifications are not set up on this server.")
    endpoint, p256dh, auth = parse_subscription(raw, current_app.config["PUSH_ALLOW_HTTP"])
    limit: int = current_app.config["PUSH_SUBSCRIPTIONS_PER_USER"]
    others = await PushSubscription.filter(user_id=user.id).exclude(endpoint=endpoint).count()
    if others >= limit:
        raise NotificationError(
            f"At most {limit} browsers can get push notifications; turn one off first."
        )
    for _ in range(2):  # a concurrent insert of the same endpoint: update it the second time
        stored = PushSubscription.filter(endpoint=endpoint)
        if await stored.update(user_id=user.id, p256dh=p256dh, auth=auth):
            return await PushSubscription.get(endpoint=endpoint)
        try:
            return await PushSubscription.create(
                endpoint=endpoint, user_id=user.id, p256dh=p256dh, auth=auth
            )
        except IntegrityError:
            continue
    raise NotificationError("This subscription changed meanwhile; try again.")


async def unsubscribe(user: User, endpoint: object) -> bool:
    """Forget ``user``'s subscription at ``endpoint``; False if they had none there."""
    if not isinstance(endpoint, str) or endpoint_problem(endpoint, allow_http=True):
        raise NotificationError("Say which subscription to remove (its endpoint).")
    return bool(await PushSubscription.filter(user_id=user.id, endpoint=endpoint).delete())


async def push_to(
    pusher: Pusher, subscriptions: Collection[PushSubscription], payload: dict[str, str]
) -> Delivery:
    """Push ``payload`` to each subscription (at most PUSH_CONCURRENCY at once); delete those
    whose push service says they are gone."""
    statuses = await asyncio.gather(*(pusher.send(s.info(), payload) for s in subscriptions))
    gone = [s.id for s, status in zip(subscriptions, statuses, strict=True) if status in GONE]
    if gone:
        await PushSubscription.filter(id__in=gone).delete()
    sent = sum(1 for status in statuses if 200 <= status < 300)
    return Delivery(sent=sent, removed=len(gone), failed=len(statuses) - sent - len(gone))


def message_payload(message: Message) -> dict[str, str]:
    """What a push about ``message`` (room and author loaded) says: plain text, and its
    permalink to open. The service worker shows it; nothing in it is HTML."""
    return {
        "title": f"{message.author.username} in #{message.room.name}",
        "body": excerpt(message.plain_text()),
        "url": f"/messages/{message.id}",
        "tag": f"room-{message.room_id}",
    }


async def deliver(
    pusher: Pusher, message_id: int, mentioned_user_ids: Collection[int], everyone: bool
) -> Delivery:
    """Push message ``message_id`` to whoever should hear of it (``push_targets``). A message
    deleted meanwhile is pushed to no one."""
    message = await Message.get_or_none(id=message_id).select_related("room", "author")
    if message is None:
        return Delivery()
    targets = await push_targets(message.room_id, message.author_id, mentioned_user_ids, everyone)
    if not targets:
        return Delivery()
    delivery = await push_to(pusher, targets, message_payload(message))
    log_event(
        log,
        "push.delivered",
        message=message_id,
        sent=delivery.sent,
        removed=delivery.removed,
        failed=delivery.failed,
    )
    return delivery


async def _deliver_in_background(
    pusher: Pusher, message_id: int, mentioned_user_ids: frozenset[int], everyone: bool
) -> None:
    try:
        await deliver(pusher, message_id, mentioned_user_ids, everyone)
    except Exception as error:  # a background task has no caller to tell
        if database_unavailable(error):
            log_unavailable(log, "push", error)
        else:
            log_event(log, "push.failed", logging.ERROR, error=error, message=message_id)


def notify_of(
    message: Message, mentioned_user_ids: Collection[int], everyone: bool
) -> asyncio.Task[None] | None:
    """Push ``message`` (stored and committed) to the members it should reach who have no
    tab open: in the background, so posting never waits for a push service. Returns the task
    (tests await it), or None when push is off or too much is waiting already.

    ``mentioned_user_ids``: whom the message mentions; ``everyone``: it mentions the room.
    """
    pusher = pusher_of(current_app)
    if pusher is None:
        return None
    return pusher.spawn(
        _deliver_in_background(pusher, message.id, frozenset(mentioned_user_ids), everyone)
    )


TEST_PAYLOAD = {
    "title": "Parley",
    "body": "Push notifications work in this browser.",
    "url": "/settings/notifications",
    "tag": "test",
}


async def send_test(user: User) -> Delivery:
    """Push a test notification to each of ``user``'s browsers now (a few per minute)."""
    pusher = pusher_of(current_app)
    if pusher is None:
        raise PushOff("Push notifications are not set up on this server.")
    limiter = app_limiter("push_test", TEST_PUSHES_PER_SECOND, TEST_PUSHES_BURST)
    if limiter.take(user.id):
        raise TooSoon("A test was sent a moment ago; wait a few seconds.")
    subscriptions = await PushSubscription.filter(user_id=user.id).order_by("id")
    if not subscriptions:
        raise NotificationError("No browser of yours has push notifications turned on.")
    return await push_to(pusher, subscriptions, TEST_PAYLOAD)
