"""Writing message history as JSON Lines or CSV, batch by batch, to any text stream; and one
person's data as a ZIP (profile, messages, reactions, files)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from quart import current_app

from chat_app.actions.maintenance import Archive
from chat_app.message_files import StoredFile, files_of
from chat_app.models import (
    AuthSession,
    Invitation,
    Membership,
    Message,
    PushSubscription,
    Reaction,
    User,
    UserPresence,
)
from chat_app.models.messages import in_batches

FORMATS = ("jsonl", "csv")
FIELDS = ("id", "room", "author", "created_at", "content")


def message_record(message: Message) -> dict[str, object]:
    """A message as exports show it (room and author loaded)."""
    return {
        "id": message.id,
        "room": message.room.slug,
        "author": message.author.username,
        "created_at": message.created_at.isoformat(),
        "content": message.content,
    }


def batch_writer(out: TextIO, fmt: str) -> Archive:
    """A function that appends a batch to ``out`` in ``fmt`` and flushes it (CSV: header now)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (choose from {', '.join(FORMATS)})")
    if fmt == "csv":
        table = csv.DictWriter(out, fieldnames=FIELDS)
        table.writeheader()

    async def write(batch: list[Message]) -> None:
        records = [message_record(m) for m in batch]
        if fmt == "csv":
            table.writerows(records)
        else:
            out.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        out.flush()  # on disk before an archive run deletes these rows

    return write


async def export_messages(
    out: TextIO,
    fmt: str,
    room_id: int | None = None,
    older_than: datetime | None = None,
    batch_size: int = 1000,
) -> int:
    """Write every matching message, oldest first, holding one batch at a time; the count."""
    write = batch_writer(out, fmt)
    written = 0
    async for batch in in_batches(room_id, older_than, batch_size):
        await write(batch)
        written += len(batch)
    return written


# --- one person's data ("Export my data", `export-user`) ---

ARCHIVE_README = """\
Your data from {workspace}, exported {exported_at} (UTC).

profile.json     your account: name, when it was made, your rooms and roles, notification
                 levels, signed-in sessions (times only), push subscriptions, invitations
                 you made
messages.jsonl   every message you wrote, oldest first, one JSON object a line: id, room
                 (its address), room_name, room_kind, created_at, edited_at, content, and
                 reply_to: the id of the message it answers (only the id: what someone else
                 wrote is theirs, not part of your data)
reactions.jsonl  every reaction you made: the message's id and room, the emoji, when
files/           the files you uploaded, by message id
"""


def own_message_record(message: Message) -> dict[str, object]:
    """One of the user's own messages as their export shows it (room and author loaded)."""
    return message_record(message) | {
        "room_name": message.room.name,
        "room_kind": str(message.room.kind),
        "edited_at": message.edited_at.isoformat() if message.edited_at else None,
        "reply_to": message.reply_to_id,
    }


async def archive_rows(user_id: int) -> int:
    """How many rows a user's export writes (messages and reactions): its progress's total."""
    messages, reactions = await asyncio.gather(
        Message.filter(author_id=user_id).count(), Reaction.filter(user_id=user_id).count()
    )
    return messages + reactions


async def profile_of(user: User) -> dict[str, object]:
    """What the workspace keeps about ``user`` besides their messages and reactions."""
    memberships = await Membership.filter(user_id=user.id).select_related("room").order_by("id")
    sessions = await AuthSession.filter(user_id=user.id).order_by("id")
    pushes = await PushSubscription.filter(user_id=user.id).order_by("id")
    invitations = await Invitation.filter(created_by_id=user.id).order_by("id")
    presence = await UserPresence.get_or_none(user_id=user.id)
    return {
        "id": user.id,
        "username": user.username,
        "created_at": user.created_at.isoformat(),
        "is_admin": user.is_admin,
        "status": presence.status if presence else None,
        "last_seen": presence.last_seen.isoformat() if presence else None,
        "rooms": [
            {
                "room": m.room.slug,
                "name": m.room.name,
                "kind": str(m.room.kind),
                "role": m.role,
                "joined_at": m.joined_at.isoformat(),
                "notifications": m.notify,
            }
            for m in memberships
        ],
        "sessions": [
            {"created_at": s.created_at.isoformat(), "expires_at": s.expires_at.isoformat()}
            for s in sessions
        ],
        "push_subscriptions": [
            {"endpoint": p.endpoint, "created_at": p.created_at.isoformat()} for p in pushes
        ],
        "invitations_created": [
            {
                "id": i.id,
                "created_at": i.created_at.isoformat(),
                "expires_at": i.expires_at.isoformat(),
                "uses": i.uses,
                "max_uses": i.max_uses,
                "revoked": i.revoked_at is not None,
            }
            for i in invitations
        ],
    }


async def _reaction_batches(user_id: int, size: int) -> AsyncIterator[list[dict[str, object]]]:
    last_id = 0
    while True:
        rows = (
            await Reaction.filter(user_id=user_id, id__gt=last_id)
            .order_by("id")
            .limit(size)
            .values("id", "message_id", "message__room__slug", "emoji", "created_at")
        )
        if rows:
            yield [
                {
                    "message_id": r["message_id"],
                    "room": r["message__room__slug"],
                    "emoji": r["emoji"],
                    "created_at": r["created_at"].isoformat(),
                }
                for r in rows
            ]
        if len(rows) < size:
            return
        last_id = rows[-1]["id"]


async def _write_lines(out: io.TextIOWrapper, records: list[dict[str, object]]) -> None:
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    # Compressing happens in the write: off the event loop, so sockets keep flowing meanwhile.
    await asyncio.to_thread(out.write, text)


async def user_archive(user: User, path: Path, batch_size: int = 1000) -> AsyncIterator[int]:
    """Write ``user``'s data as a ZIP at ``path``, yielding how many rows each batch wrote.

    Only their own data: their messages (a reply names the id of the message it answers, not
    its text or author), their reactions, their profile, and their files. One batch is in
    memory at a time (and a handle per file); each file is copied chunk by chunk.
    """
    readme = ARCHIVE_README.format(
        workspace=current_app.config["WORKSPACE_NAME"],
        exported_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
    )
    profile = json.dumps(await profile_of(user), ensure_ascii=False, indent=2)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", readme)
        archive.writestr("profile.json", profile + "\n")
        # A ZIP takes one entry at a time: the files (their handles, not their bytes) are
        # listed with the messages and copied after them.
        files: list[StoredFile] = []
        with archive.open("messages.jsonl", "w") as raw, io.TextIOWrapper(raw, "utf-8") as out:
            async for batch in in_batches(author_id=user.id, size=batch_size):
                await _write_lines(out, [own_message_record(m) for m in batch])
                files += await files_of([m.id for m in batch])
                yield len(batch)
        with archive.open("reactions.jsonl", "w") as raw, io.TextIOWrapper(raw, "utf-8") as out:
            async for records in _reaction_batches(user.id, batch_size):
                await _write_lines(out, records)
                yield len(records)
        for stored in files:
            name = f"files/{stored.message_id}/{stored.name}"
            with archive.open(name, "w", force_zip64=True) as entry:
                async for chunk in stored.chunks():
                    await asyncio.to_thread(entry.write, chunk)
