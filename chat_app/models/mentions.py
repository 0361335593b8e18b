"""Who a message mentions: ``@username`` of a room member, or ``@everyone`` (no user).

Rows are written in the message's transaction (actions/mentions.py) and carry the change that
brought them in (the post, or the edit that added the name), so "mentions since I last read"
is a range on the room's change numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from chat_app.models.rooms import Room
from chat_app.models.users import User

if TYPE_CHECKING:  # models/messages.py loads mentions for its partial
    from chat_app.models.messages import Message

EVERYONE = "everyone"
# Usernames are [a-z0-9_][a-z0-9_.-]{1,31} (actions/accounts.py), compared lower-cased. Not
# after a word character or another "@", so an e-mail address mentions nobody.
MENTION_RE = re.compile(r"(?<![\w@])@([A-Za-z0-9_][A-Za-z0-9_.-]{1,31})")


class Mention(Model):
    """Message ``message`` mentions ``user`` (NULL: everyone in the room)."""

    id = fields.BigIntField(primary_key=True)
    message: fields.ForeignKeyRelation[Message] = fields.ForeignKeyField(
        "chat.Message", related_name="mentions", on_delete=fields.CASCADE
    )
    room: fields.ForeignKeyRelation[Room] = fields.ForeignKeyField(
        "chat.Room", related_name="mentions", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "chat.User", related_name="mentions", null=True, on_delete=fields.CASCADE
    )
    # The message's author: one's own @everyone is no mention of oneself.
    author: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "chat.User", related_name="mentions_made", on_delete=fields.CASCADE
    )
    change = fields.BigIntField()  # the change that brought this mention in

    class Meta:
        table = "mentions"
        indexes = (("room_id", "change"), ("message_id",))

    message_id: int
    room_id: int
    user_id: int | None
    author_id: int


def mentioned_names(text: str) -> set[str]:
    """Every name ``@``-mentioned in ``text``, lower-cased, and each without trailing dots or
    dashes (``@alice.`` ends a sentence): the caller keeps those that are members."""
    names: set[str] = set()
    for match in MENTION_RE.finditer(text):
        name = match.group(1).lower()
        names.add(name)
        names.add(name.rstrip(".-"))
    names.discard("")
    return names


@dataclass(slots=True)
class Mentioned:
    """What a message's partial needs to highlight its mentions: names to user ids, and
    whether it mentions everyone."""

    users: dict[str, int] = field(default_factory=dict)
    everyone: bool = False


NOBODY = Mentioned()


async def mentioned_in(message_ids: Iterable[int]) -> dict[int, Mentioned]:
    """The mentions of these messages, by message id (one query)."""
    ids = list(message_ids)
    if not ids:
        return {}
    rows = await Mention.filter(message_id__in=ids).values_list(
        "message_id", "user_id", "user__username"
    )
    found: dict[int, Mentioned] = {}
    for message_id, user_id, username in rows:
        entry = found.setdefault(int(message_id), Mentioned())
        if user_id is None:
            entry.everyone = True
        else:
            entry.users[str(username)] = int(user_id)
    return found
