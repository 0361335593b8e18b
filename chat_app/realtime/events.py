"""Domain events. They carry ids only, so any broker can carry them and each node renders."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class RoomChanged:
    """Change number ``change`` of a room was committed (a post, edit, deletion or reaction).

    A node delivers every change of the room after the last one it delivered, up to and
    beyond this one (see models/changes.py): the event says when to look, the log says what.
    """

    room_id: int
    change: int


@dataclass(frozen=True, slots=True)
class SessionsRevoked:
    """A user's session (``session_token``) or all their sessions (None) were ended."""

    user_id: int
    session_token: str | None = None


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    """A user came online, went offline, or changed their status."""

    user_id: int


@dataclass(frozen=True, slots=True)
class TypingStarted:
    """A user is typing in a room (ephemeral: never stored, expires by itself)."""

    room_id: int
    user_id: int


@dataclass(frozen=True, slots=True)
class TypingStopped:
    """A user sent their message or left the room."""

    room_id: int
    user_id: int


@dataclass(frozen=True, slots=True)
class MembershipEnded:
    """A user left ``room_id`` or was removed from it: their sockets to it close at once."""

    room_id: int
    user_id: int
    removed: bool = False  # by someone else (the page says so), not by leaving


@dataclass(frozen=True, slots=True)
class MembershipStarted:
    """``user_id`` joined ``room_id``, was added to it, or is in a new conversation: their
    open tabs get its sidebar entry."""

    room_id: int
    user_id: int


@dataclass(frozen=True, slots=True)
class RoomArchived:
    """``room_id`` was archived: it leaves its members' sidebars (it stays readable)."""

    room_id: int


@dataclass(frozen=True, slots=True)
class ReadMoved:
    """``user_id`` has read ``room_id`` further: their tabs update its sidebar entry."""

    user_id: int
    room_id: int


Event = (
    RoomChanged
    | SessionsRevoked
    | PresenceChanged
    | TypingStarted
    | TypingStopped
    | MembershipEnded
    | MembershipStarted
    | RoomArchived
    | ReadMoved
)

_KINDS: dict[str, type[Event]] = {
    "room_changed": RoomChanged,
    "sessions_revoked": SessionsRevoked,
    "presence_changed": PresenceChanged,
    "typing_started": TypingStarted,
    "typing_stopped": TypingStopped,
    "membership_ended": MembershipEnded,
    "membership_started": MembershipStarted,
    "room_archived": RoomArchived,
    "read_moved": ReadMoved,
}
_NAMES = {cls: name for name, cls in _KINDS.items()}


def encode(event: Event) -> str:
    """Serialize an event for a broker that carries text."""
    return json.dumps({"kind": _NAMES[type(event)], **asdict(event)}, separators=(",", ":"))


def decode(text: str) -> Event:
    """The event ``encode`` produced; ValueError for anything else."""
    data: dict[str, Any] = json.loads(text)
    kind = _KINDS.get(data.pop("kind", None))
    if kind is None:
        raise ValueError(f"unknown event: {text[:100]!r}")
    return kind(**data)
