"""Domain events. They carry ids only, so any broker can carry them and each node renders."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class MessagePosted:
    """A message was committed to a room."""

    room_id: int
    message_id: int


@dataclass(frozen=True, slots=True)
class SessionsRevoked:
    """A user's session (``session_token``) or all their sessions (None) were ended."""

    user_id: int
    session_token: str | None = None


Event = MessagePosted | SessionsRevoked

_KINDS: dict[str, type[Event]] = {
    "message_posted": MessagePosted,
    "sessions_revoked": SessionsRevoked,
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
