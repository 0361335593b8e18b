"""Editing and deleting messages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from chat_app.actions.changes import (
    MessageNotFound,
    NotAllowed,
    announce,
    announce_newest,
    changeable,
    is_moderator,
    record,
    record_many,
    spend_write,
)
from chat_app.actions.mentions import Mentions, mentions_in, rewrite_mentions
from chat_app.actions.messages import clean_content
from chat_app.actions.previews import preview_later
from chat_app.db import finish_even_if_cancelled
from chat_app.message_files import discard, files_of
from chat_app.models import ChangeKind, Message, User
from chat_app.richtext import render


async def edit_message(editor: User, message_id: object, content: object) -> Message:
    """Replace the text of ``editor``'s own message; everyone sees it with "(edited)".

    The same checks as posting apply to the text; an unchanged text changes nothing. Its
    mentions are read again: a name added mentions that member from this edit on; its HTML is
    rendered again, and its link preview follows its (new) first link.
    """
    message = await changeable(editor, message_id)
    if message.author_id != editor.id:
        raise NotAllowed("You can only edit your own messages.")
    text = clean_content(content)
    if text == message.content:
        return message
    mentions = await mentions_in(editor, message.room, text)
    await spend_write(editor, message.room_id)
    message.content, message.edited_at = text, datetime.now(UTC)
    message.content_html = render(text)
    await finish_even_if_cancelled(_save(message, mentions))
    preview_later(message, edited=True)
    return message


async def _save(message: Message, mentions: Mentions) -> None:
    async with in_transaction():
        updated = await Message.filter(id=message.id).update(
            content=message.content,
            content_html=message.content_html,
            edited_at=message.edited_at,
        )
        if not updated:  # deleted since it was loaded
            raise MessageNotFound("This message was deleted meanwhile.")
        change = await record(message.room_id, message.id, ChangeKind.EDITED)
        await rewrite_mentions(message.id, message.room_id, message.author_id, change, mentions)
    await announce(message.room_id, change)
    # PUSH: the mentions this edit added are what rewrite_mentions returns (no call yet).


async def delete_message(user: User, message_id: object) -> Message:
    """Delete a message: its author may, and so may the room's and the workspace's admins.

    It is removed for everyone (replies then say their original was deleted); its reactions
    and its files go with it. Deleting a message already gone says so and changes nothing.
    """
    message = await changeable(user, message_id)
    if message.author_id != user.id and not await is_moderator(user, message.room):
        raise NotAllowed("You can only delete your own messages.")
    await spend_write(user, message.room_id)
    await finish_even_if_cancelled(_remove(message))
    return message


async def _remove(message: Message) -> None:
    async with in_transaction():
        files = await files_of([message.id])  # their rows go with the message (cascade)
        if not await Message.filter(id=message.id).delete():
            raise MessageNotFound("This message was deleted already.")
        change = await record(message.room_id, message.id, ChangeKind.DELETED)
    await announce(message.room_id, change)
    await discard(files)


async def delete_messages(message_ids: Sequence[int]) -> int:
    """Delete these messages at once, as ``delete_message`` does one (account deletion,
    retention): in one transaction, each with its "deleted" change, announced after the
    commit; then their files. Those gone already are skipped. How many were deleted."""
    files = await files_of(message_ids)
    async with in_transaction():
        present = await Message.filter(id__in=list(message_ids)).values_list("room_id", "id")
        gone = [(int(room_id), int(message_id)) for room_id, message_id in present]
        if gone:
            await Message.filter(id__in=[m for _, m in gone]).delete()
        rooms = await record_many(ChangeKind.DELETED, gone)
    await announce_newest(rooms)
    await discard(files)
    return len(gone)
