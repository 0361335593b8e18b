"""Web Push subscriptions: where a browser with no open tab can be reached."""

from __future__ import annotations

import itertools
from collections.abc import Collection

from tortoise import fields
from tortoise.expressions import Q
from tortoise.models import Model

from chat_app.models.messages import Message, excerpt
from chat_app.models.presence import LiveSocket
from chat_app.models.rooms import NOTIFY_ALL, NOTIFY_MENTIONS, Membership
from chat_app.models.users import IN_LIST_BATCH, User

# Push services hand out endpoints of 100 to 300 characters; anything much longer is not one.
ENDPOINT_MAX = 1024
# Base64url of a P-256 public point (65 bytes: 87 characters) and of a 16-byte secret (22).
P256DH_MAX = 128
AUTH_MAX = 64


class PushSubscription(Model):
    """One browser's push subscription (RFC 8030), made for one user with our VAPID key.

    The endpoint is unique: a browser has one per application server key, and when someone
    else signs in on it and subscribes, it becomes theirs.
    """

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "chat.User", related_name="push_subscriptions", on_delete=fields.CASCADE
    )
    endpoint = fields.CharField(max_length=ENDPOINT_MAX, unique=True)
    p256dh = fields.CharField(max_length=P256DH_MAX)
    auth = fields.CharField(max_length=AUTH_MAX)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "push_subscriptions"
        indexes = (("user_id",),)  # a user's browsers, for each push

    user_id: int

    def info(self) -> dict[str, object]:
        """The subscription as the browser's PushSubscription.toJSON() gives it."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


async def levels_of(user_id: int) -> list[Membership]:
    """``user_id``'s memberships with their rooms, by room name (the settings page)."""
    return await Membership.filter(user_id=user_id).select_related("room").order_by("room__name")


def level_allows(level: str, mentioned: bool, everyone: bool) -> bool:
    """Whether a member at ``level`` hears of a message (``mentioned``: it names them;
    ``everyone``: it names the whole room). static/js/notify.js applies the same rule."""
    if level == NOTIFY_ALL:
        return True
    return level == NOTIFY_MENTIONS and (mentioned or everyone)


def notice_of(message: Message) -> dict[str, str]:
    """What a notification about ``message`` (room and author loaded) says, pushed or shown
    by an open tab: plain text, and its permalink to open. Nothing in it is HTML."""
    author, room = message.author.username, message.room
    return {
        "title": author if room.is_direct else f"{author} in #{room.name}",
        "body": excerpt(message.plain_text()),
        "url": f"/messages/{message.id}",
        "tag": f"room-{message.room_id}",
    }


async def push_targets(
    room_id: int, author_id: int, mentioned: Collection[int], everyone: bool
) -> list[PushSubscription]:
    """The subscriptions a message of ``author_id`` in ``room_id`` is pushed to: of the room's
    active members (never anyone else: the membership is the authorization) other than the
    author, whose level lets it through, and who have no live socket anywhere (an open tab
    hears of it itself)."""
    heard = Q(notify=NOTIFY_ALL)
    if everyone:
        heard |= Q(notify=NOTIFY_MENTIONS)
    elif mentioned:
        heard |= Q(notify=NOTIFY_MENTIONS, user_id__in=sorted(mentioned))
    members = await (
        Membership.filter(heard, room_id=room_id, user__is_active=True)
        .exclude(user_id=author_id)
        .values_list("user_id", flat=True)
    )
    targets: list[PushSubscription] = []
    for batch in itertools.batched(sorted(set(members)), IN_LIST_BATCH, strict=False):
        live = set(
            await LiveSocket.filter(user_id__in=batch).distinct().values_list("user_id", flat=True)
        )
        away = [user_id for user_id in batch if user_id not in live]
        if away:
            targets += await PushSubscription.filter(user_id__in=away).order_by("id")
    return targets
