"""Turning events into htmx envelopes: server-rendered fragments swapped out-of-band by id.

Only this module and ``templates/streams/`` know htmx's wire format.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter

from quart import current_app

from chat_app.models import ChangeKind, Message
from chat_app.models.changes import Logged
from chat_app.models.messages import CLIENT_ID_RE, Quote, excerpt, new_client_id
from chat_app.models.presence import MemberPresence, RoomPeople, room_people
from chat_app.models.rooms import Room
from chat_app.models.unread import Mark
from chat_app.templating import render_template


def dom_id(kind: str, record_id: int | str) -> str:
    """The one way DOM ids are made, e.g. ``message-42``."""
    return f"{kind}-{record_id}"


@dataclass(frozen=True, slots=True)
class Rendered:
    """What one change puts on the wire: one text for its message's author, one for everyone
    else (the same text for a deletion). Its top-level element carries ``data-change``, and
    it ends with the tab's new resume cursor."""

    room_id: int
    change: int
    message_id: int
    author_id: int | None
    for_author: str
    for_others: str

    def fragment_for(self, viewer_id: int | None) -> tuple[int, str]:
        """(change number, HTML) as ``viewer_id`` sees it (None: anyone but the author)."""
        return self.change, self.for_author if viewer_id == self.author_id else self.for_others


async def render_messages(messages: Sequence[Message], viewer_id: int | None) -> str:
    """Messages appended to ``#messages``; ``viewer_id``'s own ones on the right."""
    return await render_template(
        "streams/messages_appended.html", messages=messages, viewer_id=viewer_id
    )


def _quote_of(message: Message) -> Quote:
    return Quote(message.id, message.author.username, excerpt(message.plain_text()))


async def render_cursor(change: int) -> str:
    """The element that records ``change`` as the newest one the tab has applied."""
    return await render_template("streams/change_cursor.html", change=change)


async def render_change(
    room_id: int, logged: Logged, message: Message | None, quoted: bool
) -> Rendered:
    """The envelope of one change: a message posted is appended, one edited or reacted to
    replaces itself, one gone (``message`` None) is removed; ``quoted``: replies quote it and
    their excerpts follow. ``message`` is the current state, ready for its partial."""
    cursor = await render_cursor(logged.change)
    if message is None and logged.kind is ChangeKind.POSTED:  # posted, and gone already
        return Rendered(room_id, logged.change, logged.message_id, None, cursor, cursor)
    if message is None:
        text = await render_template(
            "streams/message_deleted.html",
            message_id=logged.message_id,
            change=logged.change,
            quoted=quoted,
            deleted_quote=Quote(logged.message_id, None, None),
        )
        return Rendered(
            room_id, logged.change, logged.message_id, None, text + cursor, text + cursor
        )
    template = (
        "streams/messages_appended.html"
        if logged.kind is ChangeKind.POSTED
        else "streams/message_changed.html"
    )

    async def as_seen_by(viewer_id: int | None) -> str:
        html = await render_template(
            template,
            messages=[message],
            viewer_id=viewer_id,
            change=logged.change,
            quoted=quoted,
            quote_of=_quote_of,
        )
        return html + cursor

    return Rendered(
        room_id,
        logged.change,
        message.id,
        message.author_id,
        await as_seen_by(message.author_id),
        await as_seen_by(None),
    )


def net_effect(logged: Sequence[Logged]) -> list[Logged]:
    """One change per message for a tab that missed all of ``logged``: the message's last
    one, as "posted" if it was posted meanwhile (the tab lacks it); in message order, so
    appended messages stand in order."""
    last: dict[int, Logged] = {}
    posted: set[int] = set()
    for change in logged:
        last[change.message_id] = change
        if change.kind is ChangeKind.POSTED:
            posted.add(change.message_id)
    return [
        Logged(change.change, message_id, ChangeKind.POSTED) if message_id in posted else change
        for message_id, change in sorted(last.items())
    ]


async def render_room_link(
    room: Room, mark: Mark, partners: Sequence[MemberPresence] = (), *, added: bool = False
) -> str:
    """A room's sidebar entry as a tab that does not show it sees it: replaced by its id, or
    (``added``) put at the end of its list. ``partners``: a conversation's other people."""
    return await render_template(
        "streams/room_link.html",
        r=room,
        here=False,
        mark=mark,
        partners=list(partners),
        added=added,
        list_id="direct-list" if room.is_direct else "room-list",
    )


async def render_room_unlisted(room_id: int) -> str:
    """Removes a room's sidebar entry (left, removed, archived)."""
    return await render_template("streams/room_unlisted.html", room_id=room_id)


async def render_desktop_notice(notice: dict[str, str], message_id: int) -> str:
    """A desktop notification for notify.js to show (``notice``: see ``notice_of``)."""
    return await render_template(
        "streams/desktop_notice.html", notice=notice, message_id=message_id
    )


async def render_people(people: RoomPeople) -> str:
    """A room's people list with who is online (replaced by its id), and its counts."""
    return await render_template("streams/people.html", people=people)


async def render_members(changed: Sequence[MemberPresence], people: RoomPeople) -> str:
    """Only the ``changed`` entries of ``people``'s list, each swapped by its id, and its
    counts."""
    return await render_template("streams/members.html", changed=changed, people=people)


async def render_presence_update(
    room_id: int, *, users: Collection[int] | None = None, since: datetime | None = None
) -> str:
    """The people list of ``room_id`` after ``users`` changed, or for a tab that saw it last
    ``since``: the whole list where it shows everyone. A room of more than
    PRESENCE_FULL_LIST_MAX members lists only its first PRESENCE_FULL_LIST_MAX by name, so
    its updates carry the counts and only the listed entries of ``users``, or the latest
    PRESENCE_CATCH_UP_MAX of those changed ``since``, each swapped by its id: a
    connect storm in a room of 10,000 sent every socket ~390 KB of entries of people its
    list had no room for (3.9 GB in all). A tab shows someone listed who joined after it
    loaded, or more changes than that while it was away (everyone back after a restart), on
    its next load.
    """
    people = await room_people(room_id, current_app.config["PRESENCE_FULL_LIST_MAX"])
    if people.complete:
        return await render_people(people)
    if users is not None:
        changed = [person for person in people.shown if person.user_id in users]
    elif since is not None:
        changed = _latest_changes(people.shown, since, current_app.config["PRESENCE_CATCH_UP_MAX"])
    else:
        return await render_people(people)
    return await render_members(changed, people)


def _latest_changes(
    people: Sequence[MemberPresence], since: datetime, latest: int
) -> list[MemberPresence]:
    """The ``latest`` of ``people`` whose presence changed at or after ``since``, by name."""
    changed = [p for p in people if p.last_seen is not None and p.last_seen >= since]
    changed.sort(key=attrgetter("last_seen"), reverse=True)
    return sorted(changed[:latest], key=attrgetter("username"))


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
