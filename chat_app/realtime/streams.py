"""Turning events into htmx envelopes: server-rendered fragments swapped out-of-band by id.

Only this module and ``templates/streams/`` know htmx's wire format.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from quart import current_app, render_template

from chat_app.models import Membership, Message
from chat_app.models.messages import CLIENT_ID_RE, new_client_id, with_authors
from chat_app.models.presence import MemberPresence, room_presence


def dom_id(kind: str, record_id: int | str) -> str:
    """The one way DOM ids are made, e.g. ``message-42``."""
    return f"{kind}-{record_id}"


@dataclass(frozen=True, slots=True)
class Fanout:
    """What one new message puts on the wire: one text for its author, one for everyone else."""

    room_id: int
    author_id: int
    message_id: int
    created_at: datetime  # with the id, tells this message from another that reused its id
    for_author: str
    for_others: str

    def fragment_for(self, viewer_id: int | None) -> tuple[int, str]:
        """(message id, HTML) as ``viewer_id`` sees it (None: anyone but the author)."""
        return self.message_id, self.for_author if viewer_id == self.author_id else self.for_others


async def render_messages(messages: Sequence[Message], viewer_id: int | None) -> str:
    """Messages appended to ``#messages``; ``viewer_id``'s own ones on the right."""
    return await render_template(
        "streams/messages_appended.html", messages=messages, viewer_id=viewer_id
    )


async def render_posted(message_ids: list[int]) -> list[Fanout]:
    """Render each message once per audience, oldest first; deleted ones are left out."""
    return [
        Fanout(
            room_id=message.room_id,
            author_id=message.author_id,
            message_id=message.id,
            created_at=message.created_at,
            for_author=await render_messages([message], message.author_id),
            for_others=await render_messages([message], None),
        )
        for message in await with_authors(message_ids)
    ]


async def render_people(people: Sequence[MemberPresence]) -> str:
    """A room's people list with who is online (replaced by its id)."""
    return await render_template("streams/people.html", people=people)


async def render_members(people: Sequence[MemberPresence]) -> str:
    """Only these people's entries of the list, each swapped by its id."""
    return await render_template("streams/members.html", people=people)


async def render_presence_update(
    room_id: int, *, users: Collection[int] | None = None, since: datetime | None = None
) -> str:
    """The people list of ``room_id`` after ``users`` changed, or for a tab that saw it last
    ``since``: the whole list in a small room. In one of more than PRESENCE_FULL_LIST_MAX
    members, only the entries of ``users``, or the latest PRESENCE_CATCH_UP_MAX of those
    changed ``since``, each swapped by its id: at ~800 bytes an entry, a whole list of
    thousands to every socket would cost more than the messages. So in such a room, a tab
    shows someone who joined after it loaded, or more changes than that while it was away
    (everyone back after a restart), on its next load.
    """
    most: int = current_app.config["PRESENCE_FULL_LIST_MAX"]
    whole = users is None and since is None
    if whole or await Membership.filter(room_id=room_id).count() <= most:
        return await render_people(await room_presence(room_id))
    if users is not None:
        return await render_members(await room_presence(room_id, only=users))
    latest: int = current_app.config["PRESENCE_CATCH_UP_MAX"]
    return await render_members(await room_presence(room_id, changed_since=since, latest=latest))


def typing_text(names: Sequence[str]) -> str:
    """ "alice is typing…", "alice and bob are typing…", "Several people are typing…"."""
    if not names:
        return ""
    if len(names) == 1:
        return f"{names[0]} is typing…"
    if len(names) == 2:
        return f"{names[0]} and {names[1]} are typing…"
    return "Several people are typing…"


async def render_typing(names: Sequence[str]) -> str:
    """The typing line for a viewer who sees ``names`` typing."""
    return await render_template("streams/typing.html", text=typing_text(names))


async def render_rejected(
    csrf: str, content: str, error: str, client_id: object, *, slug: str
) -> str:
    """The composer with the rejected text and the reason; the pending copy is removed."""
    return await render_template(
        "streams/rejected.html",
        pending_id=client_id
        if isinstance(client_id, str) and CLIENT_ID_RE.fullmatch(client_id)
        else None,
        room_slug=slug,
        csrf=csrf,
        client_id=new_client_id(),
        max_chars=current_app.config["MESSAGE_MAX_CHARS"],
        content=content,
        error=error,
    )


async def render_unsaved(client_id: object) -> str:
    """The sender's pending copy ``client_id`` is not stored yet (the database is away): it
    stays, says so, and chat.js resends it with the same id until its own copy arrives."""
    if isinstance(client_id, str) and CLIENT_ID_RE.fullmatch(client_id):
        return await render_template("streams/unsaved.html", client_id=client_id)
    return await render_notice("Your message is not saved yet: send it again in a moment.")


async def render_notice(text: str) -> str:
    """A short notice shown above the composer (bad frames and the like)."""
    return await render_template("streams/notice.html", text=text)
