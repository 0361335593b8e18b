"""Counts an operator wants at a glance."""

from __future__ import annotations

from datetime import UTC, datetime

from chat_app.models.messages import Message
from chat_app.models.presence import LiveSocket, UserPresence
from chat_app.models.rooms import Room
from chat_app.models.users import AuthSession, User


async def counts() -> dict[str, int]:
    """Users, rooms, messages, sessions and live connections (every node's, from the table)."""
    return {
        "users": await User.all().count(),
        "active_users": await User.filter(is_active=True).count(),
        "admins": await User.filter(is_admin=True).count(),
        "online_users": await UserPresence.filter(is_online=True).count(),
        "rooms": await Room.all().count(),
        "archived_rooms": await Room.filter(archived_at__isnull=False).count(),
        "messages": await Message.all().count(),
        "sessions": await AuthSession.filter(expires_at__gt=datetime.now(UTC)).count(),
        "connections": await LiveSocket.all().count(),
    }
