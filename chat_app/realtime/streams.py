"""Turning events into htmx envelopes: server-rendered fragments swapped out-of-band by id.

Only this module and ``templates/streams/`` know htmx's wire format.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from quart import current_app, render_template

from chat_app.actions.messages import CLIENT_ID_RE, new_client_id
from chat_app.models import Message
from chat_app.models.messages import with_author
from chat_app.models.presence import MemberPresence
from chat_app.realtime.events import Event, MessagePosted


def dom_id(kind: str, record_id: int | str) -> str:
    """The one way DOM ids are made, e.g. ``message-42``."""
    return f"{kind}-{record_id}"


@dataclass(frozen=True, slots=True)
class Fanout:
    """What one event puts on the wire: one text for the author, one for everyone else."""

    room_id: int
    author_id: int | None
    message_id: int | None
    for_author: str
    for_others: str


async def render_messages(messages: Sequence[Message], viewer_id: int | None) -> str:
    """Messages appended to ``#messages``; ``viewer_id``'s own ones on the right."""
    return await render_template(
        "streams/messages_appended.html", messages=messages, viewer_id=viewer_id
    )


async def render_event(event: Event) -> Fanout | None:
    """Render ``event`` once (plus the author's variant); None when there is nothing to show."""
    match event:
        case MessagePosted(room_id=room_id, message_id=message_id):
            message = await with_author(message_id)
            if message is None:
                return None
            return Fanout(
                room_id=room_id,
                author_id=message.author_id,
                message_id=message.id,
                for_author=await render_messages([message], message.author_id),
                for_others=await render_messages([message], None),
            )
        case _:
            return None


async def render_people(people: Sequence[MemberPresence]) -> str:
    """A room's people list with who is online (replaced by its id)."""
    return await render_template("streams/people.html", people=people)


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


async def render_notice(text: str) -> str:
    """A short notice shown above the composer (bad frames and the like)."""
    return await render_template("streams/notice.html", text=text)
