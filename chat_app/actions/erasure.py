"""Deleting an account ("Delete my account", `delete-user`).

At once: the account can no longer sign in, every session ends and every socket closes. Then,
a batch per transaction, through the change log so every open tab sees it and catch-ups
agree: the person's reactions are taken back ("reacted" changes), and their messages are
removed ("deleted" changes) or kept as by "deleted user" ("edited" changes: replaced in place,
author and all), per CHAT_ACCOUNT_DELETION. Last their memberships, invitations, exports,
push subscriptions and the account itself go. docs/privacy.md tells the whole story.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from quart import current_app
from tortoise.transactions import in_transaction

from chat_app.actions.accounts import (
    AccountError,
    LoginThrottled,
    authenticate,
    end_all_sessions,
)
from chat_app.actions.attachments import discard
from chat_app.actions.changes import announce_newest, record_many
from chat_app.actions.data_exports import discard_exports
from chat_app.actions.edits import delete_messages
from chat_app.actions.reactions import take_back_all
from chat_app.models import ChangeKind, Invitation, Membership, Mention, Message, Reaction, User
from chat_app.models.messages import in_batches
from chat_app.models.rooms import RoomKind
from chat_app.models.users import DELETED_USERNAME, DELETION_PENDING

BATCH_SIZE = 500
MODES = ("remove", "anonymize")

Progress = Callable[[int], object]


class LastAdmin(AccountError):
    """The workspace would be left without an administrator."""


@dataclass(frozen=True, slots=True)
class Erased:
    """What an account's deletion did."""

    mode: str
    messages: int
    reactions: int


def deletion_mode(raw: str | None = None) -> str:
    """``raw`` if given (the CLI's ``--mode``), else CHAT_ACCOUNT_DELETION."""
    mode = raw or str(current_app.config["ACCOUNT_DELETION"])
    if mode not in MODES:
        raise AccountError(f"Account deletion is 'remove' or 'anonymize', not {mode!r}.")
    return mode


async def check_deletable(user: User) -> None:
    """AccountError unless ``user`` may go: never the "deleted user" itself, and never the
    workspace's last active administrator (another must be made first)."""
    if user.is_deleted_placeholder:
        raise AccountError("This account holds deleted people's messages; it stays.")
    if user.is_admin and not (
        await User.filter(is_admin=True, is_active=True).exclude(id=user.id).exists()
    ):
        raise LastAdmin(
            "You are this workspace's only administrator: make someone else an administrator "
            "first (an operator can, with `create-user --admin`), then delete your account."
        )


async def delete_own_account(user: User, password: object, address: str | None) -> None:
    """ "Delete my account" from the settings page: the password again (throttled like a
    login), then ``begin_deletion``; the rest runs in the background (``erase_user``)."""
    if not isinstance(password, str) or not password:
        raise AccountError("Type your password to delete your account.")
    try:
        await authenticate(user.username, password, address)
    except LoginThrottled:
        raise
    except AccountError:
        raise AccountError("That is not your password; nothing was deleted.") from None
    await check_deletable(user)
    await begin_deletion(user)
    current_app.add_background_task(erase_user, user.id)


async def begin_deletion(user: User) -> None:
    """The part that happens at once: no more signing in, every session and socket ended."""
    await User.filter(id=user.id).update(is_active=False, password_hash=DELETION_PENDING)
    user.is_active, user.password_hash = False, DELETION_PENDING
    await end_all_sessions(user)


async def to_erase(user_id: int) -> int:
    """How many rows ``erase_user`` goes through for ``user_id`` (a progress bar's length)."""
    messages = await Message.filter(author_id=user_id).count()
    return messages + await Reaction.filter(user_id=user_id).count()


async def erase_user(
    user_id: int,
    mode: str | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
) -> Erased:
    """Delete account ``user_id`` for good after ``begin_deletion`` (see the module). Safe to
    run again on an account cut off half-way: it carries on."""
    chosen = deletion_mode(mode)
    user = await User.get(id=user_id)
    await discard_exports(user.id)
    reactions = await take_back_all(user.id, batch_size, progress)
    messages = await _messages_gone(user, chosen, batch_size, progress)
    await _leave_rooms(user)
    # Anything posted by a socket that was closing as the deletion began: no member any more,
    # so nothing can follow these.
    messages += await _messages_gone(user, chosen, batch_size, progress)
    await Invitation.filter(created_by_id=user.id, revoked_at__isnull=True).update(
        revoked_at=datetime.now(UTC)
    )
    await User.filter(id=user.id).delete()  # sessions, presence, push subscriptions cascade
    if user.avatar_key:  # its picture now; uploads never sent wait for sweep-uploads
        await discard([user.avatar_key])
    return Erased(chosen, messages, reactions)


async def pending_deletions() -> list[int]:
    """Accounts whose deletion began and did not finish (a server stopped meanwhile)."""
    rows = await User.filter(password_hash=DELETION_PENDING).order_by("id")
    return [user.id for user in rows]


async def deleted_user() -> User:
    """The "deleted user" that anonymized messages belong to (made when first needed)."""
    user, _ = await User.get_or_create(
        username=DELETED_USERNAME, defaults={"password_hash": "!", "is_active": False}
    )
    return user


async def _messages_gone(user: User, mode: str, size: int, progress: Progress | None) -> int:
    ghost = await deleted_user() if mode == "anonymize" else None
    handled = 0
    async for batch in in_batches(author_id=user.id, size=size):
        if ghost is None:
            handled += await delete_messages([m.id for m in batch])
        else:
            handled += await _anonymize(batch, ghost)
        if progress is not None:
            progress(len(batch))
    return handled


async def _anonymize(batch: list[Message], ghost: User) -> int:
    """Give these messages to "deleted user", each with an "edited" change: every tab replaces
    them in place (and the excerpts of replies quoting them)."""
    for message in batch:
        message.author_id = ghost.id
        # Client ids are unique per author: the deleted user's must not meet another's.
        message.client_id = f"deleted-{message.id}"
    async with in_transaction():
        await Message.bulk_update(batch, fields=["author_id", "client_id"])
        await Mention.filter(message_id__in=[m.id for m in batch]).update(author_id=ghost.id)
        rooms = await record_many(ChangeKind.EDITED, [(m.room_id, m.id) for m in batch])
    await announce_newest(rooms)
    return len(batch)


async def _leave_rooms(user: User) -> None:
    """End every membership: a room whose only admin this was gets its longest-standing
    member as admin; a private room left with nobody goes (no one could ever read it); a
    conversation stays for the others, named without this person."""
    memberships = await Membership.filter(user_id=user.id).select_related("room")
    await Membership.filter(user_id=user.id).delete()
    for membership in memberships:
        room = membership.room
        others = Membership.filter(room_id=room.id).order_by("joined_at", "id")
        if not await others.exists():
            if room.kind == RoomKind.PRIVATE:
                await room.delete()
            continue
        if room.is_direct:
            names = await others.values_list("user__username", flat=True)
            room.name = ", ".join(sorted([*map(str, names), DELETED_USERNAME]))[:100]
            await room.save(update_fields=["name"])
        elif membership.role == "admin" and not await others.filter(role="admin").exists():
            heir = await others.first()
            if heir is not None:
                await Membership.filter(id=heir.id).update(role="admin")
