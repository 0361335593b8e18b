"""Reactions: a user's emoji on a message, at most one of each per user and message."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from chat_app.models.users import User

if TYPE_CHECKING:
    from chat_app.models.messages import Message

# A single emoji: the longest are ZWJ sequences of up to ~10 code points (families, flags of
# subdivisions): 32 is room for any, and far below what would be abuse.
EMOJI_MAX_CHARS = 32


class Reaction(Model):
    """``user`` reacted to ``message`` with ``emoji``."""

    id = fields.BigIntField(primary_key=True)
    message: fields.ForeignKeyRelation[Message] = fields.ForeignKeyField(
        "chat.Message", related_name="reactions", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "chat.User", related_name="reactions", on_delete=fields.CASCADE
    )
    emoji = fields.CharField(max_length=EMOJI_MAX_CHARS)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "reactions"
        unique_together = (("message", "user", "emoji"),)
        indexes = (("user_id", "id"),)  # one person's reactions (their export, their deletion)

    message_id: int
    user_id: int


@dataclass(frozen=True, slots=True)
class ReactionGroup:
    """One emoji on one message: who reacted with it, in the order they did."""

    emoji: str
    user_ids: tuple[int, ...]
    names: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.user_ids)

    def by(self, user_id: int | None) -> bool:
        """Whether ``user_id`` is among those who reacted with it."""
        return user_id in self.user_ids


async def reaction_groups(message_ids: list[int]) -> dict[int, list[ReactionGroup]]:
    """Each message's reactions, grouped by emoji in the order each emoji first came: one
    query for any number of messages."""
    if not message_ids:
        return {}
    rows = (
        await Reaction.filter(message_id__in=message_ids)
        .order_by("id")
        .values_list("message_id", "emoji", "user_id", "user__username")
    )
    grouped: defaultdict[int, dict[str, list[tuple[int, str]]]] = defaultdict(dict)
    for message_id, emoji, user_id, username in rows:
        grouped[int(message_id)].setdefault(str(emoji), []).append((int(user_id), str(username)))
    return {
        message_id: [
            ReactionGroup(emoji, tuple(u for u, _ in who), tuple(n for _, n in who))
            for emoji, who in by_emoji.items()
        ]
        for message_id, by_emoji in grouped.items()
    }


async def distinct_emoji(message_id: int) -> set[str]:
    """The emoji already on a message (a message has a bounded number of them)."""
    rows = await Reaction.filter(message_id=message_id).distinct().values_list("emoji", flat=True)
    return {str(e) for e in rows}
