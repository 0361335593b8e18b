"""Reacting to messages with an emoji."""

from __future__ import annotations

from collections.abc import Callable

import emoji as emoji_data
from quart import current_app
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from chat_app.actions.changes import (
    MessageRejected,
    NotAllowed,
    announce,
    announce_newest,
    changeable,
    record,
    record_many,
    spend_write,
)
from chat_app.db import finish_even_if_cancelled
from chat_app.models import ChangeKind, Reaction, User
from chat_app.models.reactions import EMOJI_MAX_CHARS, distinct_emoji

QUICK_REACTIONS = ("👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "👀")


def clean_emoji(raw: object) -> str:
    """One emoji (a shortcode like ``:tada:`` becomes its emoji), in its fully qualified
    form so that "❤" and "❤️" are one reaction; MessageRejected for anything else."""
    if not isinstance(raw, str) or len(raw) > EMOJI_MAX_CHARS:
        raise MessageRejected("A reaction is one emoji.")
    text = emoji_data.emojize(raw.strip(), language="alias")
    if not emoji_data.is_emoji(text):
        raise MessageRejected("A reaction is one emoji.")
    qualified = emoji_data.emojize(emoji_data.demojize(text))
    return qualified if emoji_data.is_emoji(qualified) else text


async def toggle_reaction(user: User, message_id: object, raw_emoji: object) -> bool:
    """Add ``user``'s reaction with this emoji to the message, or take it back if it is
    there (so the same click twice leaves things as they were); True if it was added.

    A message carries at most REACTIONS_PER_MESSAGE different emoji.
    """
    chosen = clean_emoji(raw_emoji)
    message = await changeable(user, message_id)
    await spend_write(user, message.room_id)
    most: int = current_app.config["REACTIONS_PER_MESSAGE"]
    return await finish_even_if_cancelled(_toggle(user, message.room_id, message.id, chosen, most))


async def _toggle(user: User, room_id: int, message_id: int, chosen: str, most: int) -> bool:
    try:
        async with in_transaction():
            mine = Reaction.filter(message_id=message_id, user_id=user.id, emoji=chosen)
            added = not await mine.delete()
            if added:
                present = await distinct_emoji(message_id)
                if chosen not in present and len(present) >= most:
                    raise NotAllowed(f"A message can have at most {most} different reactions.")
                await Reaction.create(message_id=message_id, user_id=user.id, emoji=chosen)
            change = await record(room_id, message_id, ChangeKind.REACTED)
    except IntegrityError:
        # The message went meanwhile (its foreign key), or the same click raced itself.
        raise MessageRejected("That reaction could not be saved; try again.") from None
    await announce(room_id, change)
    return added


async def take_back_all(
    user_id: int, batch_size: int = 500, progress: Callable[[int], object] | None = None
) -> int:
    """Remove every reaction of ``user_id`` (their account is being deleted), a batch per
    transaction, each message touched with its "reacted" change; how many went."""
    removed = 0
    while True:
        async with in_transaction():
            rows = (
                await Reaction.filter(user_id=user_id)
                .order_by("id")
                .limit(batch_size)
                .values_list("id", "message_id", "message__room_id")
            )
            if not rows:
                return removed
            await Reaction.filter(id__in=[r[0] for r in rows]).delete()
            rooms = await record_many(ChangeKind.REACTED, {(int(r[2]), int(r[1])) for r in rows})
        await announce_newest(rooms)
        removed += len(rows)
        if progress is not None:
            progress(len(rows))
