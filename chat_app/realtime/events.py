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


Event = MessagePosted

_KINDS: dict[str, type[Event]] = {"message_posted": MessagePosted}
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
